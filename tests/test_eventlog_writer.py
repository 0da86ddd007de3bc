"""EventLogWriter on SQLite (executemany) and PostgreSQL (COPY): every value comes back as written, a
batch is all or nothing, and the one-success guard turns a second success into ``skipped_duplicate``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, pool, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.db.engine import make_session_factory
from shared.db.event_row import EventRow
from shared.db.event_status import EventStatus
from shared.db.eventlog_writer import EventLogWriter, insert_returning_ids
from shared.db.migrate import upgrade
from shared.db.models import EventLog


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url)
    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def writer(engine: Engine) -> EventLogWriter:
    return EventLogWriter(engine)


def row(job_id: str, key: str, status: str = EventStatus.SUCCEEDED, **fields: Any) -> EventRow:
    started = datetime(2026, 11, 28, 17, 30, 0, 123456, tzinfo=UTC)
    values = {
        "job_id": job_id,
        "idempotency_key": key,
        "automation_type": "bookingConfirmation",
        "recipient": "client",
        "booking_id": "b-1",
        "status": status,
        "attempt": 1,
        "inputs": {"booking": {"id": "b-1", "notes": 'Ünïcode, "quotes", tab\tand\nnewline \\ back'}},
        "outputs": {"channel": "null", "parts": [1, 2.5, None, True], "empty": {}},
        "error": None,
        "error_class": None,
        "replay_of": None,
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "started_at": started,
        "finished_at": started + timedelta(milliseconds=12),
        "duration_ms": 12.5,
        "kafka_topic": "automation.jobs",
        "kafka_partition": 3,
        "kafka_offset": 2**40 + 7,
        **fields,
    }
    return EventRow(**values)


def stored(engine: Engine) -> list[dict[str, Any]]:
    with Session(engine) as session:
        rows = session.scalars(select(EventLog).order_by(EventLog.id)).all()
        return [
            {c.name: getattr(r, c.name) for c in EventLog.__table__.columns if c.name != "id"} for r in rows
        ]


def test_every_value_comes_back_as_written(engine, writer):
    rows = [
        row("j1", "k1"),
        row(
            "j2", "k2", EventStatus.DEAD_LETTERED, outputs=None, error="HTTP 400: bad", error_class="http_4xx"
        ),
        row("j3", "k3", replay_of="j0", traceparent=None),
    ]
    assert writer.write(rows) == rows
    back = stored(engine)
    for r in back:  # SQLite keeps no time zone: compare instants
        for name in ("started_at", "finished_at"):
            r[name] = r[name].replace(tzinfo=r[name].tzinfo or UTC)
    assert back == [r.values() for r in rows]


def test_none_outputs_are_stored_as_sqlalchemy_stores_them(engine, writer):
    writer.write([row("j1", "k1", EventStatus.DEAD_LETTERED, outputs=None)])
    with engine.connect() as connection:
        kind = connection.execute(text("SELECT outputs IS NULL FROM event_log")).scalar_one()
    # SQLAlchemy's JSON type writes Python None as JSON null (not SQL NULL) on both databases.
    assert not kind


def test_a_second_success_for_a_key_becomes_skipped_duplicate_and_the_rest_is_written(engine, writer):
    writer.write([row("j1", "k1")])
    written = writer.write(
        [
            row("j2", "k1"),  # the guard refuses this one
            row("j3", "k2"),
            row("j4", "k3", EventStatus.RETRY_SCHEDULED, error="timeout", error_class="timeout"),
        ]
    )
    expected = [
        ("j1", EventStatus.SUCCEEDED),
        ("j2", EventStatus.SKIPPED_DUPLICATE),
        ("j3", EventStatus.SUCCEEDED),
        ("j4", EventStatus.RETRY_SCHEDULED),
    ]
    assert [(r["job_id"], r["status"]) for r in stored(engine)] == expected
    assert [(r.job_id, r.status) for r in written] == expected[1:], "the rows come back as written"


def test_a_failed_batch_writes_nothing(engine, writer):
    writer.write([row("j1", "k1")])
    with pytest.raises((IntegrityError, psycopg.IntegrityError)):  # booking_id is NOT NULL
        writer.write([row("j2", "k2"), row("j3", "k3", booking_id=None)])
    assert [r["job_id"] for r in stored(engine)] == ["j1"]


def test_insert_returning_ids_gives_each_rows_id_in_order_inside_the_callers_transaction(engine, writer):
    writer.write([row("j0", "k0")])
    rows = [row(f"j{n}", f"k{n}", EventStatus.CANCELLED) for n in (3, 1, 2)]  # not in key or job order
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        ids = insert_returning_ids(session, rows)
        assert insert_returning_ids(session, []) == []
    with Session(engine) as session:
        by_id = {r.id: r.job_id for r in session.scalars(select(EventLog))}
    assert [by_id[i] for i in ids] == ["j3", "j1", "j2"], (ids, by_id)
    assert len(set(ids)) == 3 and min(ids) > min(by_id)

    with pytest.raises(RuntimeError), sessions.begin() as session:
        assert len(insert_returning_ids(session, [row("j9", "k9", EventStatus.CANCELLED)])) == 1
        raise RuntimeError("the caller's transaction fails after the insert")
    assert [r["job_id"] for r in stored(engine)] == ["j0", "j3", "j1", "j2"], "rolled back with it"


def test_succeeded_keys_are_the_keys_with_a_success_row_and_leave_the_next_write_transactional(
    database_url, engine
):
    pooled = create_engine(database_url, pool_size=1, max_overflow=0)  # one connection, reused
    try:
        writer = EventLogWriter(pooled)
        writer.write([row("j1", "k1"), row("j2", "k2", EventStatus.RETRY_SCHEDULED), row("j3", "k3")])
        asked = ["k1", "k2", "k3", "k4", "k1", 'it\'s "quoted", {braced}']
        assert writer.succeeded_keys(asked) == {"k1", "k3"}
        assert writer.succeeded_keys([]) == set()
        # the connection the query used goes back to the pool transactional: a failed batch writes nothing
        with pytest.raises((IntegrityError, psycopg.IntegrityError)):
            writer.write([row("j4", "k4"), row("j5", "k5", booking_id=None)])
        assert [r["job_id"] for r in stored(engine)] == ["j1", "j2", "j3"]
    finally:
        pooled.dispose()
