"""Alembic migrations on SQLite and PostgreSQL: they build what the models describe, and undo it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, pool, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.db.event_status import EventStatus
from shared.db.migrate import alembic_config, upgrade
from shared.db.models import Base, EventLog

HEAD = "0004"
INDEXES = {
    "ix_event_log_job_id": ["job_id"],
    "ix_event_log_idempotency_key": ["idempotency_key"],
    "ix_event_log_booking_id": ["booking_id"],
    "ix_event_log_booking_started": ["booking_id", "started_at"],
    "uq_event_log_succeeded_key": ["idempotency_key"],
    "ix_event_log_status_id": ["status", "id"],
    "ix_event_log_finished_at": ["finished_at"],
}


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    # NullPool: no connection outlives a test step (the PostgreSQL database is dropped afterwards).
    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def add_row(engine: Engine, job_id: str, key: str | None = None, status: str = EventStatus.SUCCEEDED) -> None:
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        session.add(
            EventLog(
                job_id=job_id,
                idempotency_key=key or f"bookingConfirmation:client:bk-1:{job_id}",
                automation_type="bookingConfirmation",
                recipient="client",
                booking_id="bk-1",
                status=status,
                attempt=1,
                inputs={"booking": {"id": "bk-1"}},
                outputs={"channel_response": {"channel": "log"}},
                error=None,
                started_at=now,
                finished_at=now,
                duration_ms=12.5,
                kafka_topic="automation.jobs",
                kafka_partition=0,
                kafka_offset=2**40,  # needs a BIGINT on PostgreSQL
            )
        )


def job_ids(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(select(EventLog.job_id).order_by(EventLog.id)))


def test_upgrade_creates_event_log(database_url: str, engine: Engine) -> None:
    assert "event_log" not in tables(engine)
    upgrade(database_url)
    assert {"event_log", "alembic_version"} <= tables(engine)
    assert current_revision(engine) == HEAD
    inspector = inspect(engine)
    columns = {c["name"] for c in inspector.get_columns("event_log")}
    assert columns == set(EventLog.__table__.columns.keys())
    assert {i["name"]: i["column_names"] for i in inspector.get_indexes("event_log")} == INDEXES
    assert inspector.get_pk_constraint("event_log")["constrained_columns"] == ["id"]
    add_row(engine, "job-1")
    add_row(engine, "job-2")
    assert job_ids(engine) == ["job-1", "job-2"]  # the id is generated and increasing


def test_migration_matches_the_models(database_url: str, engine: Engine) -> None:
    upgrade(database_url)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # compare_metadata nests column-level changes in a list per column.
    flat = [d for group in diffs for d in (group if isinstance(group, list) else [group])]
    assert flat == []


def test_downgrade_to_base_drops_the_table_and_upgrade_rebuilds_it(database_url: str, engine: Engine) -> None:
    upgrade(database_url)
    add_row(engine, "job-1")
    command.downgrade(alembic_config(database_url), "base")
    assert "event_log" not in tables(engine)
    assert current_revision(engine) is None
    upgrade(database_url)
    assert "event_log" in tables(engine)
    assert current_revision(engine) == HEAD
    assert job_ids(engine) == []
    add_row(engine, "job-2")
    assert job_ids(engine) == ["job-2"]


def test_upgrade_is_idempotent(database_url: str, engine: Engine) -> None:
    upgrade(database_url)
    add_row(engine, "job-1")
    upgrade(database_url)
    assert current_revision(engine) == HEAD
    assert job_ids(engine) == ["job-1"], "a second upgrade keeps the data"
    assert {i["name"] for i in inspect(engine).get_indexes("event_log")} == set(INDEXES)


def test_database_refuses_a_second_success_for_one_key(database_url: str, engine: Engine) -> None:
    upgrade(database_url)
    add_row(engine, "job-1", key="k")
    add_row(engine, "job-2", key="k", status=EventStatus.SKIPPED_DUPLICATE)  # other statuses may repeat
    add_row(engine, "job-3", key="k", status=EventStatus.RETRY_SCHEDULED)
    with pytest.raises(IntegrityError):
        add_row(engine, "job-4", key="k")
    assert job_ids(engine) == ["job-1", "job-2", "job-3"]
