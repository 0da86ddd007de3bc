"""The services' view of the database schema (shared/db/schema.py), on SQLite and PostgreSQL: missing,
behind, current, newer and compatible (additive), newer and incompatible; and the wait for it."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest
from sqlalchemy import Engine, make_url, text

from shared.constants import PG_CONNECT_TIMEOUT_S
from shared.db.engine import make_engine, pg_connect_args
from shared.db.migrate import upgrade
from shared.db.schema import check_schema, code_revisions, wait_for_schema

HEAD = code_revisions()[0]


@pytest.fixture
def engine(database_url: str):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def pretend_newer(engine: Engine, *ddl: str) -> None:
    """As if a later release had migrated: an unknown revision, plus its DDL."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
        for statement in ddl:
            conn.execute(text(statement))


def test_missing_behind_current(database_url: str, engine: Engine) -> None:
    status = check_schema(engine)
    assert (status.state, status.current, status.head, status.usable) == ("missing", "none", HEAD, False)
    assert f"needs {HEAD}: run automation-migrate" in status.describe()
    upgrade(database_url, "0002")
    assert (check_schema(engine).state, check_schema(engine).current) == ("behind", "0002")
    upgrade(database_url)
    status = check_schema(engine)
    assert (status.state, status.current, status.usable) == ("current", HEAD, True)


def test_a_newer_additive_schema_is_usable(database_url: str, engine: Engine) -> None:
    upgrade(database_url)
    pretend_newer(
        engine,
        "ALTER TABLE event_log ADD COLUMN channel_ref VARCHAR(32)",
        "ALTER TABLE event_log ADD COLUMN region VARCHAR(8) NOT NULL DEFAULT 'eu'",
        "CREATE INDEX ix_event_log_region ON event_log (region)",
    )
    status = check_schema(engine)
    assert (status.state, status.current, status.usable) == ("newer", "9999_future", True)


def test_a_newer_schema_that_dropped_what_the_code_uses_is_refused(database_url: str, engine: Engine) -> None:
    upgrade(database_url)
    pretend_newer(engine, "DROP INDEX ix_event_log_finished_at")
    status = check_schema(engine)
    assert (status.state, status.usable) == ("incompatible", False)
    assert "index ix_event_log_finished_at is missing" in status.describe()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_newer_not_null_column_without_default_is_refused(database_url: str, engine: Engine) -> None:
    upgrade(database_url)
    pretend_newer(engine, "ALTER TABLE event_log ADD COLUMN tenant VARCHAR(8) NOT NULL")
    status = check_schema(engine)
    assert status.state == "incompatible"
    assert status.detail == "column event_log.tenant is NOT NULL without a default"


def test_an_unreachable_database_is_reported_not_raised() -> None:
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    status = check_schema(engine)
    assert (status.state, status.usable) == ("unreachable", False)
    assert "OperationalError" in status.describe() and "nobody" not in status.describe()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_wait_for_schema_logs_while_waiting_and_returns_once_migrated(
    database_url: str, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    checks: list[int] = []
    stop = threading.Event()
    migrated = threading.Timer(1.0, upgrade, args=(database_url,))
    migrated.start()
    with caplog.at_level(logging.INFO, logger="shared.db.schema"):
        status = wait_for_schema(
            engine, stop, progress=lambda: checks.append(1), check_every_s=0.1, log_every_s=0.3
        )
    migrated.join()
    assert status is not None and status.state == "current"
    waiting = [r for r in caplog.records if r.getMessage().startswith("waiting for the database schema")]
    assert len(waiting) >= 2, "a line every log_every_s while waiting"
    assert all(r.schema_revision == "none" and r.schema_needed == HEAD for r in waiting)
    assert caplog.records[-1].getMessage().startswith("database schema usable")
    assert len(checks) > len(waiting), "progress after every check"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_wait_for_schema_ends_on_stop(engine: Engine) -> None:
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    assert wait_for_schema(engine, stop, check_every_s=0.1) is None


def test_a_postgres_server_that_never_answers_is_unreachable_within_the_connect_timeout() -> None:
    """A blackholed database must not block a service longer than its liveness stall time: libpq gives
    up after PG_CONNECT_TIMEOUT_S (a server that accepts the TCP connection and never says a word)."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"postgresql+psycopg://nobody@127.0.0.1:{silent.getsockname()[1]}/none"
        for engine_url, limit_s in ((url + "?connect_timeout=1", 1), (url, PG_CONNECT_TIMEOUT_S)):
            engine = make_engine(engine_url)
            started = time.monotonic()
            status = check_schema(engine)
            elapsed_s = time.monotonic() - started
            engine.dispose()
            assert status.state == "unreachable"
            assert limit_s * 0.8 <= elapsed_s < limit_s + 3, (engine_url, elapsed_s)


def test_pg_connect_args_keep_what_the_url_sets() -> None:
    args = pg_connect_args(make_url("postgresql+psycopg://u@h/db?connect_timeout=30&keepalives_idle=60"))
    assert "connect_timeout" not in args and "keepalives_idle" not in args
    assert args["keepalives"] == 1 and args["keepalives_count"] == 3
    assert pg_connect_args(make_url("postgresql+psycopg://u@h/db"))["connect_timeout"] == PG_CONNECT_TIMEOUT_S
