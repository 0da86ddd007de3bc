"""JobRunner.run() takes the send slot right before the send (after rendering) and gives it back only
when the send fails."""

from __future__ import annotations

from typing import Any

from executor_service.runner import JobRunner, RunOutcome
from shared.automation_settings import load_automation_settings
from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.fake_message import FakeMessage
from tests.support.sample import sample_request


class Channel:
    def __init__(self, calls: list[str], fail: bool) -> None:
        self.calls, self.fail = calls, fail

    def send(self, message: Any, *, job_id: str, idempotency_key: str) -> dict[str, Any]:
        self.calls.append("send")
        if self.fail:
            raise RuntimeError("channel down")
        return {"ok": True}


class Channels:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    def get(self, name: str) -> Channel:
        return self.channel


def run(request: pb.EnqueueAutomationRequest, *, fail: bool) -> tuple[RunOutcome, list[str], float]:
    calls: list[str] = []
    runner = JobRunner(Channels(Channel(calls, fail)), load_automation_settings())  # type: ignore[arg-type]
    job = pb.AutomationJob(job_id="j", idempotency_key="k", request=request, attempt=1)
    result = runner.run(
        job, FakeMessage(0, b"k", b"", ()), lambda: calls.append("reserve"), lambda: calls.append("unreserve")
    )
    return result.outcome, calls, result.duration_s


OWNER_ALERT = sample_request("b-1", pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT, pb.RECIPIENT_OWNER)


def test_a_send_takes_its_slot_first_and_keeps_it():
    outcome, calls, duration_s = run(OWNER_ALERT, fail=False)
    assert (outcome, calls) == (RunOutcome.SENT, ["reserve", "send"])
    assert duration_s >= 0


def test_a_failed_send_gives_its_slot_back():
    outcome, calls, _ = run(OWNER_ALERT, fail=True)
    assert (outcome, calls) == (RunOutcome.FAILED, ["reserve", "send", "unreserve"])


def test_a_job_that_fails_before_its_send_takes_no_slot():
    request = pb.EnqueueAutomationRequest()
    request.CopyFrom(OWNER_ALERT)
    request.booking.timezone = "Not/AZone"  # rendering fails: nothing is sent
    outcome, calls, _ = run(request, fail=False)
    assert (outcome, calls) == (RunOutcome.FAILED, [])
