"""The measurements of scenario 7 on the BullMQ side, each on its own queue under the run's key prefix.

- ``enqueue``: ``add`` one at a time (``mode="add"``) or ``addBulk`` (``mode="bulk"``), closed loop;
- ``drain``: jobs added before the worker starts, then drained by the worker (concurrency 5, one
  EventLog row per job); rate = jobs / (last row's finished_at - first row's), as scenario 3;
- ``end_to_end``: a worker running, a producer adding at a paced rate (open loop); latency from the
  scheduled add to the success row seen by the same poller as scenario 4.

CPU per process group is metered over each window (``node`` = the producer, ``worker``, ``redis`` and
``postgres``, the backends of the bench database other than the poller's).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.bullmq_runner import NodeScript, node_postgres_url, run_to_end
from bench.costs import CpuSeconds, eventlog_backends, per_job_us
from bench.databases import Database, EventLogReader
from bench.poller import Poller
from bench.stats import latency_ms, rate

POLL_S = 0.05
LOOKBACK_IDS = 200  # far more than the worker's rows in flight (concurrency 5)


def _cores(used: dict[str, float], window_s: float) -> dict[str, float]:
    return {name: round(seconds / window_s, 2) for name, seconds in used.items()}


def enqueue(base: dict[str, Any], mode: str, log: Path, redis_pid: int | None, **fields: Any) -> dict:
    """``add`` (``concurrency`` producers) or ``bulk`` (``concurrency`` callers x ``batchSize``)."""
    config = {**base, "mode": mode, "queue": mode, **fields}
    with NodeScript(config, log) as script:
        meter = CpuSeconds({"node": [script.pid], "redis": [redis_pid]})
        script.go()
        meter.start()
        out = script.result(fields["durationS"] + 60)
        used, window = meter.stop()
        used["node"] = out["cpu_s"]  # measured by itself: it has exited by now
    return {
        "accepted": out["accepted"],
        "errors": out["errors"],
        "jobs_per_s": rate(out["accepted"], out["elapsed"]),
        **latency_ms(out["latencies"]),
        "cpu_cores": _cores(used, window),
    }


def drain(base: dict[str, Any], db: Database, jobs: int, log: Path, redis_pid: int | None) -> dict:
    """Add ``jobs`` jobs, then start the worker and wait for every EventLog row; ``db`` must be empty."""
    config = {**base, "queue": "drain", "bookingPrefix": f"{base['bookingPrefix']}d"}
    run_to_end({**config, "mode": "fill", "count": jobs}, log, timeout_s=60 + jobs / 100)
    reader = EventLogReader(db.url)
    try:
        with NodeScript({**config, "mode": "worker", "pgUrl": node_postgres_url(db.url)}, log) as worker:
            meter = CpuSeconds(
                {"worker": [worker.pid], "redis": [redis_pid], "postgres": eventlog_backends(db)}
            )
            started = worker.go()
            meter.start()
            deadline = started + 120 + jobs / 100
            while (succeeded := reader.succeeded()) < jobs:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"BullMQ drain incomplete: {succeeded}/{jobs} rows")
                worker.check_alive()
                time.sleep(POLL_S)
            done = time.monotonic()
            used, window = meter.stop()
            counts = worker.stop()
        first, last = reader.finished_span()
        statuses = reader.rows_by_status()
    finally:
        reader.close()
    return {
        "jobs": jobs,
        "succeeded_rows": statuses.get("succeeded", 0),
        "failed_jobs": counts["failed"],
        "jobs_per_s": rate(jobs, (last - first).total_seconds()),
        "to_all_rows_s": round(done - started, 2),
        "cpu_cores": _cores(used, window),
    }


def end_to_end(
    base: dict[str, Any], db: Database, plan: list[tuple[float, float]], log: Path, redis_pid: int | None
) -> list[dict]:
    """One worker; for each (rate, seconds) of ``plan`` a paced producer; latency from the scheduled add
    to the success row visible."""
    config = {**base, "queue": "e2e"}
    reader = EventLogReader(db.url)
    rows = []
    try:
        with NodeScript({**config, "mode": "worker", "pgUrl": node_postgres_url(db.url)}, log) as worker:
            worker.go()
            # the worker's first jobs open its connections (as scenario 4's warm-up calls)
            warm, prefix = 20, base["bookingPrefix"]
            expected = reader.succeeded() + warm
            run_to_end({**config, "mode": "fill", "count": warm, "bookingPrefix": f"{prefix}w"}, log, 60)
            while reader.succeeded() < expected:
                worker.check_alive()
                time.sleep(POLL_S)
            for per_s, duration_s in plan:
                rows.append(_paced(config, db, reader, worker, per_s, duration_s, log, redis_pid))
            worker.stop()
    finally:
        reader.close()
    return rows


def _paced(
    config: dict[str, Any],
    db: Database,
    reader: EventLogReader,
    worker: NodeScript,
    per_s: float,
    duration_s: float,
    log: Path,
    redis_pid: int | None,
) -> dict:
    # the worker commits each row on its own, on up to 5 connections: ids become visible out of order
    poller = Poller(db, start_id=reader.max_id(), lookback_ids=LOOKBACK_IDS)
    try:
        paced = {**config, "mode": "paced", "rate": per_s, "durationS": duration_s}
        paced["bookingPrefix"] = f"{config['bookingPrefix']}r{per_s:g}"
        with NodeScript(paced, log) as producer:
            groups = {"node": [producer.pid], "worker": [worker.pid], "redis": [redis_pid]}
            meter = CpuSeconds({**groups, "postgres": eventlog_backends(db)})
            producer.go()
            meter.start()
            out = producer.result(duration_s + 60)
            poller.wait_seen(len(out["sends"]), timeout_s=60)
            used, window = meter.stop()
            used["node"] = out["cpu_s"]  # measured by itself: it has exited by now
        polled = poller.stop()
    finally:
        poller.close()
    seen = polled["seen"]
    e2e = [seen[job_id] - scheduled for job_id, scheduled, _, _ in out["sends"] if job_id in seen]
    jobs = len(out["sends"])
    return {
        "rate_per_s": per_s,
        "jobs": jobs,
        "seen": len(e2e),
        "errors": out["errors"],
        **latency_ms(e2e),
        "cpu_us_per_job": per_job_us(sum(v for k, v in used.items() if k != "machine"), jobs),
        "cpu_cores": _cores(used, window),
        "poll_p50_ms": polled["interval_p50_ms"],
    }
