"""Scenario 4: end-to-end latency, enqueue call -> EventLog success row committed, at a paced rate.

Open loop: call n is due at start + n/rate, and every latency is measured from that scheduled time,
so a stall of the sender, the trigger or the executor shows up instead of slowing the sender down.
The row's commit is observed by a separate poller process (bench/poller.py) querying the EventLog
every ~1 ms; its achieved poll interval is reported as the resolution of the measurement.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

from bench.databases import EventLogReader, database
from bench.harness import drive, warm_up, watched
from bench.poller import Poller
from bench.report import ScenarioResult
from bench.services import Executor, Trigger
from bench.stack import Stack
from bench.stats import latency_ms, per_second, rate


def _wait_rows(reader: EventLogReader, count: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while reader.succeeded() < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"warm-up: {reader.succeeded()}/{count} rows after {timeout_s}s")
        time.sleep(0.05)


def run(stack: Stack, per_s: float, duration_s: float, profile_dir: Path | None = None) -> ScenarioResult:
    db_kind = "postgres" if stack.postgres_admin_url else "sqlite"
    result = ScenarioResult(
        "4", f"End-to-end latency at {per_s:g} jobs/s for {duration_s:g}s, EventLog on {db_kind}"
    )
    topic = stack.topic("latency")
    with database(db_kind, stack.postgres_admin_url, stack.work_dir, "latency") as db, ExitStack() as cleanup:
        reader = EventLogReader(db.url)
        cleanup.callback(reader.close)
        trigger = cleanup.enter_context(Trigger(stack, "trigger-latency", topic))
        executor = cleanup.enter_context(
            Executor(stack, "executor-latency", topic, stack.group("latency"), db.url)
        )
        executor.wait_assigned()
        _wait_rows(reader, len(warm_up(trigger.address, f"l{stack.run_id}w")), timeout_s=60)
        poller = Poller(db, start_id=reader.max_id())
        cleanup.callback(poller.close)
        kwargs = {
            "address": trigger.address,
            "rate": per_s,
            "duration_s": duration_s,
            "prefix": f"l{stack.run_id}",
        }
        watch = watched(stack, db, trigger=[trigger.pid], executor=[executor.pid], poller=[poller.pid])
        run_ = drive("paced", [kwargs], watch, duration_s + 60, profile_dir, "latency")
        sends, errors = run_.results[0]["sends"], run_.results[0]["errors"]
        poller.wait_seen(len(sends), timeout_s=60)
        polled = poller.stop()
        trigger.stop()  # reads peak RSS first
        executor.stop()
    seen = polled["seen"]
    e2e = [seen[job_id] - scheduled for job_id, scheduled, _, _ in sends if job_id in seen]
    calls = [answered - scheduled for _, scheduled, _, answered in sends]
    lag = [sent - scheduled for _, scheduled, sent, _ in sends]
    offered = int(per_s * duration_s)
    result.rows = [
        {"measure": "scheduled -> success row visible (end to end)", "jobs": len(e2e), **latency_ms(e2e)},
        {"measure": "scheduled -> enqueue call answered", "jobs": len(calls), **latency_ms(calls)},
        {"measure": "scheduled -> call sent (generator lag)", "jobs": len(lag), **latency_ms(lag)},
    ]
    result.timeline = per_second(sends, seen, run_.started)
    result.memory = [
        {"scenario": "4 latency", "process": p.name, "peak_rss_mib": p.peak_rss_mib}
        for p in (trigger, executor)
    ]
    result.notes += [
        f"offered {offered} calls ({per_s:g}/s); accepted {len(sends)}, errors {errors or 0}; "
        f"{len(sends) - len(e2e)} accepted jobs never seen in the EventLog",
        f"achieved rate: {rate(len(sends), run_.results[0]['elapsed'])}/s accepted over the sending window",
        f"polling resolution: one EventLog query every {polled['interval_p50_ms']} ms (p50), "
        f"p99 {polled['interval_p99_ms']} ms, max {polled['interval_max_ms']} ms ({polled['polls']} polls); "
        "a row's visibility time is the end of the first poll that returned it",
        f"cpu_cores during the paced run: {run_.cpu_cores}",
        "executor defaults: batch up to 500 messages, batch wait 50 ms, 5 booking threads",
        "end-to-end p99 per second of the run (ms): "
        + " ".join(f"{w['p99_ms']:.0f}" for w in result.timeline),
    ]
    result.profiles.update(run_.profiles)
    return result
