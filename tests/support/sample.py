"""A sample booking request for tests: the demo's booking (``automationctl/demo_bookings.py``), with the
defaults tests rely on (an owner's new-booking alert to the client) and a booking version of choice."""

from __future__ import annotations

from automationctl.demo_bookings import demo_request
from shared.proto.automation.v1 import automation_pb2 as pb


def sample_request(
    booking_id: str,
    automation_type: pb.AutomationType.ValueType = pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT,
    recipient: pb.Recipient.ValueType = pb.RECIPIENT_CLIENT,
    *,
    version: int = 1,
    timezone: str = "America/Los_Angeles",
) -> pb.EnqueueAutomationRequest:
    request = demo_request(booking_id, automation_type, recipient, timezone=timezone)
    request.booking.version = version
    return request
