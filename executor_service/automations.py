"""What an automation says, to whom: the variables a template may use, and rendering a job's message
from the templates of the automation settings file (shared/automation_settings.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from google.protobuf.timestamp_pb2 import Timestamp

from shared.automation_settings import AutomationSettings
from shared.errors import NotImplementedAutomation
from shared.names import recipient_name, type_name
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.templates import single_line


@dataclass(frozen=True)
class Contact:
    """Where a message goes; never logged unmasked."""

    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class RenderedMessage:
    """A job's message rendered from its templates: what a channel sends, and to whom."""

    automation_type: str
    recipient: str
    to: Contact
    subject: str
    body: str


_ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF", "PYG"})
_THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$"}


NO_PRICE = "to be confirmed"  # amount_due of a booking sent without total_price


def join_names(names: list[str]) -> str:
    """'Rex', 'Rex and Milo', 'Rex, Milo and Luna'."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def format_money(money: pb.Money) -> str:
    code = money.currency_code
    decimals = 0 if code in _ZERO_DECIMAL_CURRENCIES else 3 if code in _THREE_DECIMAL_CURRENCIES else 2
    units, minor = divmod(abs(money.amount_minor), 10**decimals)  # integers: exact at any size (no float)
    sign = "-" if money.amount_minor < 0 else ""
    amount = f"{sign}{units:,}" + (f".{minor:0{decimals}d}" if decimals else "")
    symbol = _SYMBOLS.get(money.currency_code)
    return f"{symbol}{amount}" if symbol else f"{amount} {money.currency_code}".strip()


def format_time(ts: Timestamp, tz: ZoneInfo) -> str:
    return _local_time(ts.seconds, tz)


@lru_cache(maxsize=4096)  # a booking's jobs (and bookings at the same hour) share their times
def _local_time(seconds: int, tz: ZoneInfo) -> str:
    local = datetime.fromtimestamp(seconds, UTC).astimezone(tz)
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
        # No price: words a sentence can end with ("Total to be confirmed."), not "Total ."
        "amount_due": format_money(booking.total_price) if booking.HasField("total_price") else NO_PRICE,
        "booking_id": booking.id,
    }


def render(request: pb.EnqueueAutomationRequest, automations: AutomationSettings) -> RenderedMessage:
    """The message a job sends, from the recipient's templates in the automation automations.

    Raises NotImplementedAutomation when the settings have no entry for the pair (it is disabled).
    """
    kind, recipient = type_name(request.automation_type), recipient_name(request.recipient)
    spec = automations.recipient(kind, recipient)
    if spec is None:
        raise NotImplementedAutomation(f"{kind} for {recipient} has no templates in {automations.source}")
    values = variables(request.booking, automations.business_name)
    owner = Contact(phone=automations.senders.owner_phone, email=automations.senders.owner_email)
    return RenderedMessage(
        automation_type=kind,
        recipient=recipient,
        to=_contact(request, owner),
        subject=single_line(spec.subject.render(values)),  # one line whatever the booking says
        body=spec.body.render(values),
    )


def _contact(request: pb.EnqueueAutomationRequest, owner: Contact) -> Contact:
    booking = request.booking
    if request.recipient == pb.RECIPIENT_OWNER:
        return owner
    if request.recipient == pb.RECIPIENT_SITTER:
        return Contact(phone=booking.sitter.phone)
    return Contact(phone=booking.client.phone, email=booking.client.email)
