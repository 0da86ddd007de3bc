"""SQLAlchemy 2 typed models. One EventLog row is written for every run of an automation job."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Index, Integer, String, Table, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class EventLog(Base):
    """A run of one automation job: what went in, what came out, what went wrong."""

    __tablename__ = "event_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(64), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), index=True)
    automation_type: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(16))
    booking_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    outputs: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Low-cardinality failure class (http_5xx, timeout, template, ...), for dead-letter filters (0003).
    error_class: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The job this run's job replays (ReplayDeadLetters), if any (0003).
    replay_of: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The W3C traceparent the job's Kafka message carried (0003).
    traceparent: Mapped[str | None] = mapped_column(String(55), nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[float] = mapped_column(Float)
    # Where the job came from, for tracing a row back to its Kafka message.
    kafka_topic: Mapped[str] = mapped_column(String(249))
    kafka_partition: Mapped[int] = mapped_column(Integer)
    kafka_offset: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_event_log_booking_started", "booking_id", "started_at"),
        Index("ix_event_log_status_id", "status", "id"),  # dead letters, newest first (0003)
        Index("ix_event_log_finished_at", "finished_at"),  # pruning by age (0003)
        # The database's guard: one success per idempotency key (migration 0002).
        Index(
            "uq_event_log_succeeded_key",
            "idempotency_key",
            unique=True,
            postgresql_where=text("status = 'succeeded'"),
            sqlite_where=text("status = 'succeeded'"),
        ),
    )


class PauseRecord(Base):
    """A pause in force (PauseAutomations): the jobs of its scope wait until it is lifted (0004).

    The database is the source of truth: every executor reads this table every ``pause_refresh_s``.
    """

    __tablename__ = "automation_pause"

    scope: Mapped[str] = mapped_column(String(16), primary_key=True)  # "type", "channel" or "all"
    value: Mapped[str] = mapped_column(String(64), primary_key=True)  # type or channel name; "" for all
    reason: Mapped[str] = mapped_column(String(500))
    paused_by: Mapped[str] = mapped_column(String(200))  # the authenticated caller ("" without auth)
    paused_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PauseAudit(Base):
    """One row per scope named in a PauseAutomations / ResumeAutomations call: who, when, why (0004)."""

    __tablename__ = "automation_pause_audit"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    action: Mapped[str] = mapped_column(String(16))  # "pause" or "resume"
    scope: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(64))
    # False when the call changed nothing for this scope (already paused, or not paused).
    changed: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


# The EventLog's Core table, typed as a Table (``EventLog.__table__`` is typed as any FromClause): for
# bulk inserts and set-based statements.
EVENT_LOG_TABLE: Table = Base.metadata.tables[EventLog.__tablename__]
