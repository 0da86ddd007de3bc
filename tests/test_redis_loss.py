"""Redis loses the booking states (a restart without persistence, a flush, a failover) while jobs are
scheduled: the send-time checks fall back to the EventLog (shared/db/booking_history.py), so a job
CancelAutomations cancelled still never sends, and an older version still ends superseded; real trigger,
executor, Kafka, Redis and database."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.client import AutomationClient
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.redis_client import make_redis
from tests.support.pipeline import running_executor, running_trigger, wait_until
from tests.support.sample import sample_request

pytestmark = pytest.mark.slow
DUE_IN_S = 10.0  # long enough to enqueue, cancel and flush before it is due, on a loaded machine


def _statuses(client: AutomationClient, job_id: str) -> list[str]:
    return [run.status for run in client.runs(job_id=job_id)]  # newest first


def test_after_redis_lost_the_booking_states_a_cancelled_job_never_sends_and_an_old_version_is_superseded(
    settings, http_receiver
) -> None:
    due_at = datetime.now(UTC) + timedelta(seconds=DUE_IN_S)
    cancelled_booking, versioned_booking = (f"b-{uuid.uuid4().hex[:10]}" for _ in range(2))
    cancelled = sample_request(cancelled_booking, pb.AUTOMATION_TYPE_PAYMENT_REMINDER)
    old, new = (
        sample_request(versioned_booking, pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION, version=v) for v in (1, 2)
    )
    for request in (cancelled, old, new):
        request.due_at.FromDatetime(due_at)
    with (
        running_trigger(settings) as (_, trigger),
        running_executor(settings),
        AutomationClient(f"127.0.0.1:{trigger.port}") as client,
    ):
        cancelled_id, old_id, new_id = (client.enqueue(r).job_id for r in (cancelled, old, new))
        for job_id in (cancelled_id, old_id, new_id):
            wait_until(lambda j=job_id: _statuses(client, j) == ["scheduled"], 30, what="a scheduled row")
        assert client.cancel(cancelled_booking).pending_jobs == 1
        redis = make_redis(settings.redis_url.get_secret_value(), timeout_s=2.0)
        try:
            redis.flushdb()  # every booking state gone, as after a restart without persistence
        finally:
            redis.close()
        assert datetime.now(UTC) < due_at, "the machine was too slow to flush before the due time"
        time.sleep(max(0.0, (due_at - datetime.now(UTC)).total_seconds()))
        wait_until(lambda: len(_statuses(client, cancelled_id)) >= 3, 40, what="the cancelled job's end")
        wait_until(lambda: len(_statuses(client, old_id)) >= 2, 40, what="the old version's end")
        wait_until(lambda: len(_statuses(client, new_id)) >= 2, 40, what="the new version's end")
        ends = {job_id: _statuses(client, job_id)[0] for job_id in (cancelled_id, old_id, new_id)}
    assert ends == {cancelled_id: "cancelled", old_id: "superseded", new_id: "succeeded"}
    assert [r.headers["idempotency-key"] for r in http_receiver.requests] == [
        f"bookingConfirmation:client:{versioned_booking}:2"
    ], "only the newest version was sent"
