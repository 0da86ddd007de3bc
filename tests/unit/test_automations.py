"""Unit tests for executor_service.automations: formatting helpers, rendering and the template table."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from executor_service.automations import (
    Contact,
    RenderedMessage,
    format_money,
    format_time,
    join_names,
    render,
    variables,
)
from shared.automation_settings import Senders, load_automation_settings
from shared.errors import NotImplementedAutomation
from shared.names import SERVED_RECIPIENTS, recipient_name, type_name
from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.sample import sample_request

BUSINESS = "Happy Paws Sitting"
OWNER = Contact(phone="+14155559876", email="owner@happypaws.example")
SETTINGS = dataclasses.replace(
    load_automation_settings(),  # the shipped file
    business_name=BUSINESS,
    senders=Senders(
        sms_from="+14155550100", email_from="hi@x.example", owner_phone=OWNER.phone, owner_email=OWNER.email
    ),
)
SERVED_PAIRS = sorted((t, r) for t, rs in SERVED_RECIPIENTS.items() for r in rs)
CLIENT_PHONE = "+14155550123"  # tests.support.sample's client
CLIENT_EMAIL = "ana@example.com"
NEW_YORK = ZoneInfo("America/New_York")


def ts(dt: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(dt)
    return t


# --- join_names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ([], ""),
        (["Rex"], "Rex"),
        (["Rex", "Milo"], "Rex and Milo"),
        (["Rex", "Milo", "Luna"], "Rex, Milo and Luna"),
        (["Rex", "Milo", "Luna", "Bo"], "Rex, Milo, Luna and Bo"),
    ],
)
def test_join_names(names: list[str], expected: str) -> None:
    assert join_names(names) == expected


# --- format_money ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "amount_minor", "expected"),
    [
        ("USD", 12000, "$120.00"),
        ("USD", 5, "$0.05"),
        ("USD", 123456789, "$1,234,567.89"),
        ("EUR", 12000, "€120.00"),
        ("EUR", 1999, "€19.99"),
        ("GBP", 250, "£2.50"),
        ("CAD", 1000, "CA$10.00"),
        ("AUD", 1000, "A$10.00"),
        # JPY has no symbol in the table and no minor unit: the amount is whole yen.
        ("JPY", 1200, "1,200 JPY"),
        ("KRW", 50000, "50,000 KRW"),
        # Unknown currencies: two decimals and the ISO code after the amount.
        ("XYZ", 12345, "123.45 XYZ"),
        ("CHF", 100000, "1,000.00 CHF"),
        # The largest int64: exact (through a float it read $92,233,720,368,547,760.00).
        ("USD", 2**63 - 1, "$92,233,720,368,547,758.07"),
        ("JPY", 2**63 - 1, "9,223,372,036,854,775,807 JPY"),
    ],
)
def test_format_money(currency: str, amount_minor: int, expected: str) -> None:
    assert format_money(pb.Money(currency_code=currency, amount_minor=amount_minor)) == expected


@pytest.mark.parametrize("currency", ["KWD", "BHD"])
def test_format_money_three_decimal_currencies(currency: str) -> None:
    # Money.amount_minor is documented as "Amount in the currency's minor unit": 1000 fils = 1 dinar.
    amount, code = format_money(pb.Money(currency_code=currency, amount_minor=1000)).split()
    assert code == currency
    assert float(amount.replace(",", "")) == 1.0


# --- format_time ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        # DST starts Sun Mar 8 2026 at 02:00 local (07:00 UTC): 1:59 EST is followed by 3:00 EDT.
        (datetime(2026, 3, 8, 6, 30, tzinfo=UTC), "Sun Mar 8, 1:30 AM EST"),
        (datetime(2026, 3, 8, 7, 30, tzinfo=UTC), "Sun Mar 8, 3:30 AM EDT"),
        # DST ends Sun Nov 1 2026 at 02:00 EDT (06:00 UTC): 1:30 happens twice, first EDT then EST.
        (datetime(2026, 11, 1, 5, 30, tzinfo=UTC), "Sun Nov 1, 1:30 AM EDT"),
        (datetime(2026, 11, 1, 6, 30, tzinfo=UTC), "Sun Nov 1, 1:30 AM EST"),
        # Afternoon hour, two-digit day, 12-hour clock without a leading zero.
        (datetime(2026, 7, 14, 21, 5, tzinfo=UTC), "Tue Jul 14, 5:05 PM EDT"),
        (datetime(2026, 12, 25, 17, 0, tzinfo=UTC), "Fri Dec 25, 12:00 PM EST"),
    ],
)
def test_format_time_new_york_across_dst(utc: datetime, expected: str) -> None:
    assert format_time(ts(utc), NEW_YORK) == expected


def test_format_time_far_east_zone_shows_the_next_local_day() -> None:
    # Pacific/Kiritimati is UTC+14: noon UTC on Sunday is 2 AM on Monday there.
    assert format_time(ts(datetime(2026, 3, 8, 12, 0, tzinfo=UTC)), ZoneInfo("Pacific/Kiritimati")) == (
        "Mon Mar 9, 2:00 AM +14"
    )


def test_format_time_far_west_zone_shows_the_previous_local_day() -> None:
    # Pacific/Pago_Pago is UTC-11: 05:00 UTC on Monday is 6 PM on Sunday there.
    assert format_time(ts(datetime(2026, 3, 9, 5, 0, tzinfo=UTC)), ZoneInfo("Pacific/Pago_Pago")) == (
        "Sun Mar 8, 6:00 PM SST"
    )


def test_format_time_cache_keeps_the_zone_apart() -> None:
    # format_time caches by (seconds, zone): the same instant, asked again and in another zone
    instant = ts(datetime(2026, 3, 8, 12, 0, tzinfo=UTC))
    assert format_time(instant, NEW_YORK) == "Sun Mar 8, 8:00 AM EDT"
    assert format_time(instant, ZoneInfo("Pacific/Kiritimati")) == "Mon Mar 9, 2:00 AM +14"
    assert format_time(instant, NEW_YORK) == "Sun Mar 8, 8:00 AM EDT"


# --- variables ------------------------------------------------------------------------------------


def test_variables_of_the_sample_booking() -> None:
    request = sample_request("bk-42")
    values = variables(request.booking, BUSINESS)
    tz = ZoneInfo("America/Los_Angeles")
    assert values["business_name"] == BUSINESS
    assert values["client_first_name"] == "Ana"
    assert values["client_name"] == "Ana Lopez"
    assert values["pet_names"] == "Rex, Milo and Luna"
    assert values["service_name"] == "Drop-in visit"
    assert values["start"] == format_time(request.booking.start_at, tz)
    assert values["end"] == format_time(request.booking.end_at, tz)
    assert values["amount_due"] == "$120.00"
    assert values["booking_id"] == "bk-42"
    assert values["sitter_name"] == ""  # the sample has no sitter


def test_variables_defaults_without_pets_price_or_last_name() -> None:
    request = sample_request("bk-43")
    booking = request.booking
    del booking.pets[:]
    booking.ClearField("total_price")
    booking.client.last_name = ""
    booking.sitter.CopyFrom(pb.Sitter(id="s-1", name="Sam Lee", phone="+14155550199"))
    values = variables(booking, BUSINESS)
    assert values["pet_names"] == "your pets"
    assert values["amount_due"] == "to be confirmed"  # "Total to be confirmed.", not "Total ."
    assert values["client_name"] == "Ana"
    assert values["sitter_name"] == "Sam Lee"


# --- render ---------------------------------------------------------------------------------------


def render_pair(automation_type: int, recipient: int) -> tuple[pb.EnqueueAutomationRequest, RenderedMessage]:
    request = sample_request("bk-2026-0007", automation_type, recipient)
    request.booking.sitter.CopyFrom(pb.Sitter(id="s-1", name="Sam Lee", phone="+14155550199"))
    return request, render(request, SETTINGS)


def test_render_owner_new_booking_alert_for_client() -> None:
    request, message = render_pair(pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT, pb.RECIPIENT_CLIENT)
    values = variables(request.booking, BUSINESS)
    assert message.automation_type == "ownerNewBookingAlert"
    assert message.recipient == "client"
    assert message.subject == "We got your booking request"
    assert message.body.startswith("Hi Ana, ")
    for part in ("Drop-in visit", "Rex, Milo and Luna", BUSINESS, values["start"], values["end"]):
        assert part in message.body
    assert message.to == Contact(phone=CLIENT_PHONE, email=CLIENT_EMAIL)


def test_render_owner_new_booking_alert_for_owner() -> None:
    request, message = render_pair(pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT, pb.RECIPIENT_OWNER)
    values = variables(request.booking, BUSINESS)
    assert message.automation_type == "ownerNewBookingAlert"
    assert message.recipient == "owner"
    assert message.subject == "New booking request from Ana Lopez"
    for part in ("bk-2026-0007", "Ana Lopez", "Drop-in visit", "Rex, Milo and Luna", "Total $120.00"):
        assert part in message.body
    assert values["start"] in message.body and values["end"] in message.body
    # The owner's message goes to the owner, and carries none of the client's contact details.
    assert message.to == OWNER
    contact = dataclasses.asdict(message.to)
    assert CLIENT_PHONE not in contact.values() and CLIENT_EMAIL not in contact.values()
    assert CLIENT_PHONE not in message.body + message.subject
    assert CLIENT_EMAIL not in message.body + message.subject


def test_render_booking_confirmation_for_client() -> None:
    request, message = render_pair(pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION, pb.RECIPIENT_CLIENT)
    values = variables(request.booking, BUSINESS)
    assert message.automation_type == "bookingConfirmation"
    assert message.recipient == "client"
    assert message.subject == "Your booking is confirmed"
    assert message.body.startswith("Hi Ana, your Drop-in visit for Rex, Milo and Luna is confirmed: ")
    assert f"{values['start']} to {values['end']}" in message.body
    assert message.body.endswith(f"Total $120.00. - {BUSINESS}")
    assert message.to == Contact(phone=CLIENT_PHONE, email=CLIENT_EMAIL)


@pytest.mark.parametrize(
    ("automation_type", "recipient", "subject", "parts"),
    [
        (3, 1, "See you tomorrow: Drop-in visit for Rex, Milo and Luna", ["Hi Ana,", "starts tomorrow"]),
        (
            3,
            3,
            "Tomorrow: Drop-in visit for Rex, Milo and Luna",
            ["Hi Sam Lee,", "(Ana Lopez)", "bk-2026-0007"],
        ),
        (4, 3, "You have a visit: Drop-in visit for Rex, Milo and Luna", ["Hi Sam Lee,", "Ana Lopez's Rex"]),
        (4, 1, "Meet your sitter: Sam Lee", ["Hi Ana, Sam Lee will be looking after Rex, Milo and Luna"]),
        (5, 1, "Payment reminder: $120.00 due", ["Hi Ana,", "$120.00 is due for your Drop-in visit"]),
        (6, 1, f"Thank you from {BUSINESS}", ["Hi Ana, thank you for trusting us with Rex, Milo and Luna!"]),
    ],
    ids=["night-client", "night-sitter", "assign-sitter", "assign-client", "payment", "thanks"],
)
def test_render_the_other_four_types(automation_type, recipient, subject, parts) -> None:
    request, message = render_pair(automation_type, recipient)
    assert message.subject == subject
    for part in parts:
        assert part in message.body
    assert message.body.endswith(f"- {BUSINESS}")
    if recipient == pb.RECIPIENT_SITTER:
        assert message.to == Contact(phone="+14155550199")  # the sitter's phone, nothing of the client's
    else:
        assert message.to == Contact(phone=CLIENT_PHONE, email=CLIENT_EMAIL)


@pytest.mark.parametrize(("automation_type", "recipient"), SERVED_PAIRS)
def test_render_every_served_pair_fully_substitutes(automation_type: int, recipient: int) -> None:
    _request, message = render_pair(automation_type, recipient)
    assert message.automation_type == type_name(automation_type)
    assert message.recipient == recipient_name(recipient)
    for text in (message.subject, message.body):
        assert text and "{" not in text and "}" not in text


def test_render_does_not_reformat_client_supplied_text() -> None:
    request = sample_request("bk-1", pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION, pb.RECIPIENT_CLIENT)
    request.booking.client.first_name = "{business_name}"
    request.booking.service_name = "{0.__class__}"
    message = render(request, SETTINGS)
    assert message.body.startswith("Hi {business_name}, your {0.__class__} for ")


@pytest.mark.parametrize("brk", ["\r\n", "\n", "\r", "\x0b", "\x0c", "\x85", "\u2028", "\u2029", "\x00"])
def test_render_keeps_every_subject_on_one_line(brk: str) -> None:
    """Validation refuses these in names; a job enqueued before it did still renders a one-line subject."""
    request = sample_request("bk-1", pb.AUTOMATION_TYPE_SITTER_ASSIGNMENT, pb.RECIPIENT_CLIENT)
    request.booking.sitter.CopyFrom(pb.Sitter(id="s-1", name=f"Bo{brk}X-Injected: yes", phone="+14155550199"))
    message = render(request, SETTINGS)
    assert message.subject == "Meet your sitter: Bo X-Injected: yes"
    assert f"Bo{brk}X-Injected: yes" in message.body  # the body is left as the caller wrote it


@pytest.mark.parametrize(
    ("automation_type", "recipient"),
    [
        (pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT, pb.RECIPIENT_SITTER),  # not a served recipient
        (pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION, pb.RECIPIENT_OWNER),
        (pb.AUTOMATION_TYPE_UNSPECIFIED, pb.RECIPIENT_CLIENT),
    ],
)
def test_render_of_a_pair_without_template_raises(automation_type: int, recipient: int) -> None:
    request = sample_request("bk-1", automation_type, recipient)
    with pytest.raises(NotImplementedAutomation, match="has no templates") as excinfo:
        render(request, SETTINGS)
    assert recipient_name(recipient) in str(excinfo.value)


def test_the_shipped_settings_have_templates_for_every_served_pair() -> None:
    shipped = load_automation_settings()
    for automation_type, recipient in SERVED_PAIRS:
        spec = shipped.recipient(type_name(automation_type), recipient_name(recipient))
        assert spec is not None and spec.enabled and spec.body.text
