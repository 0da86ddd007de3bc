"""Scheduled sends on real processes (the executor as an OS process, the trigger over gRPC): lateness,
cancellation, supersede, re-checks at send time, restarts, and parked jobs blocking nothing."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.pipeline import eventlog_rows, running_trigger, wait_rows
from tests.support.processes import ExecutorProcess
from tests.support.sample import sample_request

pytestmark = [pytest.mark.slow, pytest.mark.chaos]
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
NIGHT, PAY = pb.AUTOMATION_TYPE_NIGHT_BEFORE_REMINDER, pb.AUTOMATION_TYPE_PAYMENT_REMINDER
CLIENT, SITTER = pb.RECIPIENT_CLIENT, pb.RECIPIENT_SITTER


@pytest.fixture
def executor(settings, tmp_path):
    """``executor() -> ExecutorProcess``, ready; every process is killed at teardown."""
    started: list[ExecutorProcess] = []

    def start() -> ExecutorProcess:
        started.append(ExecutorProcess(settings, tmp_path, session_timeout_ms=6000, dedup_lease_s=3))
        started[-1].wait_ready()
        return started[-1]

    yield start
    for process in started:
        process.stop()
        print(process.log_tail(2000))


def due(booking: str, in_s: float, automation_type=NIGHT, recipient=CLIENT, version=1, **booking_fields):
    request = sample_request(booking, automation_type, recipient, version=version)
    request.booking.sitter.CopyFrom(pb.Sitter(id="s-1", name="Sam Lee", phone="+14155550199"))
    for name, value in booking_fields.items():
        setattr(request.booking, name, value)
    request.due_at.FromDatetime(datetime.now(UTC) + timedelta(seconds=in_s))
    return request


def bid() -> str:
    return f"b-{uuid.uuid4().hex[:10]}"


def lateness_s(row) -> float:
    due_at = datetime.fromisoformat(row.inputs["due_at"].replace("Z", "+00:00"))
    return (row.started_at.replace(tzinfo=UTC) - due_at).total_seconds()


def statuses(settings) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for row in eventlog_rows(settings.sqlalchemy_url):
        out.setdefault(row.job_id, []).append(row.status)
    return out


@SQLITE_ONLY
def test_200_jobs_due_within_ten_seconds_send_with_p99_lateness_under_1s(settings, executor, http_receiver):
    executor()
    with running_trigger(settings) as (stub, _):
        requests = [due(bid(), 8 + i * 0.05) for i in range(200)]  # due over 10 s, starting in 8 s
        response = stub.EnqueueAutomations(pb.EnqueueAutomationsRequest(requests=requests), timeout=15)
    assert all(r.WhichOneof("result") == "accepted" for r in response.results)
    rows = wait_rows(settings.sqlalchemy_url, 200, timeout_s=60, status="succeeded")
    late = sorted(lateness_s(r) for r in rows)
    p99, worst = late[int(len(late) * 0.99) - 1], late[-1]
    print(f"lateness s: p50={late[len(late) // 2]:.3f} p99={p99:.3f} max={worst:.3f}")
    assert late[0] >= -0.01, "a job was sent before it was due"
    assert p99 <= 1.0
    assert len(http_receiver.requests) == 200


@SQLITE_ONLY
def test_cancelled_jobs_never_send_and_later_ones_do(settings, executor, http_receiver):
    executor()
    x, y, z = bid(), bid(), bid()
    with running_trigger(settings) as (stub, _):
        cancelled = [stub.EnqueueAutomation(r, timeout=10) for r in (due(x, 5), due(x, 5, recipient=SITTER))]
        cancelled.append(stub.EnqueueAutomation(due(x, 5, PAY), timeout=10))
        kept = stub.EnqueueAutomation(due(y, 5), timeout=10)
        z_night = stub.EnqueueAutomation(due(z, 5), timeout=10)
        z_pay = stub.EnqueueAutomation(due(z, 5, PAY), timeout=10)
        stub.CancelAutomations(pb.CancelAutomationsRequest(booking_id=x), timeout=10)
        stub.CancelAutomations(pb.CancelAutomationsRequest(booking_id=z, automation_types=[PAY]), timeout=10)
        after = stub.EnqueueAutomation(due(x, 2, version=2), timeout=10)  # enqueued after the cancel
    wait_rows(settings.sqlalchemy_url, 3, timeout_s=30, status="succeeded")
    wait_rows(settings.sqlalchemy_url, 4, timeout_s=30, status="cancelled")
    final = statuses(settings)
    for answer in (*cancelled, z_pay):
        assert final[answer.job_id][-1] == "cancelled"
    for answer in (kept, z_night, after):
        assert final[answer.job_id][-1] == "succeeded"
    sent = {r.body["job_id"] for r in http_receiver.requests}
    assert sent == {kept.job_id, z_night.job_id, after.job_id}
    reasons = {r.outputs["reason"] for r in eventlog_rows(settings.sqlalchemy_url, status="cancelled")}
    assert reasons == {"cancelled by CancelAutomations"}


@SQLITE_ONLY
def test_newer_version_supersedes_and_send_time_rechecks_paid_and_cancelled(
    settings, executor, http_receiver
):
    executor()
    s, p, c = bid(), bid(), bid()
    with running_trigger(settings) as (stub, _):
        old = stub.EnqueueAutomation(due(s, 4, version=1, service_name="Old walk"), timeout=10)
        new = stub.EnqueueAutomation(due(s, 6, version=2, service_name="New walk"), timeout=10)
        unpaid = stub.EnqueueAutomation(due(p, 4, PAY, version=1), timeout=10)
        # the booking is paid (version 2), told through another automation
        paid = due(p, 0, pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION, version=2, paid=True)
        paid.ClearField("due_at")
        confirmed = stub.EnqueueAutomation(paid, timeout=10)
        reminder = stub.EnqueueAutomation(due(c, 4, version=1), timeout=10)
        cancel = due(
            c, 0, pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION, version=2, status=pb.BOOKING_STATUS_CANCELLED
        )
        cancel.ClearField("due_at")
        stub.EnqueueAutomation(cancel, timeout=10)
    wait_rows(settings.sqlalchemy_url, 2, timeout_s=30, status="succeeded")
    wait_rows(settings.sqlalchemy_url, 1, timeout_s=30, status="superseded")
    wait_rows(settings.sqlalchemy_url, 2, timeout_s=30, status="cancelled")
    wait_rows(settings.sqlalchemy_url, 1, timeout_s=30, status="skipped_not_applicable")
    final = statuses(settings)
    assert final[old.job_id][-1] == "superseded"
    assert final[new.job_id][-1] == "succeeded"
    assert final[unpaid.job_id][-1] == "skipped_not_applicable"
    assert final[confirmed.job_id][-1] == "succeeded"
    assert final[reminder.job_id][-1] == "cancelled"
    bodies = [r.body["body"] for r in http_receiver.requests]
    assert not any("Old walk" in b for b in bodies), "superseded data was sent"
    assert any("New walk" in b for b in bodies)


@SQLITE_ONLY
def test_scheduled_jobs_survive_kill_9_of_the_executor_and_a_trigger_restart(
    settings, executor, http_receiver
):
    first = executor()
    with running_trigger(settings) as (stub, _):
        requests = [due(bid(), 14 + i * 0.1) for i in range(20)]
        response = stub.EnqueueAutomations(pb.EnqueueAutomationsRequest(requests=requests), timeout=15)
    ids = {r.accepted.job_id for r in response.results}
    wait_rows(settings.sqlalchemy_url, 20, timeout_s=20, status="scheduled")
    first.kill()
    with running_trigger(settings) as (stub, _):  # a trigger restart changes nothing for queued jobs
        assert stub.EnqueueAutomations(pb.EnqueueAutomationsRequest(requests=requests), timeout=15)
    executor()
    rows = wait_rows(settings.sqlalchemy_url, 20, timeout_s=60, status="succeeded")
    assert {r.job_id for r in rows} == ids
    assert max(lateness_s(r) for r in rows) <= 1.0
    assert sorted(r.body["job_id"] for r in http_receiver.requests) == sorted(ids)


@SQLITE_ONLY
def test_a_thousand_parked_jobs_block_neither_the_main_topic_nor_sooner_jobs(
    settings, executor, http_receiver
):
    executor()
    with running_trigger(settings) as (stub, _):
        for _ in range(2):
            parked = [due(bid(), 3600) for _ in range(500)]
            stub.EnqueueAutomations(pb.EnqueueAutomationsRequest(requests=parked), timeout=15)
        wait_rows(settings.sqlalchemy_url, 1000, timeout_s=60, status="scheduled")
        now_request = due(bid(), 0, pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION)
        now_request.ClearField("due_at")  # a confirmation is due at once
        sent_at = time.time()
        immediate = stub.EnqueueAutomation(now_request, timeout=10)
        soon = stub.EnqueueAutomation(due(bid(), 3), timeout=10)
    rows = wait_rows(settings.sqlalchemy_url, 2, timeout_s=20, status="succeeded")
    by_id = {r.job_id: r for r in rows}
    assert set(by_id) == {immediate.job_id, soon.job_id}
    assert by_id[immediate.job_id].started_at.replace(tzinfo=UTC).timestamp() - sent_at < 2.0
    assert lateness_s(by_id[soon.job_id]) <= 1.0
    assert len(http_receiver.requests) == 2
