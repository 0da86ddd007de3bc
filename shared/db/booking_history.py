"""A booking's state as the EventLog knows it: the executor's fallback when Redis has lost it.

The send-time checks (executor_service/checks.py) read each booking's newest versions and cancellations
from Redis (shared/booking_state.py). A Redis that restarted without persistence, was flushed or failed
over has none of them, and a job cancelled by CancelAutomations, or superseded by a newer version, would
then send after all. So for a booking Redis does not know, the executor rebuilds its snapshot from the
EventLog rows of its jobs (one query per batch, only for such bookings of jobs that waited, scheduled or
retried: a fresh job has no row that could have been written before Redis lost anything):

- each row's inputs carry the booking as enqueued: the newest version seen (per type and recipient, and
  for the booking with its status and payment state) supersedes older pending jobs, as in Redis;
- a ``cancelled`` row written by CancelAutomations (its outputs name the state it ``was`` in) holds the
  cancel instant for its type: jobs of that type enqueued before it are cancelled.

What the EventLog cannot tell: a cancel that found no pending row (every job of the booking still on the
main topic), and versions of jobs not run yet; those were only in Redis.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from shared.booking_state import BookingSnapshot
from shared.db.event_status import EventStatus
from shared.db.models import EventLog
from shared.proto.automation.v1 import automation_pb2 as pb

# The outputs key only CancelAutomations' own ``cancelled`` rows carry (the state the job was in), written
# at the cancel instant; the executor's later ``cancelled`` row for the same job has none.
CANCELLED_WAS_KEY = "was"

_COLUMNS = (
    EventLog.booking_id,
    EventLog.automation_type,
    EventLog.recipient,
    EventLog.status,
    EventLog.inputs,
    EventLog.outputs,
    EventLog.finished_at,
)


def snapshots_from_eventlog(engine: Engine, booking_ids: Iterable[str]) -> dict[str, BookingSnapshot]:
    """The snapshots the EventLog rows of these bookings imply; bookings with no row are absent."""
    ids = list(dict.fromkeys(booking_ids))
    if not ids:
        return {}
    rows: dict[str, list[Mapping[str, Any]]] = {}
    with engine.connect() as connection:
        for row in connection.execute(select(*_COLUMNS).where(EventLog.booking_id.in_(ids))).mappings():
            rows.setdefault(row["booking_id"], []).append(dict(row))
    return {booking_id: snapshot_of(booking_rows) for booking_id, booking_rows in rows.items()}


def snapshot_of(rows: Iterable[Mapping[str, Any]]) -> BookingSnapshot:
    """The snapshot one booking's EventLog rows imply (pure)."""
    version, status, paid = -1, int(pb.BOOKING_STATUS_UNSPECIFIED), False
    pairs: dict[str, int] = {}
    cancels: dict[str, int] = {}
    for row in rows:
        booking = (row["inputs"] or {}).get("booking") or {}
        row_version = _int(booking.get("version"))
        pair = f"{row['automation_type']}:{row['recipient']}"
        pairs[pair] = max(pairs.get(pair, -1), row_version)
        if row_version > version:
            version, paid = row_version, bool(booking.get("paid", False))
            status = _status(booking.get("status"))
        outputs = row["outputs"] or {}
        if row["status"] == EventStatus.CANCELLED and CANCELLED_WAS_KEY in outputs:
            at_ms = _epoch_ms(row["finished_at"])
            cancels[row["automation_type"]] = max(cancels.get(row["automation_type"], 0), at_ms)
    return BookingSnapshot(
        version=version, status=status, paid=paid, pair_versions=pairs, cancelled_at_ms=cancels
    )


def _int(value: object) -> int:
    try:
        return int(str(value))  # an int64 is a string in the stored JSON
    except ValueError:
        return 0


def _status(name: object) -> int:
    try:
        return int(pb.BookingStatus.Value(str(name)))
    except ValueError:
        return pb.BOOKING_STATUS_UNSPECIFIED


def _epoch_ms(at: datetime) -> int:
    if at.tzinfo is None:  # SQLite hands back naive datetimes; every row is written in UTC
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp() * 1000)
