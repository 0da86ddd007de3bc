"""Right before a job sends, does it still make sense? (after its dedup key was leased)

- cancelled by CancelAutomations, or the booking's newest known state is cancelled → ``cancelled``;
- a newer booking version was enqueued for the same type and recipient → ``superseded``;
- a payment reminder for a booking now paid → ``skipped_not_applicable``;
- the type or the recipient is disabled in the automation settings → ``skipped_disabled``;
- a scheduled job (first attempt) that came due more than ``max_lateness_s`` ago → ``skipped_late``
  (with ``pause_lateness = "send"``, lateness of a job a pause held is counted up to its first hold).

The booking state comes from Redis (shared/booking_state.py), one pipelined read per batch; for a
booking Redis does not know, from the EventLog rows of its jobs (shared/db/booking_history.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from shared.automation_settings import AutomationSettings
from shared.booking_state import BookingSnapshot, BookingStates, verdict
from shared.db.event_status import EventStatus
from shared.names import recipient_name, type_name
from shared.proto.automation.v1 import automation_pb2 as pb

_UNKNOWN = BookingSnapshot()


class PreSendChecks:
    def __init__(
        self,
        bookings: BookingStates,
        automations: AutomationSettings,
        history: Callable[[Iterable[str]], dict[str, BookingSnapshot]] | None = None,
    ) -> None:
        """``history``: snapshots rebuilt from the EventLog (shared/db/booking_history.py), asked for the
        bookings Redis does not know (it lost them: a restart without persistence, a flush)."""
        self._bookings = bookings
        self._automations = automations
        self._history = history

    def load(self, jobs: Iterable[pb.AutomationJob]) -> dict[str, BookingSnapshot]:
        """The snapshots of these jobs' bookings (raises when Redis or the database cannot be asked)."""
        jobs = list(jobs)
        snapshots = self._bookings.fetch(job.request.booking.id for job in jobs)
        # Only jobs that waited (scheduled, retried or held by a pause) have rows of their own, written
        # before Redis could have lost anything; a fresh job's booking Redis does not know costs no
        # query (a job produced without the trigger, as the drain benchmark's).
        unknown = {
            job.request.booking.id for job in jobs if _waited(job) and job.request.booking.id not in snapshots
        }
        if unknown and self._history is not None:
            snapshots.update(self._history(sorted(unknown)))
        return snapshots

    def verdict(
        self, job: pb.AutomationJob, snapshots: dict[str, BookingSnapshot], now_ms: int
    ) -> tuple[str, str] | None:
        """``(status, reason)`` when ``job`` must end without sending, else None."""
        request = job.request
        found = verdict(job, snapshots.get(request.booking.id, _UNKNOWN))
        if found is not None:
            return found
        kind, recipient = type_name(request.automation_type), recipient_name(request.recipient)
        if kind not in self._automations.types:
            return None  # not an automation we know: rendering fails it permanently (dead letter)
        if not self._automations.for_type(kind).enabled:
            return EventStatus.SKIPPED_DISABLED, f"{kind} is disabled in {self._automations.source}"
        recipient_settings = self._automations.recipient(kind, recipient)
        if recipient_settings is None or not recipient_settings.enabled:
            return (
                EventStatus.SKIPPED_DISABLED,
                f"{kind} to {recipient} is disabled in {self._automations.source}",
            )
        if job.attempt == 1 and job.HasField("due_at"):
            late_s = (self._lateness_clock_ms(job, now_ms) - job.due_at.ToMilliseconds()) / 1000
            if late_s > self._automations.max_lateness_s:
                return (
                    EventStatus.SKIPPED_LATE,
                    f"came due {late_s:.0f} s ago (max {self._automations.max_lateness_s} s)",
                )
        return None

    def _lateness_clock_ms(self, job: pb.AutomationJob, now_ms: int) -> int:
        """Now, or, for a job a pause held and ``pause_lateness = "send"``, when the pause first held it."""
        if job.HasField("paused_at") and self._automations.pause_lateness == "send":
            return min(now_ms, job.paused_at.ToMilliseconds())
        return now_ms


def _waited(job: pb.AutomationJob) -> bool:
    """Scheduled, a retry, or held by a pause: the job has EventLog rows of its own."""
    return job.HasField("due_at") or job.attempt > 1 or job.HasField("paused_at")
