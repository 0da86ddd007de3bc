"""Unit tests for trigger_service.validation: enums, ids, client and sitter (pure, no network)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.requests import SERVED_COMBOS, fields_of, valid_request
from trigger_service.validation import (
    bad_request_status,
    needs_sitter,
    validate_enqueue_request,
)


@pytest.mark.parametrize(("automation_type", "recipient"), SERVED_COMBOS)
def test_valid_request_has_no_violations(automation_type, recipient):
    req = valid_request(automation_type=automation_type, recipient=recipient)
    assert validate_enqueue_request(req) == []
    assert validate_enqueue_request(req, now=datetime(2027, 1, 1, tzinfo=UTC)) == []


def test_optional_fields_may_be_empty():
    req = valid_request()
    b = req.booking
    b.client.last_name = ""
    b.client.email = ""
    b.address = ""
    b.notes = ""
    b.version = 0
    del b.pets[:]
    b.ClearField("total_price")
    assert validate_enqueue_request(req) == []


def test_sitter_phone_is_optional_unless_sitter_is_recipient():
    req = valid_request(automation_type=pb.AUTOMATION_TYPE_SITTER_ASSIGNMENT, recipient=pb.RECIPIENT_CLIENT)
    req.booking.sitter.phone = ""
    assert validate_enqueue_request(req) == []


def test_limits_are_inclusive():
    req = valid_request(idempotency_key="k" * 200)
    b = req.booking
    b.id = "a" * 64
    b.client.first_name = "é" * 100  # limits count characters, not bytes
    b.address = "x" * 500
    b.notes = "y" * 2000
    del b.pets[:]
    for _ in range(20):
        b.pets.add(name="p" * 50, species="s" * 50)
    assert validate_enqueue_request(req) == []


# --- enums and recipients -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 7, 99, -1])
def test_bad_automation_type(value):
    violations = validate_enqueue_request(valid_request(automation_type=value))
    assert [v.field for v in violations] == ["automation_type"]


@pytest.mark.parametrize("value", [0, 4, 99])
def test_bad_recipient(value):
    assert fields_of(valid_request(recipient=value)) == ["recipient"]


def test_unserved_recipient_names_the_served_ones():
    req = valid_request(automation_type=pb.AUTOMATION_TYPE_PAYMENT_REMINDER, recipient=pb.RECIPIENT_OWNER)
    (violation,) = validate_enqueue_request(req)
    assert violation.field == "recipient"
    assert "client" in violation.description
    assert "owner" not in violation.description


@pytest.mark.parametrize("value", [0, 42])
def test_bad_booking_status(value):
    req = valid_request()
    req.booking.status = value
    assert fields_of(req) == ["booking.status"]


# --- booking and ids ------------------------------------------------------------------------------


def test_missing_booking_is_one_violation():
    req = pb.EnqueueAutomationRequest(
        automation_type=pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION, recipient=pb.RECIPIENT_CLIENT
    )
    assert fields_of(req) == ["booking"]


BAD_IDS = ["", "a" * 65, "has space", "a/b", "../x", "a.b", "ünïcode", "id\n", "١٢٣"]


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_bad_booking_id(bad_id):
    req = valid_request()
    req.booking.id = bad_id
    assert fields_of(req) == ["booking.id"]


def test_negative_version():
    req = valid_request()
    req.booking.version = -1
    assert fields_of(req) == ["booking.version"]


# --- client ---------------------------------------------------------------------------------------


def test_missing_client():
    req = valid_request()
    req.booking.ClearField("client")
    assert fields_of(req) == ["booking.client"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_name", ""),
        ("first_name", "A" * 101),
        ("last_name", "S" * 101),
    ],
)
def test_bad_client_names(field, value):
    req = valid_request()
    setattr(req.booking.client, field, value)
    assert fields_of(req) == [f"booking.client.{field}"]


BAD_PHONES = [
    "",
    "4155550123",
    "+04155550123",
    "+1 415 555 0123",
    "+1-415-555-0123",
    "+1415",
    "+12345",
    "+1234567890123456",
    "+1415555012a",
    "+\u0661\u0664\u0661\u0665\u0665\u0665\u0665\u0660\u0661\u0662\u0663",
    "+14155550123\n",
    "++14155550123",
    "0014155550123",
]


@pytest.mark.parametrize("phone", BAD_PHONES)
def test_bad_client_phone(phone):
    req = valid_request()
    req.booking.client.phone = phone
    violations = validate_enqueue_request(req)
    assert [v.field for v in violations] == ["booking.client.phone"]


BAD_EMAILS = [
    "ana",
    "ana@",
    "@example.com",
    "ana@example",
    "ana@@example.com",
    "ana@exa@mple.com",
    "an a@example.com",
    "ana@example..com",
    "ana@.example.com",
    "ana@example.com.",
    "a" * 65 + "@example.com",
    "ana@" + "d" * 250 + ".com",
    "ana@exam\tple.com",
    # issue #13: what would reach another mailbox, or a header, if it were taken for an address
    "x<evil@attacker.example",
    "ana@example.com%0d%0aBcc:evil",
    "ana@example.com\r\nBcc: evil@attacker.example",
    "Ana <ana@example.com>",
    "ana@example.com, evil@attacker.example",
    "ana(comment)@example.com",
    '"ana"@example.com',
    "ana%evil@example.com",
    "=?utf-8?q?a=0D=0ABcc:_x?=@example.com",
    "ana@[127.0.0.1]",
    "ánä@example.com",
    "ana@example.com\u2028",
]


@pytest.mark.parametrize("email", BAD_EMAILS)
def test_bad_client_email(email):
    req = valid_request()
    req.booking.client.email = email
    violations = validate_enqueue_request(req)
    assert [v.field for v in violations] == ["booking.client.email"]


def test_personal_data_is_never_echoed():
    req = valid_request(automation_type=pb.AUTOMATION_TYPE_SITTER_ASSIGNMENT, recipient=pb.RECIPIENT_SITTER)
    req.booking.client.phone = "+1 (415) 867-5309"
    req.booking.client.email = "jenny.private@@secret-domain"
    req.booking.sitter.phone = "867-5309 ext 42"
    violations = validate_enqueue_request(req)
    assert len(violations) == 3
    for text in ("867", "5309", "jenny", "secret-domain"):
        assert all(text not in v.description for v in violations)
        assert text not in bad_request_status(violations).details


@pytest.mark.parametrize(
    "email",
    ["ana@example.com", "ana.silva+pets@mail.example.co.uk", "a" * 64 + "@x.io", "ana@bücher.example"],
)
def test_good_client_email(email):
    req = valid_request()
    req.booking.client.email = email
    assert validate_enqueue_request(req) == []


# --- sitter ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("automation_type", "recipient"),
    [
        (pb.AUTOMATION_TYPE_SITTER_ASSIGNMENT, pb.RECIPIENT_CLIENT),
        (pb.AUTOMATION_TYPE_SITTER_ASSIGNMENT, pb.RECIPIENT_SITTER),
        (pb.AUTOMATION_TYPE_NIGHT_BEFORE_REMINDER, pb.RECIPIENT_SITTER),
    ],
)
def test_sitter_required_when_needed(automation_type, recipient):
    req = valid_request(automation_type=automation_type, recipient=recipient)
    req.booking.ClearField("sitter")
    assert fields_of(req) == ["booking.sitter"]


def test_needs_sitter():
    assert needs_sitter(pb.AUTOMATION_TYPE_SITTER_ASSIGNMENT, pb.RECIPIENT_CLIENT)
    assert needs_sitter(pb.AUTOMATION_TYPE_NIGHT_BEFORE_REMINDER, pb.RECIPIENT_SITTER)
    assert not needs_sitter(pb.AUTOMATION_TYPE_NIGHT_BEFORE_REMINDER, pb.RECIPIENT_CLIENT)
    assert not needs_sitter(pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT, pb.RECIPIENT_OWNER)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", ""),
        ("id", "s" * 65),
        ("id", "sitter 7"),
        ("name", ""),
        ("name", "N" * 101),
        ("phone", ""),
        ("phone", "555-0199"),
    ],
)
def test_bad_sitter_fields_when_sitter_is_recipient(field, value):
    req = valid_request(
        automation_type=pb.AUTOMATION_TYPE_NIGHT_BEFORE_REMINDER, recipient=pb.RECIPIENT_SITTER
    )
    setattr(req.booking.sitter, field, value)
    assert fields_of(req) == [f"booking.sitter.{field}"]


def test_present_sitter_is_validated_even_when_not_needed():
    req = valid_request()
    req.booking.sitter.CopyFrom(pb.Sitter(id="bad id", name="Sam", phone="12345"))
    assert fields_of(req) == ["booking.sitter.id", "booking.sitter.phone"]


# --- service, schedule, time zone -----------------------------------------------------------------
