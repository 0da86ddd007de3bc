"""Scenario 3: the executor drains pre-produced jobs, null channel, EventLog on SQLite and PostgreSQL.

The jobs are produced straight to a fresh jobs topic (as the trigger would write them) before the
executor starts. Done = the EventLog holds one ``succeeded`` row per job (counted every 50 ms: Tansu's
watermarks cannot say when the lag is zero). Reported:

- ``jobs_per_s``: jobs / (last row's finished_at - first row's finished_at), the steady drain rate;
- ``to_assigned_s``: process start -> first partition assignment (interpreter start + group join);
- ``to_all_rows_s``: process start -> every row committed, i.e. the time to zero lag, join included.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.databases import EventLogReader, database
from bench.harness import watched
from bench.procfs import CpuMeter
from bench.report import ScenarioResult
from bench.services import Executor
from bench.stack import Stack
from bench.stats import rate
from bench.workload import produce_jobs

POLL_S = 0.05


def drain(
    stack: Stack,
    db_kind: str,
    jobs: int,
    executors: int,
    label: str,
    profile_dir: Path | None = None,
    unrecorded_sends: int = 0,
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, list[str]]]:
    """Run one drain; return its row, the executors' peak RSS records and profile summaries.
    ``unrecorded_sends``: the executors' AUTOMATION_MAX_UNRECORDED_SENDS (0: their default)."""
    name = f"{label}-{db_kind}-{executors}x" + (f"-u{unrecorded_sends}" if unrecorded_sends else "")
    topic = stack.topic(name)
    produce_jobs(stack.kafka_bootstrap, topic, jobs, prefix=f"{name}-{stack.run_id}")
    with database(db_kind, stack.postgres_admin_url, stack.work_dir, label) as db:
        reader = EventLogReader(db.url)
        procs = [
            Executor(
                stack,
                f"executor-{name}-{i}",
                topic,
                stack.group(name),
                db.url,
                max_unrecorded_sends=unrecorded_sends,
            )
            for i in range(executors)
        ]
        started = procs[0].started_at
        try:
            for i, proc in enumerate(procs):
                proc.profile(profile_dir / f"{name}-executor{i}.txt" if profile_dir else None)
            meter = CpuMeter(watched(stack, db, executors=[p.pid for p in procs]))
            assigned, done = _wait_done(procs, reader, jobs, meter, timeout_s=120 + jobs / 100)
            cpu = meter.stop()
            profiles = {f"{name} {p.name}": p.end_profile() for p in procs if profile_dir}
            for proc in procs:
                proc.stop()
            first, last = reader.finished_span()
            statuses = reader.rows_by_status()
        finally:
            for proc in procs:
                proc.stop()
            reader.close()
    row = {
        "db": db_kind,
        "executors": executors,
        "unrecorded_sends": unrecorded_sends or "default",
        "jobs": jobs,
        "succeeded_rows": statuses.get("succeeded", 0),
        "other_rows": sum(n for s, n in statuses.items() if s != "succeeded"),
        "jobs_per_s": rate(jobs, (last - first).total_seconds()),
        "to_assigned_s": round(assigned - started, 2),
        "to_all_rows_s": round(done - started, 2),
        "cpu_cores": cpu,
        "peak_rss_mib": "+".join(f"{p.peak_rss_mib:.0f}" for p in procs),
    }
    memory = [
        {"scenario": f"3/6 drain {db_kind} {executors}x", "process": p.name, "peak_rss_mib": p.peak_rss_mib}
        for p in procs
    ]
    return row, memory, profiles


def _wait_done(
    procs: list[Executor], reader: EventLogReader, jobs: int, meter: CpuMeter, timeout_s: float
) -> tuple[float, float]:
    """Poll until ``jobs`` succeeded rows exist; return when the first assignment and the last row were
    seen (monotonic). ``meter`` is started at the first assignment."""
    deadline = time.monotonic() + timeout_s
    assigned = None
    while True:
        now = time.monotonic()
        if assigned is None and any("partitions assigned" in p.log_text() for p in procs):
            assigned = now
            meter.start()
        statuses = reader.rows_by_status()
        if statuses.get("succeeded", 0) >= jobs and assigned is not None:
            return assigned, time.monotonic()
        if sum(statuses.values()) >= jobs:
            raise RuntimeError(f"the jobs did not all succeed: EventLog rows by status {statuses}")
        for proc in procs:
            proc.check_alive()
        if now > deadline:
            raise RuntimeError(f"drain incomplete after {timeout_s:.0f}s: rows by status {statuses}")
        time.sleep(POLL_S)


def run(
    stack: Stack, jobs: int, profile_dir: Path | None = None, raised_unrecorded: tuple[int, ...] = ()
) -> ScenarioResult:
    """Each database with the executor's defaults; then PostgreSQL with each ``raised_unrecorded`` bound."""
    result = ScenarioResult("3", f"Executor drain of {jobs:,} pre-produced jobs, null channel")
    runs = [("sqlite", 0), ("postgres", 0)] + [("postgres", n) for n in raised_unrecorded]
    for db_kind, unrecorded in runs:
        if db_kind == "postgres" and stack.postgres_admin_url is None:
            if unrecorded == 0:
                result.notes.append("postgres: skipped, no PostgreSQL server (set BENCH_POSTGRES_URL)")
            continue
        row, memory, profiles = drain(stack, db_kind, jobs, 1, "drain", profile_dir, unrecorded)
        result.rows.append(row)
        result.memory += memory
        result.profiles.update(profiles)
    result.notes += [
        "jobs_per_s: first -> last row's finished_at; to_all_rows_s: executor process start -> all rows "
        "committed (time to zero lag, group join included); rows counted every 50 ms",
        "cpu_cores: from the first partition assignment until all rows were seen",
        "unrecorded_sends: AUTOMATION_MAX_UNRECORDED_SENDS, the most sends whose sent marker is not yet in "
        "Redis (what a crash can repeat); default = EXECUTOR_CONCURRENCY (5)",
    ]
    return result
