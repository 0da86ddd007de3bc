"""The PostgreSQL pool pings a connection only once it sat idle (shared/db/engine.py): one the server
dropped while idle is replaced unseen; one dropped while in steady use fails one statement, and the pool
hands out a live one right after (what the executor's outage pause and the operator RPCs' retry rely on)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from shared import constants
from shared.db.engine import make_engine

IDLE_S = 0.3


@pytest.fixture
def engine(postgres_url, monkeypatch):
    monkeypatch.setattr(constants, "PG_PING_AFTER_IDLE_S", IDLE_S)
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


def test_a_connection_dropped_while_idle_is_replaced_before_anyone_uses_it(engine, terminate):
    first = backend_pid(engine)
    terminate(first)
    time.sleep(IDLE_S + 0.2)
    second = backend_pid(engine)  # no error: the ping found it dead and the pool connected anew
    assert second != first


def test_a_connection_dropped_in_use_fails_one_statement_and_the_next_gets_a_live_one(engine, terminate):
    first = backend_pid(engine)
    terminate(first)
    with pytest.raises(DBAPIError) as failed:
        backend_pid(engine)  # used moments ago: not pinged, so its statement meets the closed socket
    assert failed.value.connection_invalidated
    assert backend_pid(engine) not in (first, None)
