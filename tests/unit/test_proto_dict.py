"""to_dict() must give exactly what MessageToDict gives for our messages."""

from __future__ import annotations

import pytest
from google.protobuf.json_format import MessageToDict

from shared.proto.automation.v1 import automation_pb2 as pb
from shared.proto_dict import to_dict
from tests.support.requests import valid_request
from tests.support.sample import sample_request


def _full_request() -> pb.EnqueueAutomationRequest:
    req = valid_request(automation_type=pb.AUTOMATION_TYPE_SITTER_ASSIGNMENT, recipient=pb.RECIPIENT_SITTER)
    req.booking.paid = True
    req.booking.version = 2**40
    req.booking.start_at.nanos = 123_000_000
    req.idempotency_key = "caller-key"
    return req


@pytest.mark.parametrize(
    "msg",
    [
        sample_request("b-1"),
        valid_request(),
        _full_request(),
        pb.EnqueueAutomationRequest(),
        pb.EnqueueAutomationRequest(idempotency_key=""),  # optional field set to its default
        pb.EnqueueAutomationRequest(automation_type=99),  # an enum number with no name
        pb.AutomationJob(job_id="j", idempotency_key="k", request=valid_request(), attempt=3),
        pb.EnqueueAutomationsRequest(requests=[valid_request(), sample_request("b-2")]),
    ],
    ids=["sample", "valid", "full", "empty", "optional-default", "unknown-enum", "job", "batch"],
)
def test_to_dict_equals_message_to_dict(msg):
    assert to_dict(msg) == MessageToDict(msg, preserving_proto_field_name=True)


def test_enqueued_at_timestamp_renders_as_rfc3339():
    job = pb.AutomationJob(job_id="j")
    job.enqueued_at.FromSeconds(0)
    assert to_dict(job)["enqueued_at"] == "1970-01-01T00:00:00Z"


@pytest.mark.parametrize("nanos", [0, 5_000_000, 5_000, 5, 999_999_999])
def test_timestamps_render_like_to_json_string_whatever_the_nanos(nanos):
    # timestamps are rendered through a cache keyed on (seconds, nanos): 0, 3, 6 or 9 fractional digits
    job = pb.AutomationJob(job_id="j")
    job.enqueued_at.seconds, job.enqueued_at.nanos = 1_700_000_000, nanos
    assert to_dict(job)["enqueued_at"] == job.enqueued_at.ToJsonString()
    assert to_dict(job) == MessageToDict(job, preserving_proto_field_name=True)


def test_an_invalid_timestamp_raises_every_time():
    job = pb.AutomationJob(job_id="j")
    job.enqueued_at.seconds = 10**12  # past year 9999: ToJsonString refuses it (nothing cached)
    for _ in range(2):
        with pytest.raises(ValueError, match="Timestamp is not valid"):
            to_dict(job)
