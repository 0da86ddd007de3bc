"""Engine and session factories for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import Session, sessionmaker

from shared import constants

# libpq: give up on a connection attempt after connect_timeout, and notice a peer that vanished without
# a word (a network partition, not a refused connection) through TCP keepalives. Without them a blocked
# connect or read lasts the kernel's TCP timeouts (minutes): longer than the executor's liveness stall
# time, so an outage would look like a stuck process. A value in the URL's query wins.
_PG_DEFAULTS: dict[str, Any] = {
    "connect_timeout": constants.PG_CONNECT_TIMEOUT_S,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


def pg_connect_args(url: URL) -> dict[str, Any]:
    """The libpq parameters added to a PostgreSQL URL: the defaults above that its query does not set."""
    return {k: v for k, v in _PG_DEFAULTS.items() if k not in url.query}


def make_engine(url: str) -> Engine:
    """Create an engine; for SQLite, create the file's folder and enable WAL for concurrent readers."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: object) -> None:  # pragma: no cover
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    connect_args = pg_connect_args(parsed) if parsed.get_backend_name() == "postgresql" else {}
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args=connect_args)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
