"""Stable names of enum values, as used in idempotency keys, Kafka headers, EventLog rows and metric labels.

The automation type names are those of the design we replace (``ownerNewBookingAlert``, ...).
"""

from __future__ import annotations

from shared.proto.automation.v1 import automation_pb2 as pb

AUTOMATION_TYPE_NAMES: dict[int, str] = {
    pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT: "ownerNewBookingAlert",
    pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION: "bookingConfirmation",
    pb.AUTOMATION_TYPE_NIGHT_BEFORE_REMINDER: "nightBeforeReminder",
    pb.AUTOMATION_TYPE_SITTER_ASSIGNMENT: "sitterAssignment",
    pb.AUTOMATION_TYPE_PAYMENT_REMINDER: "paymentReminder",
    pb.AUTOMATION_TYPE_POST_VISIT_THANK_YOU: "postVisitThankYou",
}

RECIPIENT_NAMES: dict[int, str] = {
    pb.RECIPIENT_CLIENT: "client",
    pb.RECIPIENT_OWNER: "owner",
    pb.RECIPIENT_SITTER: "sitter",
}

# Which recipients each automation type serves.
SERVED_RECIPIENTS: dict[int, frozenset[int]] = {
    pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT: frozenset({pb.RECIPIENT_CLIENT, pb.RECIPIENT_OWNER}),
    pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION: frozenset({pb.RECIPIENT_CLIENT}),
    pb.AUTOMATION_TYPE_NIGHT_BEFORE_REMINDER: frozenset({pb.RECIPIENT_CLIENT, pb.RECIPIENT_SITTER}),
    pb.AUTOMATION_TYPE_SITTER_ASSIGNMENT: frozenset({pb.RECIPIENT_SITTER, pb.RECIPIENT_CLIENT}),
    pb.AUTOMATION_TYPE_PAYMENT_REMINDER: frozenset({pb.RECIPIENT_CLIENT}),
    pb.AUTOMATION_TYPE_POST_VISIT_THANK_YOU: frozenset({pb.RECIPIENT_CLIENT}),
}


def type_name(value: int) -> str:
    return AUTOMATION_TYPE_NAMES.get(value, "unknown")


def recipient_name(value: int) -> str:
    return RECIPIENT_NAMES.get(value, "unknown")


def needs_sitter(automation_type: int, recipient: int) -> bool:
    """A sitter must be on the booking for sitter assignments and for anything sent to the sitter."""
    return automation_type == pb.AUTOMATION_TYPE_SITTER_ASSIGNMENT or recipient == pb.RECIPIENT_SITTER
