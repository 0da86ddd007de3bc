"""Scenario 8: CPU cost per job at a paced rate, and the stack's idle cost.

One trigger and one executor (null channel: nothing is delivered, so the numbers are the pipeline's
own), EventLog on PostgreSQL (SQLite when there is none). First an IDLE window: the stack warmed up and
then left without traffic; CPU in cores per process. Then unary EnqueueAutomation calls, open loop at
``rate``/s; the window runs from the release of the generator until the poller saw every job's success
row, and each process's CPU seconds in it are divided by the jobs: CPU µs per job. ``above_idle`` takes
the idle cost out (the marginal cost of a job). The generator and the poller are measuring tools: shown,
not summed. With ``--profile`` the trigger and the executor are sampled with py-spy during the window.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

from bench.clients import ClientGroup
from bench.costs import CpuSeconds, eventlog_backends, per_job_us
from bench.databases import EventLogReader, database
from bench.harness import warm_up
from bench.poller import Poller
from bench.report import ScenarioResult, table
from bench.scenario_latency import _wait_rows
from bench.services import Executor, Trigger
from bench.stack import Stack
from bench.stages import breakdown
from bench.stats import latency_ms, per_second

# After the warm-up rows, before the idle window: the executor parks an idle jobs topic only once it has
# been quiet for a second (consumer_loop.py), and the idle target is the quiet stack of `make run`.
SETTLE_S = 5.0
PIPELINE = ("trigger", "executor", "tansu", "redis", "postgres")
IDLE_TARGET_GROUPS = ("trigger", "executor", "tansu")  # issue #16: <= 0.05 core for broker + services


def run(
    stack: Stack, rate: float, duration_s: float, idle_s: float, profile_dir: Path | None = None
) -> ScenarioResult:
    db_kind = "postgres" if stack.postgres_admin_url else "sqlite"
    result = ScenarioResult(
        "8", f"CPU per job at {rate:g} jobs/s ({duration_s:g}s, EventLog on {db_kind}) and idle cost"
    )
    topic = stack.topic("cost")
    with database(db_kind, stack.postgres_admin_url, stack.work_dir, "cost") as db, ExitStack() as cleanup:
        reader = EventLogReader(db.url)
        cleanup.callback(reader.close)
        # the executor first: its group join runs while the trigger starts
        executor = cleanup.enter_context(Executor(stack, "executor-cost", topic, stack.group("cost"), db.url))
        trigger = cleanup.enter_context(Trigger(stack, "trigger-cost", topic))
        executor.wait_assigned()
        _wait_rows(reader, len(warm_up(trigger.address, f"c{stack.run_id}w")), timeout_s=60)
        groups = {
            "trigger": [trigger.pid],
            "executor": [executor.pid],
            "tansu": [stack.embedded_pid("tansu")],
            "redis": [stack.redis_pid],
            "postgres": eventlog_backends(db) if db.kind == "postgres" else [],
        }
        settle_s = min(SETTLE_S, idle_s)
        time.sleep(settle_s)
        idle_meter = CpuSeconds(groups)
        idle_meter.start()
        time.sleep(idle_s)
        idle_used, idle_window = idle_meter.stop()
        idle = {name: used / idle_window for name, used in idle_used.items()}

        poller = Poller(db, start_id=reader.max_id())
        cleanup.callback(poller.close)
        kwargs = {
            "address": trigger.address,
            "rate": rate,
            "duration_s": duration_s,
            "prefix": f"c{stack.run_id}",
        }
        group = ClientGroup("paced", [kwargs])
        cleanup.callback(group.close)
        for service in (trigger, executor):
            service.profile(profile_dir / f"cost-{service.name}.txt" if profile_dir else None)
        if profile_dir:
            time.sleep(1.0)  # py-spy attaches
        meter = CpuSeconds({**groups, "poller": [poller.pid]})
        group.go()
        meter.start()
        [out] = group.results(duration_s + 60)
        sends = out["sends"]
        poller.wait_seen(len(sends), timeout_s=60)
        used, window = meter.stop()
        used["generator"] = out["cpu_s"]  # measured by itself: it has exited by now
        polled = poller.stop()
        noop = _noop_floor(trigger, groups["trigger"], rate, duration_s, f"c{stack.run_id}n")
        result.profiles = {f"cost {s.name}": s.end_profile() for s in (trigger, executor) if profile_dir}
        trigger.stop()  # reads peak RSS first
        executor.stop()

    seen = polled["seen"]
    jobs = len(sends)
    e2e = [seen[job_id] - scheduled for job_id, scheduled, _, _ in sends if job_id in seen]
    result.timeline = per_second(sends, seen, min((scheduled for _, scheduled, _, _ in sends), default=0.0))
    for name in (*PIPELINE, "generator", "poller", "machine"):
        if name in used or name in idle:
            result.rows.append(_row(name, idle.get(name), used.get(name), window, jobs))
    pipeline = [n for n in PIPELINE if n in used]
    result.rows.insert(
        len(pipeline),
        _row(
            "SUM (" + "+".join(pipeline) + ")",
            sum(idle.get(n, 0.0) for n in pipeline),
            sum(used[n] for n in pipeline),
            window,
            jobs,
        ),
    )
    idle_target = sum(idle.get(n, 0.0) for n in IDLE_TARGET_GROUPS)
    result.details = {
        "rate_per_s": rate,
        "jobs": jobs,
        "seen": len(e2e),
        "window_s": round(window, 3),
        "idle_s": round(idle_window, 3),
        "idle_cores": {k: round(v, 4) for k, v in idle.items()},
        "idle_broker_and_services_cores": round(idle_target, 4),
        "cpu_us_per_job_sum": per_job_us(sum(used[n] for n in pipeline), jobs),
        "noop_floor": noop,
        "e2e": {"rate_per_s": rate, "jobs": len(e2e), **latency_ms(e2e)},
        "peak_rss_mib": {"trigger": trigger.peak_rss_mib, "executor": executor.peak_rss_mib},
    }
    if profile_dir:
        for service, kind in ((trigger, "trigger"), (executor, "executor")):
            stages = breakdown(
                profile_dir / f"cost-{service.name}.txt", kind, jobs, per_job_us(used[kind], jobs)
            )
            result.details.setdefault("stages", {})[kind] = stages
            result.profiles[f"cost {service.name}: GIL time per job by stage (bench/stages.py)"] = table(
                stages
            )
    result.memory = [
        {"scenario": "8 cost", "process": p.name, "peak_rss_mib": p.peak_rss_mib} for p in (trigger, executor)
    ]
    e2e_ms = result.details["e2e"]
    result.notes += [
        f"{jobs} jobs accepted of {int(rate * duration_s)} offered, {len(e2e)} success rows seen, "
        f"errors {out['errors'] or 0}; window {window:.2f}s (release of the generator -> last row seen)",
        f"end to end at {rate:g}/s: p50 {e2e_ms['p50_ms']} ms, p99 {e2e_ms['p99_ms']} ms, "
        f"max {e2e_ms['max_ms']} ms (scheduled send -> success row visible, as scenario 4); p99 per second "
        "of the run (ms), the first second right after the IDLE window: "
        + " ".join(f"{w['p99_ms']:.0f}" for w in result.timeline),
        f"floor: the no-op Health.Check paced at {rate:g}/s on the same trigger costs it "
        f"{noop['trigger_us_per_call']} us per call (and the generator {noop['generator_us_per_call']}): "
        "the gRPC layer's own share of the trigger's cost per job",
        f"IDLE ({idle_window:.1f}s without traffic, from {settle_s:g}s after the warm-up): "
        "broker + trigger + executor "
        f"{idle_target:.3f} cores (issue #16 target <= 0.05)",
        "channel: null (nothing delivered); postgres = the backends serving the bench database except "
        "the poller's; redis is the whole server (other users of it count too)",
        f"peak RSS: trigger {trigger.peak_rss_mib} MiB, executor {executor.peak_rss_mib} MiB",
    ]
    return result


def _row(name: str, idle_cores: float | None, used_s: float | None, window_s: float, jobs: int) -> dict:
    return {
        "process": name,
        "idle_cores": None if idle_cores is None else round(idle_cores, 3),
        "loaded_cores": None if used_s is None else round(used_s / window_s, 3),
        "cpu_us_per_job": None if used_s is None or name == "machine" else per_job_us(used_s, jobs),
        "above_idle_us_per_job": (
            None
            if used_s is None or idle_cores is None or name == "machine"
            else per_job_us(max(used_s - idle_cores * window_s, 0.0), jobs)
        ),
    }


def _noop_floor(trigger: Trigger, pids: list[int], rate: float, duration_s: float, prefix: str) -> dict:
    """The no-op Health.Check paced like the jobs, on the same trigger: its CPU per call is what the
    gRPC layer alone costs at this rate (the floor under the trigger's cost per job)."""
    group = ClientGroup(
        "paced",
        [
            {
                "address": trigger.address,
                "rate": rate,
                "duration_s": duration_s,
                "prefix": prefix,
                "noop": True,
            }
        ],
    )
    try:
        meter = CpuSeconds({"trigger": pids})
        group.go()
        meter.start()
        [out] = group.results(duration_s + 60)
        used, window = meter.stop()
    finally:
        group.close()
    calls = len(out["sends"])
    return {
        "calls": calls,
        "errors": out["errors"],
        "trigger_us_per_call": per_job_us(used["trigger"], calls),
        "generator_us_per_call": per_job_us(out["cpu_s"], calls),
    }
