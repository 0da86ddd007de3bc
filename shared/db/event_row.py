"""One EventLog row as a typed value: what the executor (runs), the trigger's replay (``replayed``)
and cancel (``cancelled``) write. ``shared/db/eventlog_writer.py`` inserts it."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from shared.db.models import EventLog


@dataclass(frozen=True, slots=True)
class EventRow:
    """The columns of one ``event_log`` row except its id."""

    job_id: str
    idempotency_key: str
    automation_type: str
    recipient: str
    booking_id: str
    status: str
    attempt: int
    inputs: dict[str, Any]
    outputs: dict[str, Any] | None
    error: str | None
    error_class: str | None
    replay_of: str | None
    traceparent: str | None
    started_at: datetime
    finished_at: datetime
    duration_ms: float
    kafka_topic: str
    kafka_partition: int
    kafka_offset: int

    @classmethod
    def follow_up(
        cls, record: EventLog, *, status: str, outputs: dict[str, Any], at: datetime, **changes: Any
    ) -> EventRow:
        """A row written about the job of ``record`` without running it (replayed, cancelled): its job,
        key, booking and inputs, the new ``status`` and ``outputs``, no error, zero duration at ``at``."""
        copied = {name: getattr(record, name) for name in COLUMNS}
        row = cls(**copied)
        return replace(
            row,
            status=status,
            outputs=outputs,
            error=None,
            error_class=None,
            started_at=at,
            finished_at=at,
            duration_ms=0.0,
            **changes,
        )

    def values(self) -> dict[str, Any]:
        """Column name -> value, in column order (shallow: the JSON values are not copied)."""
        return {name: getattr(self, name) for name in COLUMNS}


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(EventRow))
