"""A (type, recipient) pair that is not served is reported alone: no field requirement is derived from it."""

from __future__ import annotations

import pytest

from shared.names import SERVED_RECIPIENTS
from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.requests import fields_of, valid_request

UNSERVED = sorted(
    (t, r)
    for t in SERVED_RECIPIENTS
    for r in pb.Recipient.values()
    if r != pb.RECIPIENT_UNSPECIFIED and r not in SERVED_RECIPIENTS[t]
)


def test_there_are_unserved_pairs_to_check():
    assert (pb.AUTOMATION_TYPE_SITTER_ASSIGNMENT, pb.RECIPIENT_OWNER) in UNSERVED


@pytest.mark.parametrize(("automation_type", "recipient"), UNSERVED)
def test_unserved_pair_without_sitter_is_only_a_recipient_violation(automation_type, recipient):
    req = valid_request(automation_type=automation_type, recipient=recipient)
    req.booking.ClearField("sitter")
    assert fields_of(req) == ["recipient"]


@pytest.mark.parametrize(("automation_type", "recipient"), UNSERVED)
def test_unserved_pair_with_a_sitter_without_phone_is_only_a_recipient_violation(automation_type, recipient):
    req = valid_request(automation_type=automation_type, recipient=recipient)
    req.booking.sitter.id = "sitter-1"
    req.booking.sitter.name = "Sam"
    req.booking.sitter.phone = ""
    assert fields_of(req) == ["recipient"]


def test_served_sitter_pair_still_requires_the_sitter():
    req = valid_request(automation_type=pb.AUTOMATION_TYPE_SITTER_ASSIGNMENT, recipient=pb.RECIPIENT_CLIENT)
    req.booking.ClearField("sitter")
    assert fields_of(req) == ["booking.sitter"]


def test_other_booking_violations_are_still_reported_with_an_unserved_pair():
    req = valid_request(automation_type=pb.AUTOMATION_TYPE_SITTER_ASSIGNMENT, recipient=pb.RECIPIENT_OWNER)
    req.booking.ClearField("sitter")
    req.booking.id = "has space"
    assert fields_of(req) == ["recipient", "booking.id"]
