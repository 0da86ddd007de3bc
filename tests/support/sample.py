"""A sample booking request, for the demo and for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.proto.automation.v1 import automation_pb2 as pb


def sample_request(
    booking_id: str,
    automation_type: int = pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT,
    recipient: int = pb.RECIPIENT_CLIENT,
    *,
    version: int = 1,
    timezone: str = "America/Los_Angeles",
) -> pb.EnqueueAutomationRequest:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    booking = pb.Booking(
        id=booking_id,
        version=version,
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
