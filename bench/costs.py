"""CPU seconds per process group, unrounded (for CPU per job), and the PostgreSQL backends that serve an
EventLog database other than the bench's own poller (whose 1 ms polls are measurement, not pipeline)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import make_url

from bench.databases import Database
from bench.poller import QUERY
from bench.procfs import Pids, cpu_seconds, machine_busy_seconds

POLLER_QUERY_START = QUERY.split("{")[0]  # pg_stat_activity.query of the poller's backend starts so


def eventlog_backends(db: Database) -> Callable[[], list[int]]:
    """The server processes serving ``db`` on this machine, the bench poller's backend left out."""

    def pids() -> list[int]:
        import psycopg

        conninfo = make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)
        query = (
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND query NOT LIKE %s"
        )
        try:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                found = [row[0] for row in conn.execute(query, (POLLER_QUERY_START + "%",))]
        except psycopg.Error:
            return []
        return [pid for pid in found if Path(f"/proc/{pid}").exists()]

    return pids


class CpuSeconds:
    """CPU seconds used by named process groups between ``start()`` and ``stop()`` (like
    procfs.CpuMeter, unrounded), plus ``machine`` (every process of the machine)."""

    def __init__(self, groups: dict[str, Pids]) -> None:
        self._groups = groups
        self._start: dict[int, float] = {}
        self._t0 = self._machine0 = 0.0

    def _pids(self, name: str) -> list[int]:
        group = self._groups[name]
        return [p for p in (group() if callable(group) else group) if p]

    def start(self) -> None:
        self._t0, self._machine0 = time.monotonic(), machine_busy_seconds()
        self._start = {pid: cpu_seconds(pid) for name in self._groups for pid in self._pids(name)}

    def stop(self) -> tuple[dict[str, float], float]:
        """({group: CPU seconds}, the window's length in seconds); groups without a process are left out."""
        window = max(time.monotonic() - self._t0, 1e-9)
        used: dict[str, float] = {}
        for name in self._groups:
            if pids := self._pids(name):
                used[name] = sum(max(cpu_seconds(pid) - self._start.get(pid, 0.0), 0.0) for pid in pids)
        used["machine"] = machine_busy_seconds() - self._machine0
        return used, window


def per_job_us(cpu_s: float, jobs: int) -> float:
    return round(cpu_s / jobs * 1e6, 1) if jobs else float("nan")
