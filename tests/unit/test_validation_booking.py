"""Unit tests for trigger_service.validation: times, zones, pets, money, keys, text, the gRPC status."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from shared.proto.automation.v1 import automation_pb2 as pb
from shared.vocabulary import default_idempotency_key
from tests.support.requests import START, fields_of, valid_request
from trigger_service.validation import (
    AUTOMATION_TYPE_NAMES,
    RECIPIENT_NAMES,
    SERVED_RECIPIENTS,
    Violation,
    bad_request_status,
    validate_enqueue_request,
)


@pytest.mark.parametrize("value", ["", "S" * 101])
def test_bad_service_name(value):
    req = valid_request()
    req.booking.service_name = value
    assert fields_of(req) == ["booking.service_name"]


@pytest.mark.parametrize("name", ["start_at", "end_at"])
def test_missing_timestamps(name):
    req = valid_request()
    req.booking.ClearField(name)
    assert fields_of(req) == [f"booking.{name}"]


@pytest.mark.parametrize("end", [START, START - 3600])
def test_end_must_be_after_start(end):
    req = valid_request()
    req.booking.end_at.seconds = end
    assert fields_of(req) == ["booking.end_at"]


def test_end_after_start_compares_nanos():
    req = valid_request()
    req.booking.end_at.seconds = START
    req.booking.end_at.nanos = 1
    assert validate_enqueue_request(req) == []


Y1999 = int(datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())
Y2101 = int(datetime(2101, 1, 1, tzinfo=UTC).timestamp())


@pytest.mark.parametrize("name", ["start_at", "end_at"])
@pytest.mark.parametrize(
    ("seconds", "nanos"),
    [
        (2**62, 0),
        (-(2**62), 0),
        (2**63 - 1, 0),
        (-(2**63), 0),
        (Y1999, 0),
        (Y2101, 0),
        (START, -1),
        (START, 1_000_000_000),
    ],
)
def test_timestamps_out_of_range(name, seconds, nanos):
    req = valid_request()
    req.booking.start_at.seconds = START - 1  # keep end > start for the in-range cases
    ts = getattr(req.booking, name)
    ts.seconds = seconds
    ts.nanos = nanos
    assert fields_of(req) == [f"booking.{name}"]


BAD_TIMEZONES = [
    "",
    "Mars/Olympus",
    "../../etc/passwd",
    "/etc/localtime",
    "America/New_York/..",
    "America/../Europe/Paris",
    "UTC+5",
    "america/new_york",
    "America/New_York ",
    "T" * 101,
    "Europe\\Berlin",
]


@pytest.mark.parametrize("tz", BAD_TIMEZONES)
def test_bad_timezone(tz):
    req = valid_request()
    req.booking.timezone = tz
    assert fields_of(req) == ["booking.timezone"]


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin", "Asia/Kolkata", "America/Argentina/Buenos_Aires"])
def test_good_timezone(tz):
    req = valid_request()
    req.booking.timezone = tz
    assert validate_enqueue_request(req) == []


# --- pets, free text, price -----------------------------------------------------------------------


def test_too_many_pets():
    req = valid_request()
    for i in range(19):
        req.booking.pets.add(name=f"Pet {i}")
    assert len(req.booking.pets) == 21
    assert fields_of(req) == ["booking.pets"]


@pytest.mark.parametrize(("field", "value"), [("name", ""), ("name", "N" * 51), ("species", "S" * 51)])
def test_bad_pet_fields_are_indexed(field, value):
    req = valid_request()
    req.booking.pets.add(name="Third")
    setattr(req.booking.pets[2], field, value)
    assert fields_of(req) == [f"booking.pets[2].{field}"]


@pytest.mark.parametrize(("field", "limit"), [("address", 500), ("notes", 2000)])
def test_free_text_limits(field, limit):
    req = valid_request()
    setattr(req.booking, field, "x" * (limit + 1))
    assert fields_of(req) == [f"booking.{field}"]


def test_total_price_required_for_payment_reminder():
    req = valid_request(automation_type=pb.AUTOMATION_TYPE_PAYMENT_REMINDER)
    req.booking.ClearField("total_price")
    assert fields_of(req) == ["booking.total_price"]


@pytest.mark.parametrize("code", ["", "usd", "US", "USDD", "U$D", "ÜSD"])
def test_bad_currency_code(code):
    req = valid_request()
    req.booking.total_price.currency_code = code
    assert fields_of(req) == ["booking.total_price.currency_code"]


def test_negative_amount():
    req = valid_request(automation_type=pb.AUTOMATION_TYPE_PAYMENT_REMINDER)
    req.booking.total_price.amount_minor = -1
    assert fields_of(req) == ["booking.total_price.amount_minor"]


# --- idempotency key ------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["", "k" * 201, "has space", "tab\tkey", "ключ", "key\u202e"])
def test_bad_idempotency_key(key):
    assert fields_of(valid_request(idempotency_key=key)) == ["idempotency_key"]


def test_unset_idempotency_key_is_fine():
    req = valid_request()
    assert not req.HasField("idempotency_key")
    assert validate_enqueue_request(req) == []


# --- characters -----------------------------------------------------------------------------------

TEXT_FIELDS = [
    "client.first_name",
    "client.last_name",
    "service_name",
    "address",
    "notes",
    "pets[0].name",
    "pets[0].species",
    "sitter.name",
]
BAD_CHARS = ["\x00", "\x1b", "\n", "\r", "\x0b", "\x0c", "\x7f", "\x85", "\u2028", "\u2029"]
BAD_CHARS += ["\u202a", "\u202e", "\u2066", "\u2069"]
BAD_CHARS += ["\u061c", "\u200e", "\u200f"]  # the implicit marks: Unicode Bidi_Control too


@pytest.mark.parametrize("path", TEXT_FIELDS)
@pytest.mark.parametrize("char", BAD_CHARS)
def test_control_line_separator_and_bidi_characters_rejected(path, char):
    req = valid_request(automation_type=pb.AUTOMATION_TYPE_SITTER_ASSIGNMENT, recipient=pb.RECIPIENT_SITTER)
    parent_path, _, attr = path.rpartition(".")
    parent = req.booking
    for part in filter(None, parent_path.split(".")):
        parent = parent.pets[0] if part == "pets[0]" else getattr(parent, part)
    setattr(parent, attr, f"Ok{char}text")
    violations = validate_enqueue_request(req)
    assert [v.field for v in violations] == [f"booking.{path}"]
    assert f"U+{ord(char):04X}" in violations[0].description


# --- many violations at once ----------------------------------------------------------------------


def test_all_violations_are_reported_together():
    req = valid_request()
    req.booking.client.phone = "555-0123"
    req.booking.client.email = "not-an-email"
    req.booking.end_at.seconds = START - 60
    assert sorted(fields_of(req)) == ["booking.client.email", "booking.client.phone", "booking.end_at"]


def test_garbage_request_reports_everything_without_raising():
    req = pb.EnqueueAutomationRequest(automation_type=99, recipient=42, idempotency_key="")
    b = req.booking
    b.version = -5
    b.status = 17
    b.start_at.seconds = 2**62
    b.end_at.seconds = -(2**62)
    b.timezone = "../../etc/passwd"
    b.total_price.amount_minor = -100
    fields = set(fields_of(req))
    assert fields >= {
        "automation_type",
        "recipient",
        "idempotency_key",
        "booking.id",
        "booking.version",
        "booking.status",
        "booking.client",
        "booking.service_name",
        "booking.start_at",
        "booking.end_at",
        "booking.timezone",
        "booking.total_price.currency_code",
        "booking.total_price.amount_minor",
    }


# --- names, keys, status --------------------------------------------------------------------------


def test_name_maps_cover_every_enum_value():
    assert set(AUTOMATION_TYPE_NAMES) == set(pb.AutomationType.values()) - {0}
    assert set(RECIPIENT_NAMES) == set(pb.Recipient.values()) - {0}
    assert set(SERVED_RECIPIENTS) == set(AUTOMATION_TYPE_NAMES)
    assert AUTOMATION_TYPE_NAMES[pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT] == "ownerNewBookingAlert"
    assert AUTOMATION_TYPE_NAMES[pb.AUTOMATION_TYPE_POST_VISIT_THANK_YOU] == "postVisitThankYou"


def test_default_idempotency_key():
    req = valid_request(
        automation_type=pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT, recipient=pb.RECIPIENT_OWNER
    )
    req.booking.id = "b-123"
    req.booking.version = 7
    assert default_idempotency_key(req) == "ownerNewBookingAlert:owner:b-123:7"


def test_violation_is_frozen():
    v = Violation("booking.id", "is required")
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.field = "other"  # type: ignore[misc]


def test_bad_request_status_carries_bad_request_detail():
    req = valid_request()
    req.booking.id = ""
    req.booking.client.phone = "123"
    req.booking.client.email = "x"
    violations = validate_enqueue_request(req)
    assert len(violations) == 3

    status = bad_request_status(violations)

    assert status.code is grpc.StatusCode.INVALID_ARGUMENT
    assert status.details == "3 invalid fields: booking.id, booking.client.phone, booking.client.email"
    ((key, raw),) = status.trailing_metadata
    assert key == "grpc-status-details-bin"
    proto = status_pb2.Status.FromString(raw)
    assert proto.code == 3
    assert proto.message == status.details
    bad_request = error_details_pb2.BadRequest()
    assert proto.details[0].Unpack(bad_request)
    assert [(fv.field, fv.description) for fv in bad_request.field_violations] == [
        (v.field, v.description) for v in violations
    ]


def test_bad_request_status_message_is_bounded():
    violations = [Violation(f"booking.pets[{i}].name", "is required") for i in range(15)]
    status = bad_request_status(violations)
    assert status.details.startswith("15 invalid fields: booking.pets[0].name, ")
    assert status.details.endswith(", ...")
    assert "booking.pets[10].name" not in status.details
