"""Booking state in a real Redis (newest versions, cancellations) and the pure send-time verdict."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from shared.booking_state import BookingSnapshot, BookingStates, verdict
from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.sample import sample_request

NIGHT, PAY = pb.AUTOMATION_TYPE_NIGHT_BEFORE_REMINDER, pb.AUTOMATION_TYPE_PAYMENT_REMINDER


@pytest.fixture
def states(redis_db_url: str) -> Iterator[BookingStates]:
    with redis.Redis.from_url(redis_db_url) as client:
        yield BookingStates(client, ttl_s=600)


def job(automation_type=NIGHT, recipient=pb.RECIPIENT_CLIENT, version=1, enqueued_ms=1_000, **booking):
    request = sample_request("b-1", automation_type, recipient, version=version)
    for name, value in booking.items():
        setattr(request.booking, name, value)
    out = pb.AutomationJob(job_id="j", idempotency_key="k", request=request, attempt=1)
    out.enqueued_at.FromMilliseconds(enqueued_ms)
    return out


def test_record_keeps_the_newest_version_per_pair_and_overall(states):
    states.record([job(version=3).request, job(version=1).request, job(PAY, version=2, paid=True).request])
    snap = states.fetch(["b-1", "unknown"])["b-1"]
    assert snap.version == 3 and snap.paid is False  # version 3's state wins over version 2's
    assert snap.pair_versions == {"nightBeforeReminder:client": 3, "paymentReminder:client": 2}
    assert "unknown" not in states.fetch(["unknown"])


def test_cancel_keeps_the_latest_instant_per_type(states):
    states.cancel("b-1", [], at_ms=5_000)
    states.cancel("b-1", ["paymentReminder"], at_ms=7_000)
    states.cancel("b-1", [], at_ms=4_000)  # older: does not move the mark back
    assert states.fetch(["b-1"])["b-1"].cancelled_at_ms == {"*": 5_000, "paymentReminder": 7_000}


@pytest.mark.parametrize(
    ("the_job", "snapshot", "expected"),
    [
        (job(), BookingSnapshot(), None),
        (job(enqueued_ms=1_000), BookingSnapshot(cancelled_at_ms={"*": 1_000}), "cancelled"),
        (job(enqueued_ms=2_000), BookingSnapshot(cancelled_at_ms={"*": 1_000}), None),  # enqueued after
        (job(), BookingSnapshot(cancelled_at_ms={"paymentReminder": 9_000}), None),  # another type
        (job(PAY), BookingSnapshot(cancelled_at_ms={"paymentReminder": 9_000}), "cancelled"),
        (job(version=1), BookingSnapshot(pair_versions={"nightBeforeReminder:client": 2}), "superseded"),
        (job(version=2), BookingSnapshot(pair_versions={"nightBeforeReminder:client": 2}), None),
        (job(version=1), BookingSnapshot(pair_versions={"nightBeforeReminder:sitter": 2}), None),
        (job(version=1), BookingSnapshot(version=2, status=pb.BOOKING_STATUS_CANCELLED), "cancelled"),
        (job(status=pb.BOOKING_STATUS_CANCELLED), BookingSnapshot(), "cancelled"),
        (job(PAY, version=1), BookingSnapshot(version=2, paid=True), "skipped_not_applicable"),
        (job(PAY, paid=True), BookingSnapshot(), "skipped_not_applicable"),
        (job(PAY, version=3), BookingSnapshot(version=2, paid=True), None),  # the job's own data is newer
        (job(NIGHT, version=1), BookingSnapshot(version=2, paid=True), None),  # paid only stops payments
    ],
)
def test_verdict(the_job, snapshot, expected):
    found = verdict(the_job, snapshot)
    assert (found[0] if found else None) == expected
