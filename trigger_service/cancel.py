"""CancelAutomations, EventLog side: the booking's pending jobs get a ``cancelled`` row at once.

The cancel itself is the instant written to the booking's Redis state (``shared/booking_state.py``):
the executor's send-time check ends every job of the booking (and types) enqueued before it. What this
module adds is visibility: a job whose latest EventLog row is ``scheduled``, ``retry_scheduled`` or
``paused`` is pending (accepted, not final), so it gets a ``cancelled`` row now and ``automationctl runs``
shows it cancelled at once instead of ``scheduled`` until its due time. When the job comes due, the executor's
check ends it ``cancelled`` again (same final state; it never sends). Jobs accepted but with no row yet
(still on the main topic) are not counted here; the instant still cancels them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from shared.db.booking_history import CANCELLED_WAS_KEY
from shared.db.event_row import EventRow
from shared.db.event_status import EventStatus
from shared.db.eventlog_writer import insert_returning_ids
from shared.db.models import EventLog

PENDING = (EventStatus.SCHEDULED, EventStatus.RETRY_SCHEDULED, EventStatus.PAUSED)
CANCELLED_REASON = "cancelled by CancelAutomations"  # the executor's reason for the same end


class PendingCanceller:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def cancel_pending(self, booking_id: str, type_names: Sequence[str], at: datetime) -> list[EventLog]:
        """Write a ``cancelled`` row for every pending job of ``booking_id`` (of ``type_names``; none:
        every type) and return those rows (detached, with their ids), oldest job first; the select and
        the inserts are one transaction."""
        latest = select(func.max(EventLog.id)).where(EventLog.booking_id == booking_id)
        if type_names:
            latest = latest.where(EventLog.automation_type.in_(list(type_names)))
        latest = latest.group_by(EventLog.job_id)
        with self._sessions.begin() as session:
            pending = list(
                session.scalars(
                    select(EventLog)
                    .where(EventLog.id.in_(latest), EventLog.status.in_(PENDING))
                    .order_by(EventLog.id)
                )
            )
            rows = [_cancelled_row(row, at) for row in pending]
            ids = insert_returning_ids(session, rows)
        # Not added to a session: the values the response carries, the rows are already written.
        return [EventLog(id=id_, **row.values()) for id_, row in zip(ids, rows, strict=True)]


def _cancelled_row(row: EventLog, at: datetime) -> EventRow:
    return EventRow.follow_up(
        row,
        status=EventStatus.CANCELLED,
        outputs={"reason": CANCELLED_REASON, CANCELLED_WAS_KEY: row.status},
        at=at,
    )
