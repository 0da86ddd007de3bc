"""A booking's snapshot rebuilt from its EventLog rows (shared/db/booking_history.py), for the send-time
checks when Redis lost it."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.booking_state import BookingSnapshot
from shared.db.booking_history import snapshot_of
from shared.proto.automation.v1 import automation_pb2 as pb

AT = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def row(kind: str, recipient: str, version: object, status: str = "scheduled", **extra: object) -> dict:
    booking = {
        "id": "b-1",
        "version": version,
        "status": extra.pop("booking_status", "BOOKING_STATUS_CONFIRMED"),
    }
    if extra.pop("paid", False):
        booking["paid"] = True
    return {
        "automation_type": kind,
        "recipient": recipient,
        "status": status,
        "inputs": {"booking": booking},
        "outputs": extra.pop("outputs", None),
        "finished_at": extra.pop("finished_at", AT),
    }


def test_the_newest_versions_per_pair_and_for_the_booking() -> None:
    snapshot = snapshot_of(
        [
            row("bookingConfirmation", "client", "1"),  # an int64 is a string in the stored JSON
            row("bookingConfirmation", "client", 3, booking_status="BOOKING_STATUS_CANCELLED", paid=True),
            row("paymentReminder", "client", 2),
        ]
    )
    assert snapshot == BookingSnapshot(
        version=3,
        status=pb.BOOKING_STATUS_CANCELLED,
        paid=True,
        pair_versions={"bookingConfirmation:client": 3, "paymentReminder:client": 2},
        cancelled_at_ms={},
    )


def test_only_cancel_automations_rows_give_a_cancel_instant() -> None:
    by_the_call = {"reason": "cancelled by CancelAutomations", "was": "scheduled"}
    by_the_executor = {"reason": "cancelled by CancelAutomations"}  # written later, at the due time
    naive = datetime(2027, 3, 1, 12, 0)  # SQLite hands datetimes back without a zone: UTC
    snapshot = snapshot_of(
        [
            row("paymentReminder", "client", 1, "cancelled", outputs=by_the_call, finished_at=naive),
            row("sitterAssignment", "sitter", 1, "cancelled", outputs=by_the_executor),
        ]
    )
    assert snapshot.cancelled_at_ms == {"paymentReminder": int(AT.timestamp() * 1000)}


def test_rows_without_a_readable_booking_count_as_version_zero() -> None:
    snapshot = snapshot_of([{**row("bookingConfirmation", "client", None), "inputs": None}])
    assert snapshot.pair_versions == {"bookingConfirmation:client": 0} and snapshot.version == 0


def test_only_jobs_that_waited_ask_the_eventlog() -> None:
    """Scheduled, retried and paused jobs have rows of their own from before Redis lost anything; a
    fresh job has none, and costs no query."""
    from executor_service.checks import _waited

    fresh = pb.AutomationJob(attempt=1)
    scheduled, retried, paused = (
        pb.AutomationJob(attempt=1),
        pb.AutomationJob(attempt=2),
        pb.AutomationJob(attempt=1),
    )
    scheduled.due_at.FromDatetime(AT)
    paused.paused_at.FromDatetime(AT)
    assert [_waited(j) for j in (fresh, scheduled, retried, paused)] == [False, True, True, True]
