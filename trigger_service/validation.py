"""Validation of ``EnqueueAutomationRequest`` before anything is written to Kafka.

Pure functions, no I/O: :func:`validate_enqueue_request` collects *every* violation (it never
raises), and :func:`bad_request_status` turns them into an ``INVALID_ARGUMENT`` status carrying a
``google.rpc.BadRequest`` detail, ready for ``context.abort_with_status(...)``.

Descriptions say what is wrong and what is expected but never echo submitted values, since phone
numbers and e-mail addresses are personal data.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import NamedTuple

import grpc
from google.protobuf.descriptor import EnumDescriptor
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from shared.constants import MAX_ID_LEN
from shared.contacts import MAX_EMAIL_LEN, UNSAFE_TEXT, email_problem
from shared.names import AUTOMATION_TYPE_NAMES, RECIPIENT_NAMES, SERVED_RECIPIENTS, needs_sitter
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.vocabulary import (
    ID_EXPECTED,
    ID_PATTERN,
    IDEMPOTENCY_KEY_EXPECTED,
    MAX_PHONE_LEN,
    PHONE_EXPECTED,
    PHONE_PATTERN,
    is_idempotency_key,
)

MAX_NAME_LEN = 100
MAX_PET_FIELD_LEN = 50
MAX_PETS = 20
MAX_ADDRESS_LEN = 500
MAX_NOTES_LEN = 2000
# A valid request is at most ~22 KB even with 4-byte characters everywhere; only unknown fields (or
# thousands of pets) make one bigger. Refused whole: such a job would not fit a Kafka message.
MAX_REQUEST_BYTES = 64 * 1024
# The BadRequest of a unary call travels in the trailing metadata, which clients cap (8 KiB soft limit):
# violations beyond this many bytes are left out (the message says how many were listed).
MAX_DETAIL_BYTES = 4096

_MIN_SECONDS = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp())
_END_SECONDS = int(datetime(2101, 1, 1, tzinfo=UTC).timestamp())  # exclusive


class _Format(NamedTuple):
    pattern: re.Pattern[str]
    expected: str
    max_len: int


_ID = _Format(ID_PATTERN, ID_EXPECTED, MAX_ID_LEN)
_PHONE = _Format(PHONE_PATTERN, PHONE_EXPECTED, MAX_PHONE_LEN)
_CURRENCY = _Format(re.compile(r"[A-Z]{3}"), "an ISO 4217 code of 3 uppercase letters such as USD", 3)


@dataclass(frozen=True)
class Violation:
    field: str  # dotted proto path, e.g. "booking.pets[2].name"
    description: str


def validate_enqueue_request(
    req: pb.EnqueueAutomationRequest, *, now: datetime | None = None
) -> list[Violation]:
    """Every rule violated by ``req``; an empty list means valid. ``now`` is reserved for future rules."""
    out: list[Violation] = []
    size = req.ByteSize()
    if size > MAX_REQUEST_BYTES:
        out.append(
            Violation(
                "", f"the request is {size} bytes; at most {MAX_REQUEST_BYTES}, unknown fields included"
            )
        )
        return out
    type_ok = _check_enum(out, "automation_type", req.automation_type, pb.AutomationType.DESCRIPTOR)
    recipient_ok = _check_enum(out, "recipient", req.recipient, pb.Recipient.DESCRIPTOR)
    pair_served = type_ok and recipient_ok and req.recipient in SERVED_RECIPIENTS[req.automation_type]
    if type_ok and recipient_ok and not pair_served:
        served = ", ".join(sorted(RECIPIENT_NAMES[r] for r in SERVED_RECIPIENTS[req.automation_type]))
        out.append(
            Violation("recipient", f"{AUTOMATION_TYPE_NAMES[req.automation_type]} is sent to: {served}")
        )
    if req.HasField("idempotency_key"):
        key = req.idempotency_key
        if not is_idempotency_key(key):
            out.append(Violation("idempotency_key", f"must be {IDEMPOTENCY_KEY_EXPECTED}"))
    if req.HasField("due_at"):
        _check_timestamp(out, "due_at", req, "due_at")
    if not req.HasField("booking"):
        out.append(Violation("booking", "is required"))
        return out
    # What the booking must hold depends on the (type, recipient) pair: none is derived from a pair
    # that is not served, whose own violation above says what to fix.
    _check_booking(out, req.booking, req.automation_type, req.recipient if pair_served else None)
    return out


def validate_cancel_request(req: pb.CancelAutomationsRequest) -> list[Violation]:
    """Every rule violated by a CancelAutomations request."""
    out: list[Violation] = []
    _check_format(out, "booking_id", req.booking_id, _ID, required=True)
    for i, automation_type in enumerate(req.automation_types):
        _check_enum(out, f"automation_types[{i}]", automation_type, pb.AutomationType.DESCRIPTOR)
    return out


def bad_request_status(violations: Sequence[Violation]) -> grpc.Status:
    """An INVALID_ARGUMENT ``grpc.Status`` with a packed ``google.rpc.BadRequest`` listing ``violations``."""
    return rpc_status.to_status(bad_request_proto(violations))


def bad_request_proto(violations: Sequence[Violation]) -> status_pb2.Status:
    """The ``google.rpc.Status`` of :func:`bad_request_status` (also a batch item's error), listing the
    violations that fit in MAX_DETAIL_BYTES (at least one)."""
    detail = error_details_pb2.BadRequest()
    for v in violations:
        entry = error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
        if detail.field_violations and detail.ByteSize() + entry.ByteSize() + 3 > MAX_DETAIL_BYTES:
            break
        detail.field_violations.append(entry)
    message = _summary(violations)
    if len(detail.field_violations) < len(violations):
        message += f" ({len(detail.field_violations)} of {len(violations)} violations listed)"
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=message)
    status.details.add().Pack(detail)
    return status


def _summary(violations: Sequence[Violation], shown: int = 10) -> str:
    fields = list(dict.fromkeys(v.field or "(request)" for v in violations))
    if not fields:
        return "invalid request"
    listed = ", ".join(fields[:shown]) + (", ..." if len(fields) > shown else "")
    return f"{len(fields)} invalid field{'s' if len(fields) != 1 else ''}: {listed}"


def _check_booking(out: list[Violation], b: pb.Booking, automation_type: int, recipient: int | None) -> None:
    _check_format(out, "booking.id", b.id, _ID, required=True)
    if b.version < 0:
        out.append(Violation("booking.version", "must be >= 0"))
    _check_enum(out, "booking.status", b.status, pb.BookingStatus.DESCRIPTOR)
    _check_client(out, b)
    _check_sitter(out, b, automation_type, recipient)
    _check_text(out, "booking.service_name", b.service_name, max_len=MAX_NAME_LEN, required=True)
    _check_schedule(out, b)
    _check_pets(out, b)
    _check_text(out, "booking.address", b.address, max_len=MAX_ADDRESS_LEN)
    _check_text(out, "booking.notes", b.notes, max_len=MAX_NOTES_LEN)
    _check_price(out, b, automation_type)


def _check_client(out: list[Violation], b: pb.Booking) -> None:
    if not b.HasField("client"):
        out.append(Violation("booking.client", "is required"))
        return
    c = b.client
    _check_text(out, "booking.client.first_name", c.first_name, max_len=MAX_NAME_LEN, required=True)
    _check_text(out, "booking.client.last_name", c.last_name, max_len=MAX_NAME_LEN)
    _check_format(out, "booking.client.phone", c.phone, _PHONE, required=True)
    # shared/contacts.py is the one rule; the executor sends to exactly the address it accepts
    if _check_text(out, "booking.client.email", c.email, max_len=MAX_EMAIL_LEN) and (
        problem := email_problem(c.email)
    ):
        out.append(Violation("booking.client.email", problem))


def _check_sitter(out: list[Violation], b: pb.Booking, automation_type: int, recipient: int | None) -> None:
    if not b.HasField("sitter"):
        if recipient is not None and needs_sitter(automation_type, recipient):
            out.append(Violation("booking.sitter", "is required for this automation type and recipient"))
        return
    s = b.sitter
    _check_format(out, "booking.sitter.id", s.id, _ID, required=True)
    _check_text(out, "booking.sitter.name", s.name, max_len=MAX_NAME_LEN, required=True)
    _check_format(out, "booking.sitter.phone", s.phone, _PHONE, required=recipient == pb.RECIPIENT_SITTER)


def _check_schedule(out: list[Violation], b: pb.Booking) -> None:
    start_ok = _check_timestamp(out, "booking.start_at", b, "start_at")
    end_ok = _check_timestamp(out, "booking.end_at", b, "end_at")
    if start_ok and end_ok and (b.end_at.seconds, b.end_at.nanos) <= (b.start_at.seconds, b.start_at.nanos):
        out.append(Violation("booking.end_at", "must be after booking.start_at"))
    if _check_text(out, "booking.timezone", b.timezone, max_len=MAX_NAME_LEN, required=True) and (
        b.timezone not in _known_timezones()
    ):
        out.append(Violation("booking.timezone", "must be an IANA time zone name such as America/New_York"))


def _check_timestamp(out: list[Violation], field: str, b: Message, name: str) -> bool:
    """``b.<name>`` (a Timestamp field of message ``b``) is set and within a sane range."""
    if not b.HasField(name):
        out.append(Violation(field, "is required"))
        return False
    ts = getattr(b, name)
    if not _MIN_SECONDS <= ts.seconds < _END_SECONDS:  # raw seconds: converting ±2**62 would overflow
        out.append(Violation(field, "must be between the years 2000 and 2100"))
        return False
    if not 0 <= ts.nanos <= 999_999_999:
        out.append(Violation(field, "nanos must be within 0..999999999"))
        return False
    return True


def _check_pets(out: list[Violation], b: pb.Booking) -> None:
    if len(b.pets) > MAX_PETS:
        out.append(Violation("booking.pets", f"must list at most {MAX_PETS} pets, got {len(b.pets)}"))
    for i, pet in enumerate(b.pets[:MAX_PETS]):  # not one violation per pet of a hostile list
        _check_text(out, f"booking.pets[{i}].name", pet.name, max_len=MAX_PET_FIELD_LEN, required=True)
        _check_text(out, f"booking.pets[{i}].species", pet.species, max_len=MAX_PET_FIELD_LEN)


def _check_price(out: list[Violation], b: pb.Booking, automation_type: int) -> None:
    if not b.HasField("total_price"):
        if automation_type == pb.AUTOMATION_TYPE_PAYMENT_REMINDER:
            out.append(Violation("booking.total_price", "is required for paymentReminder"))
        return
    _check_format(
        out, "booking.total_price.currency_code", b.total_price.currency_code, _CURRENCY, required=True
    )
    if b.total_price.amount_minor < 0:
        out.append(Violation("booking.total_price.amount_minor", "must be >= 0"))


def _check_enum(out: list[Violation], field: str, value: int, enum: EnumDescriptor) -> bool:
    if value != 0 and value in enum.values_by_number:
        return True
    allowed = ", ".join(v.name for v in enum.values if v.number != 0)
    if value == 0:
        out.append(Violation(field, f"is required; expected one of {allowed}"))
    elif value not in enum.values_by_number:
        out.append(Violation(field, f"unknown value {value}; expected one of {allowed}"))
    else:
        return True
    return False


def _check_text(
    out: list[Violation], field: str, value: str, *, max_len: int, required: bool = False
) -> bool:
    """Presence, length and character checks; True when ``value`` is non-empty and passed them."""
    if not value:
        if required:
            out.append(Violation(field, "is required"))
        return False
    if len(value) > max_len:
        out.append(Violation(field, f"must be at most {max_len} characters, got {len(value)}"))
        return False
    bad = UNSAFE_TEXT.search(value)
    if bad is not None:
        found = f"U+{ord(bad.group()):04X}"
        out.append(
            Violation(field, f"must not contain control, line separator or bidi characters (found {found})")
        )
        return False
    return True


def _check_format(
    out: list[Violation], field: str, value: str, fmt: _Format, *, required: bool = False
) -> None:
    """Text checks, then the field's pattern; the value itself is never echoed."""
    if not _check_text(out, field, value, max_len=fmt.max_len, required=required):
        return
    if not fmt.pattern.fullmatch(value):
        out.append(Violation(field, f"must be {fmt.expected}"))


@lru_cache(maxsize=1)
def _known_timezones() -> frozenset[str]:
    # Membership in this set (not ZoneInfo(name)) also rules out path-like keys such as "../etc".
    return frozenset(zoneinfo.available_timezones())
