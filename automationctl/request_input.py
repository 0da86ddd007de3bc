"""Enqueue requests from a JSON/YAML file (the proto's JSON mapping) or from command-line flags."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import descriptor_pool, json_format

from automationctl import convert
from automationctl.output import InputError
from shared.names import AUTOMATION_TYPE_NAMES, RECIPIENT_NAMES
from shared.proto.automation.v1 import automation_pb2 as pb


def add_flag_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags that build one request without a file."""
    g = parser.add_argument_group("one request from flags")
    g.add_argument("--type", help="automation type, e.g. bookingConfirmation")
    g.add_argument("--recipient", help="client | owner | sitter")
    g.add_argument("--booking-id")
    g.add_argument(
        "--version", type=int, default=0, help="booking version (default 0, as when a file omits it)"
    )
    g.add_argument("--status", default="confirmed", help="booking status (default confirmed)")
    g.add_argument("--client-first-name")
    g.add_argument("--client-last-name", default="")
    g.add_argument("--client-phone", help="E.164, e.g. +14155550123")
    g.add_argument("--client-email", default="")
    g.add_argument("--sitter-id")
    g.add_argument("--sitter-name", default="")
    g.add_argument("--sitter-phone", default="")
    g.add_argument("--service", help="service name, e.g. 'Drop-in visit'")
    g.add_argument("--start", metavar="ISO", help="booking start, e.g. 2027-03-01T17:00:00Z")
    g.add_argument("--end", metavar="ISO")
    g.add_argument("--timezone", help="IANA zone, e.g. America/Los_Angeles")
    g.add_argument("--pet", action="append", default=[], metavar="NAME[:SPECIES]", help="repeatable")
    g.add_argument("--address", default="")
    g.add_argument("--amount", help="total price, e.g. 45.00")
    g.add_argument("--currency", default="USD")
    g.add_argument("--paid", action="store_true")
    g.add_argument("--notes", default="")
    g.add_argument("--key", help="idempotency key (default: type:recipient:booking:version)")
    g.add_argument("--due-at", metavar="ISO", help="when to send (default: from the settings)")


_REQUIRED_FLAGS: tuple[str, ...] = ("type", "recipient", "booking_id", "client_first_name", "client_phone")
_REQUIRED_FLAGS += ("service", "start", "end", "timezone")


def request_from_flags(args: argparse.Namespace) -> pb.EnqueueAutomationRequest:
    """The request the flags describe (the server validates the values; this checks names and presence)."""
    # an unknown name is reported before missing flags; a missing one stays unspecified until then
    automation_type = convert.automation_type(args.type) if args.type else pb.AUTOMATION_TYPE_UNSPECIFIED
    recipient = convert.recipient(args.recipient) if args.recipient else pb.RECIPIENT_UNSPECIFIED
    missing = [f"--{name.replace('_', '-')}" for name in _REQUIRED_FLAGS if not getattr(args, name)]
    if missing:
        raise InputError(f"--file, or these flags: {', '.join(missing)}")
    booking = pb.Booking(
        id=args.booking_id,
        version=args.version,
        status=convert.booking_status(args.status),
        client=pb.Client(
            first_name=args.client_first_name,
            last_name=args.client_last_name,
            phone=args.client_phone,
            email=args.client_email,
        ),
        service_name=args.service,
        timezone=args.timezone,
        pets=[_pet(p) for p in args.pet],
        address=args.address,
        paid=args.paid,
        notes=args.notes,
    )
    if args.sitter_id:
        booking.sitter.CopyFrom(pb.Sitter(id=args.sitter_id, name=args.sitter_name, phone=args.sitter_phone))
    booking.start_at.CopyFrom(convert.timestamp(args.start))
    booking.end_at.CopyFrom(convert.timestamp(args.end))
    if args.amount:
        booking.total_price.CopyFrom(convert.money(args.amount, args.currency))
    request = pb.EnqueueAutomationRequest(
        automation_type=automation_type,
        recipient=recipient,
        booking=booking,
    )
    if args.key:
        request.idempotency_key = args.key
    if args.due_at:
        request.due_at.CopyFrom(convert.timestamp(args.due_at))
    return request


def _pet(text: str) -> pb.Pet:
    name, _, species = text.partition(":")
    return pb.Pet(name=name.strip(), species=species.strip())


def requests_from_file(path: str) -> list[pb.EnqueueAutomationRequest]:
    """One request, a list of them, or ``{"requests": [...]}``, as JSON or YAML (``-``: stdin).

    ``automation_type`` and ``recipient`` may also be stable names (``bookingConfirmation``, ``client``).
    """
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    data = _parse(path, text)
    if isinstance(data, dict) and set(data) == {"requests"}:
        data = data["requests"]
    items = data if isinstance(data, list) else [data]
    if not items:
        raise InputError(f"{path}: no requests")
    out = []
    for i, item in enumerate(items):
        where = f"{path}: request {i + 1}" if isinstance(data, list) else path
        if not isinstance(item, dict):
            raise InputError(f"{where}: expected a mapping of request fields")
        try:
            out.append(json_format.ParseDict(_normalise(item), pb.EnqueueAutomationRequest()))
        except json_format.ParseError as exc:
            raise InputError(f"{where}: {_explain(exc)}") from None
    return out


_UNKNOWN_FIELD = re.compile(r'Message type "([\w.]+)" has no field named "([^"]*)" at "([\w.]+)"')


def _explain(exc: json_format.ParseError) -> str:
    """protobuf's error, with an unknown field named by its path and the fields a file may use (the
    proto names, as in the file; protobuf lists the camelCase JSON names)."""
    match = _UNKNOWN_FIELD.search(str(exc))
    if match is None:
        return str(exc).rstrip(".")
    message, field, where = match.groups()
    path = ".".join(where.split(".")[1:] + [field])
    known = [f.name for f in descriptor_pool.Default().FindMessageTypeByName(message).fields]
    return f"unknown field {path!r}; the fields there are: {', '.join(known)}"


def _parse(path: str, text: str) -> Any:
    try:
        if path.lower().endswith(".json"):
            return json.loads(text)
        return yaml.safe_load(text)  # YAML is a superset of JSON: stdin and other names work too
    except (ValueError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: not valid {'JSON' if path.endswith('.json') else 'YAML'}: {exc}") from None


def _normalise(item: dict[str, Any]) -> dict[str, Any]:
    """Stable enum names to proto names, and YAML's own timestamps back to RFC 3339 text."""
    out = _plain(item)
    for key, names, enum in (
        ("automation_type", AUTOMATION_TYPE_NAMES, pb.AutomationType.DESCRIPTOR),
        ("automationType", AUTOMATION_TYPE_NAMES, pb.AutomationType.DESCRIPTOR),
        ("recipient", RECIPIENT_NAMES, pb.Recipient.DESCRIPTOR),
    ):
        value = out.get(key)
        if isinstance(value, str):
            by_name = {name.lower(): enum.values_by_number[number].name for number, name in names.items()}
            out[key] = by_name.get(value.lower(), value)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00Z"
    return value
