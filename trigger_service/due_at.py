"""Due times at enqueue: from the request when it gives one, else computed from the booking and the
automation settings (shared/due_times.py); refused when further in the past than max_lateness_s."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from shared.automation_settings import AutomationSettings
from shared.due_times import effective_due_at, scheduled_due_at
from shared.names import recipient_name, type_name
from shared.proto.automation.v1 import automation_pb2 as pb
from trigger_service.validation import Violation

# The booking field a computed send time derives from (named in violations).
_SOURCE_FIELD = {
    "nightBeforeReminder": "booking.start_at",
    "paymentReminder": "booking.start_at",
    "postVisitThankYou": "booking.end_at",
}


class DueAtResolver:
    def __init__(self, automations: AutomationSettings) -> None:
        self._automations = automations

    def due_at(
        self, request: pb.EnqueueAutomationRequest, now: datetime
    ) -> tuple[datetime | None, list[Violation]]:
        """``(due time or None for right away, violations)`` of a valid request."""
        max_late = timedelta(seconds=self._automations.max_lateness_s)
        if request.HasField("due_at"):
            asked = request.due_at.ToDatetime(tzinfo=UTC)
            if asked < now - max_late:
                return None, [Violation("due_at", self._too_late(asked))]
            return (asked if asked > now else None), []
        kind, booking = type_name(request.automation_type), request.booking
        tz = ZoneInfo(booking.timezone)
        start, end = booking.start_at.ToDatetime(tzinfo=UTC), booking.end_at.ToDatetime(tzinfo=UTC)
        scheduled = scheduled_due_at(kind, start, end, tz, self._automations.for_type(kind))
        if scheduled is not None and scheduled < now - max_late:
            return None, [Violation(_SOURCE_FIELD.get(kind, "booking"), self._too_late(scheduled, kind))]
        due = effective_due_at(
            kind, recipient_name(request.recipient), start, end, tz, self._automations, now
        )
        return due, []

    def _too_late(self, due: datetime, kind: str | None = None) -> str:
        what = f"the {kind} send time" if kind else "the send time"
        return (
            f"{what} {due.strftime('%Y-%m-%dT%H:%M:%SZ')} is more than "
            f"{self._automations.max_lateness_s} s in the past"
        )
