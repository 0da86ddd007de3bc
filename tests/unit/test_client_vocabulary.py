"""The client's vocabulary: type names in every accepted spelling, filters, decoded item errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.rpc import code_pb2, error_details_pb2, status_pb2

from shared.client_vocabulary import dead_letter_filter, item_result, type_values
from shared.proto.automation.v1 import automation_pb2 as pb

PAY = pb.AUTOMATION_TYPE_PAYMENT_REMINDER


@pytest.mark.parametrize("spelling", ["paymentReminder", "AUTOMATION_TYPE_PAYMENT_REMINDER", PAY])
def test_every_spelling_of_a_type_is_its_enum_value(spelling):
    assert type_values([spelling], "automation_types") == ([PAY], [])


@pytest.mark.parametrize("bad", ["paymentreminder", "AUTOMATION_TYPE_UNSPECIFIED", 0, 99, True, None, 1.0])
def test_unknown_types_are_violations_naming_the_index(bad):
    values, violations = type_values(["bookingConfirmation", bad], "automation_types")
    assert values == [pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION]
    [(field, description)] = violations
    assert field == "automation_types[1]" and "paymentReminder" in description


def test_dict_filter_becomes_a_dead_letter_filter():
    since = datetime(2027, 3, 1, tzinfo=UTC)
    out, bad = dead_letter_filter(
        {
            "automation_types": ["paymentReminder"],
            "error_classes": "timeout",
            "booking_id": "b-1",
            "since": since,
        }
    )
    assert bad == []
    assert list(out.automation_types) == [PAY] and list(out.error_classes) == ["timeout"]
    assert out.booking_id == "b-1" and out.since.ToDatetime(tzinfo=UTC) == since
    assert not out.HasField("until") and not out.include_replayed


def test_bad_filters_are_violations():
    _, bad = dead_letter_filter({"types": [], "until": datetime(2027, 3, 1), "automation_types": ["x"]})
    assert [f for f, _ in bad] == ["filter.types", "filter.until", "filter.automation_types[0]"]


def test_none_and_proto_filters_pass_through():
    proto = pb.DeadLetterFilter(booking_id="b-1")
    assert dead_letter_filter(proto) == (proto, [])
    assert dead_letter_filter(None) == (pb.DeadLetterFilter(), [])


def test_item_errors_are_decoded():
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message="1 invalid field: recipient")
    detail = error_details_pb2.BadRequest()
    detail.field_violations.add(field="recipient", description="sitterAssignment is sent to: client, sitter")
    status.details.add().Pack(detail)
    result = item_result(pb.EnqueueItemResult(error=status))
    assert not result.ok and result.accepted is None
    assert result.error.code == "INVALID_ARGUMENT"
    assert result.error.violations == [("recipient", "sitterAssignment is sent to: client, sitter")]
    accepted = item_result(pb.EnqueueItemResult(accepted=pb.EnqueueAutomationResponse(job_id="j")))
    assert accepted.ok and accepted.accepted.job_id == "j" and accepted.error is None
