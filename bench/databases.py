"""EventLog databases for benchmarks: a migrated SQLite file or a fresh ``bench_*`` PostgreSQL database,
and the queries the scenarios measure with (counts, the first and last row's times)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, func, make_url, select, text

from shared.db.event_status import EventStatus
from shared.db.migrate import upgrade
from shared.db.models import EventLog

SUCCEEDED = EventLog.status == EventStatus.SUCCEEDED


@dataclass(frozen=True)
class Database:
    kind: str  # "sqlite" | "postgres"
    url: str  # SQLAlchemy URL, as the executor's AUTOMATION_DATABASE_URL


@contextmanager
def sqlite_database(work_dir: Path, name: str) -> Iterator[Database]:
    path = work_dir / f"{name}-{uuid.uuid4().hex[:6]}.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    yield Database("sqlite", url)


@contextmanager
def postgres_database(admin_url: str, name: str) -> Iterator[Database]:
    """A fresh migrated database ``bench_<name>_<hex>``, dropped on exit."""
    db_name = f"bench_{name}_{uuid.uuid4().hex[:8]}".lower()
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{db_name}"'))
        url = make_url(admin_url).set(database=db_name).render_as_string(hide_password=False)
        try:
            upgrade(url)
            yield Database("postgres", url)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def database(kind: str, admin_url: str | None, work_dir: Path, name: str) -> Iterator[Database]:
    if kind == "sqlite":
        with sqlite_database(work_dir, name) as db:
            yield db
    elif admin_url is None:
        raise ValueError("no PostgreSQL server")
    else:
        with postgres_database(admin_url, name) as db:
            yield db


def backend_pids(db: Database) -> Callable[[], list[int]]:
    """For PostgreSQL: a callable listing the server processes serving ``db`` (to meter their CPU)."""

    def pids() -> list[int]:
        import psycopg

        conninfo = make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                query = (
                    "SELECT pid FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                pids = [row[0] for row in conn.execute(query)]
        except psycopg.Error:
            return []
        return [pid for pid in pids if Path(f"/proc/{pid}").exists()]  # a server on this machine only

    return pids


class EventLogReader:
    """Read-only queries on one EventLog database."""

    def __init__(self, url: str) -> None:
        self._engine: Engine = create_engine(url)

    def succeeded(self) -> int:
        with self._engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(EventLog).where(SUCCEEDED)) or 0

    def max_id(self) -> int:
        with self._engine.connect() as conn:
            return conn.scalar(select(func.max(EventLog.id))) or 0

    def rows_by_status(self) -> dict[str, int]:
        with self._engine.connect() as conn:
            query = select(EventLog.status, func.count()).group_by(EventLog.status)
            return {status: count for status, count in conn.execute(query)}

    def finished_span(self) -> tuple[datetime, datetime]:
        """finished_at of the first and the last succeeded row."""
        with self._engine.connect() as conn:
            query = select(func.min(EventLog.finished_at), func.max(EventLog.finished_at)).where(SUCCEEDED)
            first, last = conn.execute(query).one()
        return _parse(first), _parse(last)

    def close(self) -> None:
        self._engine.dispose()


def _parse(value: datetime | str) -> datetime:
    # SQLite hands aggregates of DateTime columns back as strings
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
