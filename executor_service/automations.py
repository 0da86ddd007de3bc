"""What each automation says, to whom: templates per (type, recipient) and the variables they use.

Implemented now: ownerNewBookingAlert (client, owner) and bookingConfirmation (client).
The others are issue #5; the trigger refuses them until then (shared/implemented.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from executor_service.templates import Template
from shared.errors import NotImplementedAutomation
from shared.names import recipient_name, type_name
from shared.proto.automation.v1 import automation_pb2 as pb


@dataclass(frozen=True)
class Contact:
    """Where a message goes; never logged unmasked."""

    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class Message:
    automation_type: str
    recipient: str
    to: Contact
    subject: str
    body: str


@dataclass(frozen=True)
class _Spec:
    subject: Template
    body: Template


def _spec(name: str, subject: str, body: str) -> _Spec:
    return _Spec(Template(subject, origin=f"{name}.subject"), Template(body, origin=f"{name}.body"))


TEMPLATES: dict[tuple[int, int], _Spec] = {
    (pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT, pb.RECIPIENT_CLIENT): _spec(
        "ownerNewBookingAlert.client",
        "We got your booking request",
        "Hi {client_first_name}, thanks for booking {service_name} for {pet_names} with {business_name}, "
        "{start} to {end}. We'll confirm shortly.",
    ),
    (pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT, pb.RECIPIENT_OWNER): _spec(
        "ownerNewBookingAlert.owner",
        "New booking request from {client_name}",
        "New booking {booking_id}: {client_name} requests {service_name} for {pet_names}, "
        "{start} to {end}. Total {amount_due}.",
    ),
    (pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION, pb.RECIPIENT_CLIENT): _spec(
        "bookingConfirmation.client",
        "Your booking is confirmed",
        "Hi {client_first_name}, your {service_name} for {pet_names} is confirmed: {start} to {end}. "
        "Total {amount_due}. - {business_name}",
    ),
}

_ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF", "PYG"})
_THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$"}


def join_names(names: list[str]) -> str:
    """'Rex', 'Rex and Milo', 'Rex, Milo and Luna'."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def format_money(money: pb.Money) -> str:
    code = money.currency_code
    decimals = 0 if code in _ZERO_DECIMAL_CURRENCIES else 3 if code in _THREE_DECIMAL_CURRENCIES else 2
    amount = f"{money.amount_minor / 10**decimals:,.{decimals}f}"
    symbol = _SYMBOLS.get(money.currency_code)
    return f"{symbol}{amount}" if symbol else f"{amount} {money.currency_code}".strip()


def format_time(ts, tz: ZoneInfo) -> str:
    local = datetime.fromtimestamp(ts.seconds, UTC).astimezone(tz)
    return local.strftime("%a %b %-d, %-I:%M %p %Z")


def variables(booking: pb.Booking, business_name: str) -> dict[str, str]:
    tz = ZoneInfo(booking.timezone)
    client = booking.client
    return {
        "business_name": business_name,
        "client_first_name": client.first_name,
        "client_name": f"{client.first_name} {client.last_name}".strip(),
        "pet_names": join_names([p.name for p in booking.pets]) or "your pets",
        "service_name": booking.service_name,
        "start": format_time(booking.start_at, tz),
        "end": format_time(booking.end_at, tz),
        "sitter_name": booking.sitter.name if booking.HasField("sitter") else "",
        "amount_due": format_money(booking.total_price) if booking.HasField("total_price") else "",
        "booking_id": booking.id,
    }


def render(request: pb.EnqueueAutomationRequest, *, business_name: str, owner: Contact) -> Message:
    """Build the message an automation job sends; raise NotImplementedAutomation for pairs not built yet."""
    spec = TEMPLATES.get((request.automation_type, request.recipient))
    if spec is None:
        raise NotImplementedAutomation(
            f"{type_name(request.automation_type)} for {recipient_name(request.recipient)} is not implemented"
        )
    values = variables(request.booking, business_name)
    return Message(
        automation_type=type_name(request.automation_type),
        recipient=recipient_name(request.recipient),
        to=_contact(request, owner),
        subject=spec.subject.render(values),
        body=spec.body.render(values),
    )


def _contact(request: pb.EnqueueAutomationRequest, owner: Contact) -> Contact:
    booking = request.booking
    if request.recipient == pb.RECIPIENT_OWNER:
        return owner
    if request.recipient == pb.RECIPIENT_SITTER:
        return Contact(phone=booking.sitter.phone)
    return Contact(phone=booking.client.phone, email=booking.client.email)
