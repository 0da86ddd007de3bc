"""Unit tests for trigger_service.validation (pure, no network)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from shared.proto.automation.v1 import automation_pb2 as pb
from trigger_service.validation import (
    AUTOMATION_TYPE_NAMES,
    RECIPIENT_NAMES,
    SERVED_RECIPIENTS,
    Violation,
    bad_request_status,
    default_idempotency_key,
    needs_sitter,
    validate_enqueue_request,
)

START = int(datetime(2027, 3, 14, 9, 0, tzinfo=UTC).timestamp())
END = int(datetime(2027, 3, 16, 18, 0, tzinfo=UTC).timestamp())
SERVED_COMBOS = sorted((t, r) for t, rs in SERVED_RECIPIENTS.items() for r in rs)


def valid_request(**overrides) -> pb.EnqueueAutomationRequest:
    """A fully valid request; ``overrides`` replace top-level request fields."""
    fields = {"automation_type": pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION, "recipient": pb.RECIPIENT_CLIENT}
    fields.update(overrides)
    req = pb.EnqueueAutomationRequest(**fields)
    if "booking" in overrides:
        return req
    b = req.booking
    b.id = "bk_2027-0001"
    b.version = 3
    b.status = pb.BOOKING_STATUS_CONFIRMED
    b.client.CopyFrom(
        pb.Client(first_name="Ana", last_name="Silva", phone="+14155550123", email="ana@example.com")
    )
    if needs_sitter(req.automation_type, req.recipient):
        b.sitter.CopyFrom(pb.Sitter(id="sitter-7", name="Sam Lee", phone="+14155550199"))
    b.service_name = "Drop-in visit"
    b.start_at.seconds = START
    b.end_at.seconds = END
    b.timezone = "America/New_York"
    b.pets.add(name="Biscuit", species="dog")
    b.pets.add(name="Miso", species="cat")
    b.address = "1 Main St, Springfield"
    b.total_price.CopyFrom(pb.Money(currency_code="USD", amount_minor=4500))
    b.paid = False
    b.notes = "Key under the mat."
    return req


def fields_of(req: pb.EnqueueAutomationRequest) -> list[str]:
    return [v.field for v in validate_enqueue_request(req)]


# --- valid requests -------------------------------------------------------------------------------


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
    "email", ["ana@example.com", "ana.silva+pets@mail.example.co.uk", "a" * 64 + "@x.io"]
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
BAD_CHARS = ["\x00", "\x1b", "\n", "\x7f", "\x85", "\u202a", "\u202e", "\u2066", "\u2069"]


@pytest.mark.parametrize("path", TEXT_FIELDS)
@pytest.mark.parametrize("char", BAD_CHARS)
def test_control_and_bidi_characters_rejected(path, char):
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
