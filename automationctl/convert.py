"""Turning command-line text into protobuf values: stable names, ISO times, money, dead-letter filters."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from google.protobuf.descriptor import EnumDescriptor
from google.protobuf.timestamp_pb2 import Timestamp

from automationctl.output import InputError
from shared.names import AUTOMATION_TYPE_NAMES, RECIPIENT_NAMES
from shared.proto.automation.v1 import automation_pb2 as pb

# ISO 4217 currencies whose minor unit is not 1/100.
_ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
_THREE_DECIMAL = frozenset(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"])


def _enum_value(text: str, names: dict[int, str], enum: EnumDescriptor, prefix: str, what: str) -> int:
    """``bookingConfirmation``, ``booking_confirmation``, ``AUTOMATION_TYPE_BOOKING_CONFIRMATION`` or 2."""
    wanted = text.strip()
    for value, name in names.items():
        if wanted.lower() == name.lower():
            return value
    candidate = wanted.upper().replace("-", "_")
    if not candidate.startswith(prefix):
        candidate = prefix + candidate
    if candidate in enum.values_by_name:
        return enum.values_by_name[candidate].number
    if wanted.isdigit() and int(wanted) in names:
        return int(wanted)
    raise InputError(f"unknown {what} {text!r}; one of: {', '.join(names.values())}")


def automation_type(text: str) -> pb.AutomationType.ValueType:
    enum = pb.AutomationType.DESCRIPTOR
    return pb.AutomationType.ValueType(
        _enum_value(text, AUTOMATION_TYPE_NAMES, enum, "AUTOMATION_TYPE_", "automation type")
    )


def recipient(text: str) -> pb.Recipient.ValueType:
    enum = pb.Recipient.DESCRIPTOR
    return pb.Recipient.ValueType(_enum_value(text, RECIPIENT_NAMES, enum, "RECIPIENT_", "recipient"))


def booking_status(text: str) -> pb.BookingStatus.ValueType:
    names = {
        v.number: v.name.removeprefix("BOOKING_STATUS_").lower() for v in pb.BookingStatus.DESCRIPTOR.values
    }
    names.pop(0)
    enum = pb.BookingStatus.DESCRIPTOR
    return pb.BookingStatus.ValueType(_enum_value(text, names, enum, "BOOKING_STATUS_", "booking status"))


def parse_time(text: str) -> datetime:
    """An ISO 8601 date or date-time; without an offset it is UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"not an ISO 8601 time: {text!r} (e.g. 2027-03-01T17:00:00Z)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def timestamp(text: str) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(parse_time(text))
    return ts


def money(amount: str, currency: str) -> pb.Money:
    """``45.00`` ``USD`` -> 4500 minor units (JPY has none, KWD three)."""
    code = currency.strip().upper()
    digits = 0 if code in _ZERO_DECIMAL else 3 if code in _THREE_DECIMAL else 2
    try:
        value = Decimal(amount.strip())
    except InvalidOperation:
        raise InputError(f"not an amount: {amount!r} (e.g. 45.00)") from None
    minor = value.scaleb(digits)
    if not value.is_finite() or minor != minor.to_integral_value():
        raise InputError(f"{amount!r} has more than {digits} decimals for {code}")
    return pb.Money(currency_code=code, amount_minor=int(minor))


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """The dead-letter filter flags shared by ``dlq list`` and ``dlq replay``."""
    parser.add_argument(
        "--type", action="append", default=[], metavar="T", help="automation type (repeatable)"
    )
    parser.add_argument("--error-class", action="append", default=[], metavar="C", help="e.g. http_4xx")
    parser.add_argument("--booking-id", metavar="B")
    parser.add_argument("--since", metavar="ISO", help="dead-lettered at or after")
    parser.add_argument("--until", metavar="ISO", help="dead-lettered before")
    parser.add_argument("--include-replayed", action="store_true", help="also those replayed already")


def dead_letter_filter(args: argparse.Namespace) -> pb.DeadLetterFilter:
    """The ``DeadLetterFilter`` of :func:`add_filter_arguments`' flags."""
    out = pb.DeadLetterFilter(
        automation_types=[automation_type(t) for t in args.type],
        error_classes=list(args.error_class),
        booking_id=args.booking_id or "",
        include_replayed=args.include_replayed,
    )
    if args.since:
        out.since.CopyFrom(timestamp(args.since))
    if args.until:
        out.until.CopyFrom(timestamp(args.until))
    return out


def type_list(values: Sequence[str]) -> list[pb.AutomationType.ValueType]:
    return [automation_type(v) for v in values]
