"""Pure parts of pause and resume: which pause holds a job, and what a request is allowed to say."""

from __future__ import annotations

import pytest

from shared.pauses import EVERYTHING, PauseSet
from shared.proto.automation.v1 import automation_pb2 as pb
from trigger_service.operator_validation import BadQuery
from trigger_service.pause_validation import parse_pause_request


def test_nothing_paused_holds_nothing() -> None:
    assert not PauseSet()
    assert PauseSet().holding("bookingConfirmation", "sms") is None


@pytest.mark.parametrize(
    ("scopes", "job", "held_by"),
    [
        ({("type", "paymentReminder")}, ("paymentReminder", "sms"), ("type", "paymentReminder")),
        ({("type", "paymentReminder")}, ("bookingConfirmation", "sms"), None),
        ({("channel", "sms")}, ("bookingConfirmation", "sms"), ("channel", "sms")),
        ({("channel", "sms")}, ("bookingConfirmation", "webhook"), None),
        ({("channel", "sms")}, ("bookingConfirmation", None), None),  # unknown channel: only type/all hold it
        ({EVERYTHING}, ("bookingConfirmation", None), EVERYTHING),
        ({EVERYTHING, ("channel", "sms")}, ("bookingConfirmation", "sms"), EVERYTHING),  # most general first
        (
            {("type", "paymentReminder"), ("channel", "sms")},
            ("paymentReminder", "sms"),
            ("type", "paymentReminder"),
        ),
    ],
)
def test_which_pause_holds_a_job(scopes, job, held_by) -> None:
    assert PauseSet.of(scopes).holding(*job) == held_by


def test_a_request_becomes_sorted_unique_scopes_and_a_trimmed_reason() -> None:
    scope = pb.PauseScope(
        automation_types=[pb.AUTOMATION_TYPE_PAYMENT_REMINDER, pb.AUTOMATION_TYPE_PAYMENT_REMINDER],
        channels=["sms", "email"],
    )
    command = parse_pause_request(pb.PauseAutomationsRequest(scope=scope, reason="  provider down "))
    assert command.scopes == (("channel", "email"), ("channel", "sms"), ("type", "paymentReminder"))
    assert command.reason == "provider down" and not command.everything
    everything = parse_pause_request(
        pb.ResumeAutomationsRequest(scope=pb.PauseScope(everything=True), reason="ok")
    )
    assert everything.scopes == (EVERYTHING,) and everything.everything


def test_every_violation_is_reported_without_echoing_values() -> None:
    scope = pb.PauseScope(automation_types=[42], channels=["secret-channel"], everything=True)
    with pytest.raises(BadQuery) as error:
        parse_pause_request(pb.PauseAutomationsRequest(scope=scope, reason="\x07"))
    fields = [v.field for v in error.value.violations]
    assert fields == ["scope.automation_types[0]", "scope.channels[0]", "scope.everything", "reason"]
    assert "secret-channel" not in str(error.value)
