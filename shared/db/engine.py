"""Engine and session factories for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

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


def make_engine(url: str, *, ping_after_idle_s: float | None = None) -> Engine:
    """Create an engine; for SQLite, create the file's folder and enable WAL for concurrent readers.

    A pooled connection is pinged before it is handed out (a connection the server dropped is replaced
    unseen). ``ping_after_idle_s`` (PostgreSQL only, for a caller whose every statement survives one
    failure: the executor): ping it only once it sat idle that long, see ``_ping_on_checkout``."""
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
    if parsed.get_backend_name() != "postgresql":
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    engine = create_engine(url, pool_size=5, max_overflow=5, connect_args=pg_connect_args(parsed))
    _ping_on_checkout(engine, ping_after_idle_s or 0.0)
    return engine


def _ping_on_checkout(engine: Engine, idle_s: float) -> None:
    """Ping a pooled connection before handing it out when it sat idle ``idle_s`` or longer (0: on every
    checkout), and drop it for a new one if the ping fails in any way: a connection dropped by a restart,
    a proxy or a firewall is replaced unseen.

    Not ``pool_pre_ping``: SQLAlchemy's psycopg ping switches autocommit on and back off around its query,
    and on a connection whose backend died as the query went out libpq still reports the transaction
    ACTIVE, so switching back raises ProgrammingError, which SQLAlchemy does not count as a disconnect and
    hands to the caller (tests/test_db_engine.py). Here every failure of the ping is one.

    The executor passes ``idle_s`` > 0: under traffic each batch's statements would pay a round trip more
    each (~70-200 µs of client CPU). A connection used moments ago that the server dropped then fails its
    statement instead (the pool is invalidated on a disconnect): only for a caller that retries it on a
    new one, as the executor's outage pause does; every other caller pings on every checkout."""

    @event.listens_for(engine, "checkin")
    def _idle_since(dbapi_conn: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn: DBAPIConnection, record: ConnectionPoolEntry, _: PoolProxiedConnection) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_s:
            return  # just connected, or used moments ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # the pool drops this connection and checks out a new one
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
