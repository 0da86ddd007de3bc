"""Pause and resume on the real pipeline (trigger and executor in process, real broker, Redis, database
and webhook receiver): a paused channel's jobs wait without using an attempt while another channel's
flow; the pause outlives an executor restart and a Redis flush; on resume every held job is delivered
exactly once, in order per booking."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
import redis
from prometheus_client import REGISTRY

from shared.client import AutomationClient
from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.auth_tools import with_settings
from tests.support.automations import settings_file
from tests.support.pipeline import eventlog_rows, running_executor, running_trigger, wait_until
from tests.support.sample import sample_request

pytestmark = pytest.mark.slow
JOBS_PER_BOOKING = 3


def _deferrals() -> float:
    labels = {"automation_type": "bookingConfirmation", "scope": "channel"}
    return REGISTRY.get_sample_value("automation_pause_deferrals_total", labels) or 0.0


def _statuses(settings, job_id: str) -> list[tuple[str, int]]:
    return [
        (r.status, r.attempt) for r in eventlog_rows(settings.sqlalchemy_url, job_id=job_id)
    ]  # oldest first


def _assert_each_held_job_sent_once_in_order(settings, deliveries, held: dict[str, list[str]]) -> None:
    """Every held job (booking -> job ids in enqueue order) delivered exactly once, in order per booking,
    with one `paused` row and one `succeeded` row, both attempt 1 (a pause uses no attempt)."""
    held_ids = [job for jobs in held.values() for job in jobs]
    sent = [d.body["job_id"] for d in deliveries]
    assert Counter(sent) == Counter(held_ids), "each held job delivered exactly once"
    for booking, jobs in held.items():
        assert [j for j in sent if j in jobs] == jobs, f"booking {booking} out of order"
    for job_id in held_ids:
        assert _statuses(settings, job_id) == [("paused", 1), ("succeeded", 1)]


def test_paused_channel_waits_survives_restart_and_flush_then_resumes_in_order(
    settings, http_receiver, tmp_path
):
    # owners' messages go over the log channel, everything else over the default (webhook) channel
    automations = settings_file(tmp_path / "automations.toml", channels={"owner": "log"}, quiet_hours=False)
    settings = with_settings(settings, automations_file=automations)
    bookings = [f"b-{uuid.uuid4().hex[:10]}" for _ in range(2)]
    with running_trigger(settings) as (_, trigger), AutomationClient(f"127.0.0.1:{trigger.port}") as client:
        client.pause(reason="webhook receiver under maintenance", channels=["webhook"])
        held: dict[str, list[str]] = {b: [] for b in bookings}  # booking -> job ids in enqueue order
        flowing = []
        with running_executor(settings):
            for booking in bookings:
                for n in range(JOBS_PER_BOOKING):
                    request = sample_request(booking, pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION)
                    request.idempotency_key = f"pause-test:{booking}:{n}"  # same version: none supersedes
                    held[booking].append(client.enqueue(request).job_id)
                owner = sample_request(
                    booking, pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT, pb.RECIPIENT_OWNER
                )
                flowing.append(client.enqueue(owner).job_id)
            held_ids = [job for jobs in held.values() for job in jobs]

            # the other channel flows; the paused ones each get one `paused` row, attempt 1, and wait
            for job_id in flowing:
                wait_until(
                    lambda j=job_id: ("succeeded", 1) in _statuses(settings, j), timeout_s=30, what="log sent"
                )
            for job_id in held_ids:
                wait_until(
                    lambda j=job_id: _statuses(settings, j) == [("paused", 1)], timeout_s=30, what="paused"
                )
            base = _deferrals()
            wait_until(
                lambda: _deferrals() >= base + len(held_ids), timeout_s=30, what="a re-check while paused"
            )

        # restart the executor and flush Redis (dedup keys, booking state): the database keeps the pause
        redis.Redis.from_url(settings.redis_url.get_secret_value()).flushdb()
        with running_executor(settings):
            base = _deferrals()
            wait_until(lambda: _deferrals() >= base + 2 * len(held_ids), timeout_s=40, what="two re-checks")
            assert http_receiver.requests == []
            assert all(_statuses(settings, j) == [("paused", 1)] for j in held_ids)

            lifted = client.resume(reason="receiver back", channels=["webhook"])
            assert [(p.scope, p.value) for p in lifted.changed] == [("channel", "webhook")]
            deliveries = http_receiver.wait_for(len(held_ids), timeout_s=40)
            for job_id in held_ids:
                wait_until(
                    lambda j=job_id: len(_statuses(settings, j)) == 2, timeout_s=20, what="success row"
                )
            assert len(http_receiver.requests) == len(held_ids)

    _assert_each_held_job_sent_once_in_order(settings, deliveries, held)


def test_an_idle_executor_reads_pauses_and_exports_them(settings) -> None:
    """No job flows: the executor still reads the pauses every AUTOMATION_PAUSE_REFRESH_S (so the metrics
    and the alert on long pauses hold), and drops a lifted one."""
    labels = {"scope": "type", "value": "postVisitThankYou"}

    def paused() -> float | None:
        return REGISTRY.get_sample_value("automation_paused", labels)

    def started() -> float | None:
        return REGISTRY.get_sample_value("automation_pause_started_timestamp_seconds", labels)

    with (
        running_trigger(settings) as (_, trigger),
        AutomationClient(f"127.0.0.1:{trigger.port}") as client,
        running_executor(settings),
    ):
        pause = client.pause(reason="idle check", automation_types=["postVisitThankYou"]).changed[0]
        wait_until(lambda: paused() == 1.0, timeout_s=20, what="the pause read by the idle executor")
        assert started() == pytest.approx(pause.paused_at.timestamp(), abs=0.001)
        client.resume(reason="idle check done", automation_types=["postVisitThankYou"])
        wait_until(lambda: paused() == 0.0, timeout_s=20, what="the lifted pause read")
        assert started() is None


def test_a_pause_holds_across_two_executors_and_a_rebalance_then_each_job_goes_once_in_order(
    settings, http_receiver, tmp_path
):
    """Two executors in one group share the partitions; every paused job waits (one `paused` row each),
    whichever executor has it. One executor leaves while the pause holds: the other takes its partitions
    and keeps the jobs waiting; on resume each job is delivered exactly once, in order per booking."""
    automations = settings_file(tmp_path / "automations.toml", quiet_hours=False)
    settings = with_settings(settings, automations_file=automations)
    bookings = [f"b-{uuid.uuid4().hex[:10]}" for _ in range(6)]  # spread over the partitions
    held: dict[str, list[str]] = {b: [] for b in bookings}
    with running_trigger(settings) as (_, trigger), AutomationClient(f"127.0.0.1:{trigger.port}") as client:
        client.pause(reason="webhook receiver under maintenance", channels=["webhook"])
        with running_executor(settings):
            with running_executor(settings, assigned_timeout_s=40):  # joins: the partitions are shared
                for booking in bookings:
                    for n in range(JOBS_PER_BOOKING):
                        request = sample_request(booking, pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION)
                        request.idempotency_key = f"pause-2x:{booking}:{n}"
                        held[booking].append(client.enqueue(request).job_id)
                held_ids = [job for jobs in held.values() for job in jobs]
                for job_id in held_ids:
                    wait_until(lambda j=job_id: _statuses(settings, j) == [("paused", 1)], 30, 0.1, "paused")
            # the second executor has left the group: the first holds every partition, the jobs still wait
            base = _deferrals()
            wait_until(lambda: _deferrals() >= base + len(held_ids), 40, 0.1, "re-checks by the one left")
            assert http_receiver.requests == []
            lifted = client.resume(reason="receiver back", channels=["webhook"])
            assert [(p.scope, p.value) for p in lifted.changed] == [("channel", "webhook")]
            deliveries = http_receiver.wait_for(len(held_ids), timeout_s=40)
            for job_id in held_ids:
                wait_until(lambda j=job_id: len(_statuses(settings, j)) == 2, 20, 0.1, "success row")
            assert len(http_receiver.requests) == len(held_ids)

    _assert_each_held_job_sent_once_in_order(settings, deliveries, held)
