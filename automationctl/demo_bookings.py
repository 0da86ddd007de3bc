"""The demo's sample bookings: what ``automationctl demo``, ``make demo`` and the benchmarks send.

Four automations for one booking: three that send at once and a night-before reminder, which is scheduled.
The booking is placed in a time zone where it is daytime now, so nothing waits for quiet hours to end.
Tests start from the same booking (``tests/support/sample.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from shared.proto.automation.v1 import automation_pb2 as pb

REQUESTS = [
    (pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT, pb.RECIPIENT_CLIENT),
    (pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT, pb.RECIPIENT_OWNER),
    (pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION, pb.RECIPIENT_CLIENT),
    (pb.AUTOMATION_TYPE_NIGHT_BEFORE_REMINDER, pb.RECIPIENT_CLIENT),
]
ZONES = ["America/Los_Angeles", "America/New_York", "Europe/London", "Asia/Kolkata", "Asia/Tokyo"]
ZONES += ["Australia/Sydney", "Pacific/Honolulu"]


def daytime_zone(now: datetime) -> str:
    """A zone where it is between 09:00 and 20:00 now (outside the shipped quiet hours)."""
    return next(z for z in ZONES if 9 <= now.astimezone(ZoneInfo(z)).hour < 20)


def demo_request(
    booking_id: str,
    automation_type: pb.AutomationType.ValueType,
    recipient: pb.Recipient.ValueType,
    *,
    timezone: str = "America/Los_Angeles",
) -> pb.EnqueueAutomationRequest:
    """A valid request for a drop-in visit three days from now (example.com addresses, a 555 number)."""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    booking = pb.Booking(
        id=booking_id,
        version=1,
        status=pb.BOOKING_STATUS_REQUESTED,
        client=pb.Client(first_name="Ana", last_name="Lopez", phone="+14155550123", email="ana@example.com"),
        service_name="Drop-in visit",
        timezone=timezone,
        pets=[
            pb.Pet(name="Rex", species="dog"),
            pb.Pet(name="Milo", species="cat"),
            pb.Pet(name="Luna", species="cat"),
        ],
        address="1 Market St, San Francisco",
        total_price=pb.Money(currency_code="USD", amount_minor=12000),
    )
    booking.start_at.FromDatetime(start)
    booking.end_at.FromDatetime(start + timedelta(hours=1))
    return pb.EnqueueAutomationRequest(automation_type=automation_type, recipient=recipient, booking=booking)
