"""Scenario 7: side by side with the design we replace (issue #16), in the same run, on the same
backends (Redis, PostgreSQL), and issue #16's targets.

The BullMQ side (bench/bullmq/bench.mjs, BullMQ 5 on Node): the seed's job options (3 attempts,
exponential backoff from 2 s, jobId = idempotency key, removeOnComplete 100, removeOnFail 50) and a
worker with concurrency 5 writing one EventLog row per job into its own bench database (the same
``event_log`` table and indexes as ours); the channel is null on both sides. Our numbers are not
measured again: they come from scenarios 1, 2, 3, 4, 5 and 8 of the same run (choosing 7 runs them).
BullMQ's keys live under ``bench-<run>-bullmq:`` and are removed at the end (``obliterate``); Redis is
never flushed. Without node (>= 20) and npm the BullMQ side is skipped, with a message.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

from bench import bullmq_phases as phases
from bench.bullmq_runner import ensure_installed, job_template, node_missing, run_to_end
from bench.databases import postgres_database
from bench.report import ScenarioResult
from bench.stack import Stack

QUEUES = ["add", "bulk", "drain", "e2e"]
PRODUCERS = 32  # as scenario 1's callers


def run(stack: Stack, sizes: dict, done: list[ScenarioResult]) -> ScenarioResult:
    result = ScenarioResult("7", "Side by side with BullMQ 5 on the same Redis and PostgreSQL")
    ours = _ours(done, sizes)
    theirs = _measure_bullmq(stack, sizes, result)
    result.details = {"bullmq": theirs, "ours": ours}
    result.rows = _rows(theirs, ours, sizes)
    result.notes += [
        "ratio = ours / bullmq; for ms rows lower is better; 'target' is issue #16's, for ours",
        "ours: add = scenario 1 (32 callers, 1 trigger), batch = scenario 2 (1 trigger), drain = scenario 3 "
        "(PostgreSQL, default AUTOMATION_MAX_UNRECORDED_SENDS), e2e = scenario 8 (cost rate) and 4, "
        "CPU/idle = scenario 8, RSS = scenario 5; '-' where that scenario did not run or was skipped",
        "bullmq CPU per job: producer + worker + Redis + PostgreSQL backends (Redis is the queue); "
        "ours: trigger + executor + Tansu + Redis + PostgreSQL backends",
    ]
    return result


def _measure_bullmq(stack: Stack, sizes: dict, result: ScenarioResult) -> dict[str, Any]:
    if why := node_missing():
        result.status = "skipped"
        result.notes.append(f"BullMQ side skipped: {why} (install Node 20+ and npm)")
        return {}
    try:
        took = ensure_installed(sizes["npm_timeout_s"])
    except (subprocess.TimeoutExpired, RuntimeError) as exc:
        result.status = "skipped"
        result.notes.append(f"BullMQ side skipped: npm ci in bench/bullmq did not finish: {exc}"[:500])
        return {}
    if took:
        result.notes.append(f"npm ci (bench/bullmq/node_modules) took {took:.1f}s, before the measurements")
    base = {
        "redisUrl": stack.redis_url,
        "prefix": f"bench-{stack.run_id}-bullmq",
        "template": job_template(),
        "bookingPrefix": f"q{stack.run_id}",
    }
    log, redis_pid = stack.work_dir / "bullmq.log", stack.redis_pid
    theirs: dict[str, Any] = {}
    try:
        theirs["add"] = phases.enqueue(
            base, "add", log, redis_pid, concurrency=PRODUCERS, durationS=sizes["unary_s"]
        )
        theirs["bulk"] = phases.enqueue(
            base,
            "bulk",
            log,
            redis_pid,
            concurrency=sizes["batch_callers"],
            batchSize=sizes["bullmq_bulk_items"],
            durationS=sizes["batch_s"],
        )
        if stack.postgres_admin_url is None:
            result.notes.append("BullMQ drain and end to end skipped: no PostgreSQL (set BENCH_POSTGRES_URL)")
            return theirs
        plan = dict([(sizes["cost_rate"], sizes["cost_s"]), (sizes["latency_rate"], sizes["latency_s"])])
        with postgres_database(stack.postgres_admin_url, "bullmq") as db:
            theirs["drain"] = phases.drain(base, db, sizes["drain_jobs"], log, redis_pid)  # on the empty db
            rows = phases.end_to_end(base, db, sorted(plan.items()), log, redis_pid)
        theirs["e2e"] = {row["rate_per_s"]: row for row in rows}
    finally:
        t0 = time.monotonic()
        run_to_end({**base, "mode": "obliterate", "queues": QUEUES}, log, timeout_s=300)
        result.notes.append(f"BullMQ keys removed (obliterate) in {time.monotonic() - t0:.1f}s")
    result.notes.append(f"bullmq phases (JSON 'details' has everything): {_brief(theirs)}")
    return theirs


def _brief(theirs: dict[str, Any]) -> str:
    parts = [
        f"{name} p50 {theirs[name]['p50_ms']} ms cpu {theirs[name]['cpu_cores']}"
        for name in ("add", "bulk")
        if name in theirs
    ]
    if "drain" in theirs:
        parts.append(
            f"drain to all rows {theirs['drain']['to_all_rows_s']}s cpu {theirs['drain']['cpu_cores']}"
        )
    return "; ".join(parts)


def _ours(done: list[ScenarioResult], sizes: dict) -> dict[str, Any]:
    """The numbers of our side, from the scenarios of this run that measured them."""
    by_key = {r.key: r for r in done if r.status == "ok"}
    ours: dict[str, Any] = {}
    if s1 := by_key.get("1"):
        for row in s1.rows:
            if row["triggers"] == 1 and row["callers"] == PRODUCERS:
                ours["noop" if row["rpc"].startswith("Health") else "unary"] = row["accepted_per_s"]
    if s2 := by_key.get("2"):
        ours["batch"] = next((r["accepted_jobs_per_s"] for r in s2.rows if r["triggers"] == 1), None)
    if s3 := by_key.get("3"):
        pg = [r for r in s3.rows if r["db"] == "postgres" and r["unrecorded_sends"] == "default"]
        ours["drain"] = pg[0]["jobs_per_s"] if pg else None
    e2e: dict[float, dict] = {}
    if (s4 := by_key.get("4")) and "postgres" in s4.title:
        e2e[sizes["latency_rate"]] = {k: s4.rows[0][k] for k in ("p50_ms", "p99_ms")}
    if s8 := by_key.get("8"):
        e2e[s8.details["rate_per_s"]] = {k: s8.details["e2e"][k] for k in ("p50_ms", "p99_ms")}
        ours["cpu_us_per_job"] = s8.details["cpu_us_per_job_sum"]
        ours["idle_cores"] = s8.details["idle_broker_and_services_cores"]
        ours["noop_us_per_call"] = s8.details["noop_floor"]["trigger_us_per_call"]
    ours["e2e"] = e2e
    if s5 := by_key.get("5"):
        ours["peak_rss_mib"] = max((r["peak_rss_mib"] or 0 for r in s5.rows), default=None)
    return ours


def _row(measure: str, unit: str, bullmq: Any, ours: Any, target: str = "", met: bool | None = None) -> dict:
    ratio = (
        round(ours / bullmq, 2)
        if isinstance(ours, int | float) and isinstance(bullmq, int | float) and bullmq
        else None
    )
    verdict = None if met is None else "yes" if met else "NO"
    return {
        "measure": measure,
        "unit": unit,
        "bullmq": bullmq,
        "ours": ours,
        "ratio": ratio,
        "target": target,
        "met": verdict,
    }


def _at_least(value: Any, bound: float) -> bool | None:
    return None if not isinstance(value, int | float) else value >= bound


def _at_most(value: Any, bound: float) -> bool | None:
    return None if not isinstance(value, int | float) else value <= bound


def _rows(theirs: dict[str, Any], ours: dict[str, Any], sizes: dict) -> list[dict]:
    get = lambda phase, key: theirs.get(phase, {}).get(key)  # noqa: E731
    batch_ratio = (
        ours.get("batch") / get("bulk", "jobs_per_s")
        if ours.get("batch") and get("bulk", "jobs_per_s")
        else None
    )
    drain_ratio = (
        ours.get("drain") / get("drain", "jobs_per_s")
        if ours.get("drain") and get("drain", "jobs_per_s")
        else None
    )
    noop_ratio = round(ours["unary"] / ours["noop"], 2) if ours.get("unary") and ours.get("noop") else None
    items = sizes["bullmq_bulk_items"]
    rows = [
        _row(
            f"one job a call: add() x{PRODUCERS} | unary x{PRODUCERS} callers",
            "jobs/s",
            get("add", "jobs_per_s"),
            ours.get("unary"),
        ),
        _row(
            "unary EnqueueAutomation / no-op Health.Check (ours)",
            "ratio",
            None,
            noop_ratio,
            ">= 0.70",
            _at_least(noop_ratio, 0.70),
        ),
        _row(
            f"batch: addBulk({items}) | EnqueueAutomations({sizes['batch_items']}), 1 trigger",
            "jobs/s",
            get("bulk", "jobs_per_s"),
            ours.get("batch"),
            ">= 1.0x",
            _at_least(batch_ratio, 1.0),
        ),
        _row(
            "drain, EventLog on PostgreSQL: worker (concurrency 5) | executor",
            "jobs/s",
            get("drain", "jobs_per_s"),
            ours.get("drain"),
            ">= 2.0x",
            _at_least(drain_ratio, 2.0),
        ),
    ]
    bounds = {sizes["cost_rate"]: 30.0, sizes["latency_rate"]: 100.0}
    for per_s in sorted(set(bounds) | set(ours["e2e"]) | set(theirs.get("e2e", {}))):
        mine, other = ours["e2e"].get(per_s, {}), theirs.get("e2e", {}).get(per_s, {})
        rows.append(_row(f"end to end at {per_s:g}/s, p50", "ms", other.get("p50_ms"), mine.get("p50_ms")))
        bound = bounds.get(per_s)
        target = f"<= {bound:g} ms" if bound and per_s in (200.0, 500.0) else ""
        met = _at_most(mine.get("p99_ms"), bound) if target else None
        rows.append(
            _row(
                f"end to end at {per_s:g}/s, p99", "ms", other.get("p99_ms"), mine.get("p99_ms"), target, met
            )
        )
    cost_rate = sizes["cost_rate"]
    bullmq_cpu = theirs.get("e2e", {}).get(cost_rate, {}).get("cpu_us_per_job")
    rows += [
        _row(
            f"CPU per job at {cost_rate:g}/s, summed over processes",
            "us",
            bullmq_cpu,
            ours.get("cpu_us_per_job"),
            "<= 1000 us",
            _at_most(ours.get("cpu_us_per_job"), 1000),
        ),
        _row(
            f"of which the floor: no-op Health.Check at {cost_rate:g}/s, trigger CPU per call (ours)",
            "us",
            None,
            ours.get("noop_us_per_call"),
        ),
        _row(
            "idle: broker + trigger + executor (ours)",
            "cores",
            None,
            ours.get("idle_cores"),
            "<= 0.05",
            _at_most(ours.get("idle_cores"), 0.05),
        ),
        _row(
            "peak RSS of a service process, max (ours)",
            "MiB",
            None,
            ours.get("peak_rss_mib"),
            "<= 150",
            _at_most(ours.get("peak_rss_mib"), 150),
        ),
    ]
    return rows
