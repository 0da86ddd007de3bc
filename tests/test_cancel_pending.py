"""CancelAutomations on the real trigger and executor: a scheduled job shows `cancelled` in the runs at
once, the answer (and `automationctl cancel`) counts it, and when it comes due it never sends."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from automationctl.main import main
from shared.client import AutomationClient
from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.pipeline import running_executor, running_trigger, wait_until
from tests.support.sample import sample_request

pytestmark = pytest.mark.slow
DUE_IN_S = 12.0  # long enough to cancel before it is due, on a loaded machine


def _statuses(client: AutomationClient, job_id: str) -> list[str]:
    return [run.status for run in client.runs(job_id=job_id)]  # newest first


def test_cancelled_scheduled_job_is_counted_shown_at_once_and_never_sent(settings, capsys) -> None:
    booking = f"b-{uuid.uuid4().hex[:10]}"
    request = sample_request(booking, pb.AUTOMATION_TYPE_PAYMENT_REMINDER)
    due_at = datetime.now(UTC) + timedelta(seconds=DUE_IN_S)
    request.due_at.FromDatetime(due_at)
    other = sample_request(booking)  # sent at once: not pending, not counted, still sent
    with (
        running_trigger(settings) as (_, trigger),
        running_executor(settings),
        AutomationClient(f"127.0.0.1:{trigger.port}") as client,
    ):
        job_id = client.enqueue(request).job_id
        other_id = client.enqueue(other).job_id
        wait_until(lambda: _statuses(client, job_id) == ["scheduled"], timeout_s=30, what="scheduled row")
        wait_until(lambda: "succeeded" in _statuses(client, other_id), timeout_s=30, what="other sent")

        result = client.cancel(booking)  # every type
        assert datetime.now(UTC) < due_at, "the machine was too slow to cancel before the due time"
        assert result.pending_jobs == 1, result
        [run] = result.cancelled_runs
        assert (run.job_id, run.status, run.automation_type) == (job_id, "cancelled", "paymentReminder")
        assert _statuses(client, job_id) == ["cancelled", "scheduled"]  # at once, not at the due time
        assert _statuses(client, other_id)[0] == "succeeded"  # a finished job is not touched

        assert main(["--target", f"127.0.0.1:{trigger.port}", "cancel", "--booking-id", booking]) == 0
        out = capsys.readouterr().out
        assert f"nothing pending to cancel for booking {booking}" in out, out

        # Past the due time the executor's send-time check ends it without sending.
        time.sleep(max(0.0, (due_at - datetime.now(UTC)).total_seconds()))

        def ended_by_executor() -> list[str] | None:
            statuses = _statuses(client, job_id)
            return statuses if len(statuses) >= 3 else None

        statuses = wait_until(ended_by_executor, timeout_s=40, what="the executor's row at the due time")
    assert "succeeded" not in statuses and set(statuses[:-1]) == {"cancelled"}, statuses
    assert statuses[-1] == "scheduled"


def test_cli_counts_a_pending_job(settings, capsys) -> None:
    booking = f"b-{uuid.uuid4().hex[:10]}"
    request = sample_request(booking, pb.AUTOMATION_TYPE_PAYMENT_REMINDER)
    request.due_at.FromDatetime(datetime.now(UTC) + timedelta(hours=1))
    with (
        running_trigger(settings) as (_, trigger),
        running_executor(settings),
        AutomationClient(f"127.0.0.1:{trigger.port}") as client,
    ):
        job_id = client.enqueue(request).job_id
        wait_until(lambda: _statuses(client, job_id) == ["scheduled"], timeout_s=30, what="scheduled row")
        target = f"127.0.0.1:{trigger.port}"
        assert main(["--target", target, "cancel", "--booking-id", booking, "--type", "paymentReminder"]) == 0
        out = capsys.readouterr().out
    assert f"cancelled 1 pending job(s) (paymentReminder) of booking {booking}" in out, out
    assert "cancelled" in out.splitlines()[2] and "paymentReminder" in out  # the table of cancelled runs
