"""Pooled PostgreSQL connections the server dropped (shared/db/engine.py). Every engine but the executor's
pings before each use: a dropped connection is replaced unseen (a tool polling the EventLog, an operator
RPC, the schema watch). The executor's pings only once a connection sat idle: one dropped while idle is
replaced unseen; one dropped while in steady use fails one statement (the outage pause retries it) and the
pool hands out a live one right after."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from shared.db.engine import make_engine

IDLE_S = 0.3


@pytest.fixture
def executors_engine(postgres_url):
    engine = make_engine(postgres_url, ping_after_idle_s=IDLE_S)
    yield engine
    engine.dispose()


@pytest.fixture
def default_engine(postgres_url):
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


@pytest.fixture
def terminate(postgres_url):
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")

    def kill(pid: int) -> None:
        with admin.connect() as conn:
            assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}) is True

    yield kill
    admin.dispose()


def backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT pg_backend_pid()"))


def test_by_default_a_connection_dropped_in_steady_use_is_replaced_unseen(default_engine, terminate):
    first = backend_pid(default_engine)
    terminate(first)
    assert backend_pid(default_engine) != first  # no error: pinged at checkout, replaced


def test_a_connection_dropped_while_idle_is_replaced_before_use(executors_engine, terminate):
    first = backend_pid(executors_engine)
    terminate(first)
    time.sleep(IDLE_S + 0.2)
    second = backend_pid(executors_engine)  # no error: the ping found it dead and the pool connected anew
    assert second != first


def test_a_connection_dropped_in_use_fails_one_statement_then_a_live_one(executors_engine, terminate):
    first = backend_pid(executors_engine)
    terminate(first)
    with pytest.raises(DBAPIError) as failed:
        backend_pid(executors_engine)  # used moments ago: not pinged; its statement meets the closed socket
    assert failed.value.connection_invalidated
    assert backend_pid(executors_engine) not in (first, None)


def test_by_default_a_dead_connection_whose_ping_fails_oddly_is_replaced_unseen(default_engine, terminate):
    """SQLAlchemy's own pre-ping on psycopg (``do_ping``) turns autocommit on and back off around its
    query; on a connection that died mid-query libpq still reports a transaction ACTIVE, so that switch
    raises ProgrammingError, which SQLAlchemy does not take for a disconnect and hands to the caller (CI
    saw it once, in the test above, when the backend died as the ping's query went out). Here the pooled
    connection is left mid-query on purpose, then its backend is killed: whatever the ping raises, the
    pool must drop that connection and hand out a live one."""
    first = backend_pid(default_engine)
    (record,) = list(default_engine.pool._pool.queue)  # type: ignore[attr-defined]  # the one pooled connection
    record.dbapi_connection.pgconn.send_query(b"SELECT pg_sleep(30)")  # its status is now ACTIVE
    terminate(first)
    assert backend_pid(default_engine) != first
