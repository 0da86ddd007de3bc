"""Crash recovery, measured (issue #13): jobs drained to a slow webhook while executors are killed -9.

2,000 jobs (by default) are produced straight to a fresh 6-partition jobs topic; executor processes drain
them to a real HTTP receiver answering every POST after 40 ms; each time a further fifth of the jobs
reached the receiver, an executor is killed with SIGKILL and a new one started at once. With
``--executors 2`` two run in one group and one of them is killed each time (the other survives and takes
over its partitions). At the end (every job has its ``succeeded`` row and the group committed past every
message) it prints:

- EventLog rows per key (max) and the total of ``skipped_duplicate`` rows (rows by status);
- deliveries per key (max) and repeats (requests beyond one per job);
- the longest gap between two deliveries, overall and within one partition (with two executors, the
  dead one's partitions wait for the survivor), and for each restart how long until the next delivery;
- the drain time (first executor start -> last success row).

Backends as for `make bench` (bench/README.md: BENCH_REDIS_URL, BENCH_POSTGRES_URL, BENCH_KAFKA_BOOTSTRAP;
an embedded Tansu by default). Run:

    .venv/bin/python -m bench.crash_drain                       # 2,000 jobs, 4 kills, PostgreSQL
    .venv/bin/python -m bench.crash_drain --executors 2         # two executors, one killed each time
    .venv/bin/python -m bench.crash_drain --jobs 300 --kills 2  # quicker
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.databases import EventLogReader, database
from bench.stack import start_stack
from shared.config import Settings
from shared.db.models import EventLog
from tests.support.automations import settings_file
from tests.support.http_receiver import HttpReceiver
from tests.support.jobs import committed_lag, make_job, produce_jobs
from tests.support.processes import ExecutorProcess

SESSION_TIMEOUT_MS = 6000  # Tansu: a group join takes about half of it


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=4)
    parser.add_argument("--executors", type=int, default=1, choices=(1, 2))
    parser.add_argument("--bookings", type=int, default=200, help="jobs are spread over this many bookings")
    parser.add_argument("--webhook-ms", type=float, default=40.0)
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument(
        "--lease-s", type=float, default=None, help="AUTOMATION_DEDUP_LEASE_S (default: its default)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers to this file")
    args = parser.parse_args()
    work_dir = Path(tempfile.mkdtemp(prefix="crash-drain-"))
    stack = start_stack(work_dir)
    receiver = HttpReceiver()
    receiver.delay_s = args.webhook_ms / 1000
    try:
        with database(args.db, stack.postgres_admin_url, work_dir, "crash") as db:
            result = run(args, stack, db.url, receiver, work_dir)
    finally:
        receiver.close()
        stack.close()
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(f"executor logs: {work_dir}")


def run(args: argparse.Namespace, stack, database_url: str, receiver: HttpReceiver, work_dir: Path) -> dict:
    topic = stack.topic(f"crash-{args.executors}x")
    overrides = {} if args.lease_s is None else {"dedup_lease_s": args.lease_s}
    settings = Settings(
        kafka_bootstrap_servers=stack.kafka_bootstrap,
        redis_url=stack.redis_url,
        database_url=database_url,
        var_dir=work_dir,
        jobs_topic=topic,
        consumer_group=stack.group(f"crash-{args.executors}x"),
        session_timeout_ms=SESSION_TIMEOUT_MS,
        default_channel="webhook",
        webhook_url=receiver.url,
        automations_file=settings_file(work_dir / "automations.toml", quiet_hours=False),
        dedup_ttl_s=86400,
        jobs_topic_retention_ms=86400 * 1000,
        **overrides,
    )
    jobs = [make_job(f"crash-{stack.run_id}-{i % args.bookings}") for i in range(args.jobs)]
    produce_jobs(settings, jobs)
    started = time.time()
    executors = [ExecutorProcess(settings, work_dir, **overrides) for _ in range(args.executors)]
    if args.executors > 1:
        for executor in executors:
            executor.wait_ready(60)
    restarts: list[float] = []
    try:
        for k in range(1, args.kills + 1):
            _wait(lambda k=k: _seen(receiver) >= k * args.jobs // (args.kills + 1), 600, "deliveries")
            victim = executors.pop(0)
            victim.kill()
            restarts.append(time.time())
            executors.append(ExecutorProcess(settings, work_dir, **overrides))
            print(f"kill {k}: {victim.name} after {_seen(receiver)} jobs seen", flush=True)
        reader = EventLogReader(database_url)
        _wait(lambda: reader.succeeded() >= args.jobs, 900, "a succeeded row per job")
        _wait(lambda: committed_lag(settings) == 0, 120, "offsets committed past every job")
        _, last_row = reader.finished_span()
        reader.close()
    finally:
        for executor in executors:
            executor.stop()
    return measure(args, database_url, receiver, started, last_row.timestamp(), restarts)


def measure(
    args, database_url: str, receiver: HttpReceiver, started: float, last_row: float, restarts
) -> dict:
    from sqlalchemy import create_engine, select

    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(EventLog.idempotency_key, EventLog.status, EventLog.job_id, EventLog.kafka_partition)
        ).all()
    engine.dispose()
    per_key = Counter(row[0] for row in rows)
    by_status = Counter(row[1] for row in rows)
    partition_of = {job_id: partition for _, _, job_id, partition in rows}
    complete = [r for r in receiver.requests if isinstance(r.body, dict)]  # a kill can cut a POST short
    sends = Counter(r.body["job_id"] for r in complete)
    times = sorted(r.received_at for r in complete)
    per_partition: dict[int, list[float]] = {}
    for r in complete:
        per_partition.setdefault(partition_of[r.body["job_id"]], []).append(r.received_at)
    resumed = [min((t for t in times if t > r), default=float("nan")) - r for r in restarts]
    return {
        "jobs": args.jobs,
        "executors": args.executors,
        "kills": args.kills,
        "webhook_ms": args.webhook_ms,
        "db": args.db,
        "rows_by_status": dict(by_status),
        "max_rows_per_key": max(per_key.values()),
        "skipped_duplicate_rows": by_status.get("skipped_duplicate", 0),
        "max_deliveries_per_key": max(sends.values()),
        "repeats": len(complete) - len(sends),
        "longest_delivery_gap_s": round(_longest_gap(times), 2),
        "longest_gap_in_a_partition_s": round(
            max(_longest_gap(sorted(ts)) for ts in per_partition.values()), 2
        ),
        "delivery_resumed_after_restart_s": [round(s, 2) for s in resumed],
        "drain_s": round(last_row - started, 1),
    }


def _longest_gap(times: list[float]) -> float:
    return max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)


def _seen(receiver: HttpReceiver) -> int:
    return len({r.body["job_id"] for r in receiver.requests if isinstance(r.body, dict)})


def _wait(probe, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not probe():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} after {timeout_s} s")
        time.sleep(0.1)


if __name__ == "__main__":
    main()
