"""The values of ``EventLog.status``: what a run of an automation job ended as."""

from __future__ import annotations


class EventStatus:
    """Values of ``EventLog.status``."""

    SUCCEEDED = "succeeded"
    RETRY_SCHEDULED = "retry_scheduled"  # this attempt failed transiently; the next one is on a retry topic
    DEAD_LETTERED = "dead_lettered"  # failed permanently or out of attempts; parked in the dead-letter topic
    SKIPPED_DUPLICATE = "skipped_duplicate"  # its idempotency key already succeeded
    SCHEDULED = "scheduled"  # due later: parked in the delay topics (not terminal)
    CANCELLED = "cancelled"  # CancelAutomations, or the booking was cancelled meanwhile
    SUPERSEDED = "superseded"  # a newer booking version was enqueued for the same type and recipient
    SKIPPED_DISABLED = "skipped_disabled"  # the type or recipient is disabled in the automation settings
    SKIPPED_LATE = "skipped_late"  # came due more than max_lateness_s ago (e.g. after a long outage)
    SKIPPED_NOT_APPLICABLE = "skipped_not_applicable"  # no longer makes sense (a payment reminder once paid)
    REPLAYED = "replayed"  # written for a dead-lettered job when ReplayDeadLetters sent it again
    PAUSED = "paused"  # a pause held the job back (once per job; it waits in a delay topic, not terminal)

    # Outcomes after which the job never runs again (its dedup key is marked done).
    FINAL = frozenset(
        {
            SUCCEEDED,
            SKIPPED_DUPLICATE,
            CANCELLED,
            SUPERSEDED,
            SKIPPED_DISABLED,
            SKIPPED_LATE,
            SKIPPED_NOT_APPLICABLE,
        }
    )
