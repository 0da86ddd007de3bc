"""Watches the EventLog for new rows from a separate OS process, so that neither the load generator
nor the GIL delays the polls: ``SELECT id, job_id, status FROM event_log WHERE id > :last`` every
``interval_s``, recording when each succeeded job id was first seen (``time.monotonic()``).

Ids only grow in commit order here: one executor writes each batch in one transaction, so a row with a
lower id can never become visible after a higher one was read. Writers that commit rows one by one on
several connections (the BullMQ worker of scenario 7) do not keep that order: ``lookback_ids`` makes
every poll read again that many ids below the highest seen, so a row committed late is still found.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from typing import Any

from sqlalchemy import make_url

from bench.databases import Database
from bench.stats import percentile

_CTX = multiprocessing.get_context("spawn")
QUERY = "SELECT id, job_id, status FROM event_log WHERE id > {} ORDER BY id"


def _connect(db: Database) -> tuple[Any, str]:
    """A DB-API connection in autocommit mode (each poll sees the latest commit) and its placeholder."""
    url = make_url(db.url)
    if db.kind == "sqlite":
        return sqlite3.connect(url.database, isolation_level=None), "?"
    import psycopg

    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(conninfo, autocommit=True), "%s"


def _poll_main(
    db: Database, start_id: int, interval_s: float, lookback_ids: int, stop, ready, seen_count, results
) -> None:
    conn, placeholder = _connect(db)
    query, last = QUERY.format(placeholder), start_id
    seen: dict[str, float] = {}
    ticks: list[float] = []
    ready.set()
    while not stop.is_set():
        rows = conn.execute(query, (max(last - lookback_ids, start_id),)).fetchall()
        now = time.monotonic()
        ticks.append(now)
        for row_id, job_id, status in rows:
            last = max(last, row_id)
            if status == "succeeded":
                seen.setdefault(job_id, now)
        seen_count.value = len(seen)
        time.sleep(interval_s)
    conn.close()
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    results.put(
        {
            "seen": seen,
            "polls": len(ticks),
            "interval_p50_ms": round(percentile(gaps, 50) * 1000, 2),
            "interval_p99_ms": round(percentile(gaps, 99) * 1000, 2),
            "interval_max_ms": round(max(gaps, default=0) * 1000, 2),
        }
    )


class Poller:
    def __init__(self, db: Database, start_id: int, interval_s: float = 0.001, lookback_ids: int = 0) -> None:
        self._stop, self._ready = _CTX.Event(), _CTX.Event()
        self._seen = _CTX.Value("i", 0)
        self._results = _CTX.Queue()
        args = (db, start_id, interval_s, lookback_ids, self._stop, self._ready, self._seen, self._results)
        self._proc = _CTX.Process(target=_poll_main, args=args, daemon=True)
        self._proc.start()
        if not self._ready.wait(30):
            self.close()
            raise RuntimeError("the EventLog poller did not start")

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    def wait_seen(self, count: int, timeout_s: float) -> int:
        """Wait until ``count`` succeeded job ids were seen (or the timeout); return how many were."""
        deadline = time.monotonic() + timeout_s
        while self._seen.value < count and time.monotonic() < deadline and self._proc.is_alive():
            time.sleep(0.05)
        return self._seen.value

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        out = self._results.get(timeout=30)
        self._proc.join(timeout=10)
        return out

    def close(self) -> None:
        if self._proc.is_alive():
            self._proc.kill()
        self._proc.join(timeout=5)
