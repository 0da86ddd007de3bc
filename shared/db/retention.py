"""EventLog retention: delete rows by age, in bounded batches (``automationctl prune``).

Each batch is its own short transaction deleting at most ``batch_size`` rows, so pruning a large backlog
never holds long locks or a huge transaction, and an interrupted run keeps what it already did. Batches
take the oldest rows first (``ORDER BY finished_at``, served by the index ``ix_event_log_finished_at``),
so the table always keeps a contiguous window of recent history, even after an interrupted prune.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Delete, Engine, delete, select

from shared.db.engine import make_engine
from shared.db.models import EventLog


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


def prune_statement(cutoff: datetime, batch_size: int) -> Delete:
    """``DELETE FROM event_log WHERE id IN (SELECT id FROM event_log WHERE finished_at < :cut
    ORDER BY finished_at LIMIT :n)``: one batch, valid on SQLite and PostgreSQL."""
    table = EventLog.__table__
    batch = (
        select(table.c.id).where(table.c.finished_at < cutoff).order_by(table.c.finished_at).limit(batch_size)
    )
    return delete(table).where(table.c.id.in_(batch))


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
