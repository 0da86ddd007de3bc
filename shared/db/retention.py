"""EventLog retention: delete rows by age, in bounded batches (``automationctl prune``).

Each batch is its own short transaction deleting at most ``batch_size`` rows, so pruning a large backlog
never holds long locks or a huge transaction, and an interrupted run keeps what it already did. Batches
take the oldest rows first (``ORDER BY finished_at``, served by the index ``ix_event_log_finished_at``),
so the table always keeps a contiguous window of recent history, even after an interrupted prune.

A row of a job that has not reached a final state is never pruned, however old: a ``scheduled``,
``retry_scheduled`` or ``paused`` row stays until a terminal row (``TERMINAL``) exists for the same
idempotency key, since it is what ``GetAutomationRuns`` shows for a job still waiting in a delay or retry
topic.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Delete, Engine, and_, delete, exists, func, not_, or_, select
from sqlalchemy.orm import aliased

from shared.db.engine import make_engine
from shared.db.event_status import EventStatus
from shared.db.models import EVENT_LOG_TABLE, EventLog

# Statuses after which a job never runs again on its own: its rows may be pruned by age. A dead letter
# is terminal here too: retention is what bounds how long it stays replayable (README, "Retention").
TERMINAL = EventStatus.FINAL | {EventStatus.DEAD_LETTERED, EventStatus.REPLAYED}
# Statuses of a job still waiting in a delay or retry topic.
PENDING = frozenset({EventStatus.SCHEDULED, EventStatus.RETRY_SCHEDULED, EventStatus.PAUSED})


def prune_cutoff(older_than: timedelta, now: datetime | None = None) -> datetime:
    """The instant before which rows are pruned: ``now - older_than``, in UTC.

    ``now`` must be timezone-aware (default: the current time). The result is normalised to UTC because
    SQLite stores the UTC wall time of ``finished_at`` as text, so the comparison must be made in UTC.
    """
    if older_than < timedelta(0):
        raise ValueError(f"older_than must not be negative, got {older_than}")
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return (now - older_than).astimezone(UTC)


def prunable(cutoff: datetime) -> ColumnElement[bool]:
    """Rows finished before ``cutoff`` whose job reached a final state: a row of a pending status only
    once a terminal row exists for its idempotency key."""
    table = EVENT_LOG_TABLE
    later = aliased(EventLog)
    finished = exists().where(
        and_(later.idempotency_key == table.c.idempotency_key, later.status.in_(sorted(TERMINAL)))
    )
    return and_(table.c.finished_at < cutoff, or_(not_(table.c.status.in_(sorted(PENDING))), finished))


def prune_statement(cutoff: datetime, batch_size: int) -> Delete:
    """``DELETE FROM event_log WHERE id IN (SELECT id FROM event_log WHERE <prunable> ORDER BY
    finished_at LIMIT :n)``: one batch, valid on SQLite and PostgreSQL."""
    table = EVENT_LOG_TABLE
    batch = select(table.c.id).where(prunable(cutoff)).order_by(table.c.finished_at).limit(batch_size)
    return delete(table).where(table.c.id.in_(batch))


def prune_preview(
    url_or_engine: str | Engine, *, older_than: timedelta, now: datetime | None = None
) -> tuple[dict[str, int], int]:
    """What a prune would do, deleting nothing: (rows it would delete per status, old rows it keeps
    because their job has not reached a final state)."""
    cutoff = prune_cutoff(older_than, now)
    table = EVENT_LOG_TABLE
    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        with engine.connect() as conn:
            counts = conn.execute(
                select(table.c.status, func.count()).where(prunable(cutoff)).group_by(table.c.status)
            ).all()
            old = conn.scalar(select(func.count()).where(table.c.finished_at < cutoff)) or 0
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()
    by_status = {status: n for status, n in sorted(counts)}
    return by_status, old - sum(by_status.values())


def prune_eventlog(
    url_or_engine: str | Engine,
    *,
    older_than: timedelta,
    batch_size: int = 1000,
    now: datetime | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Delete EventLog rows whose ``finished_at`` is strictly before ``now - older_than``; return how many.

    Rows are deleted ``batch_size`` at a time, each batch in its own transaction, until a batch deletes
    nothing; ``on_batch(deleted)`` is called after every batch (the last call is 0), e.g. to advance a
    progress bar. A row finished exactly at the cut-off, or later, is never deleted. Rows written while
    the prune runs are newer than the cut-off, so the loop ends. An engine passed in is left open; one
    created from a URL is disposed of.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    statement = prune_statement(prune_cutoff(older_than, now), batch_size)
    owned = isinstance(url_or_engine, str)
    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    total = 0
    try:
        while True:
            with engine.begin() as conn:
                deleted = conn.execute(statement).rowcount
            total += deleted
            if on_batch is not None:
                on_batch(deleted)
            if deleted == 0:
                return total
    finally:
        if owned:
            engine.dispose()
