"""Valid and broken EnqueueAutomation requests for the validation tests."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.proto.automation.v1 import automation_pb2 as pb
from trigger_service.validation import SERVED_RECIPIENTS, needs_sitter, validate_enqueue_request

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
