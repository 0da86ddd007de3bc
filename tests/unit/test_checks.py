"""PreSendChecks.verdict(): disabled types and recipients, late scheduled jobs, and the booking state."""

from __future__ import annotations

import dataclasses

import pytest

from executor_service.checks import PreSendChecks
from shared.automation_settings import load_automation_settings
from shared.booking_state import BookingSnapshot
from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.sample import sample_request

SHIPPED = load_automation_settings()
NOW_MS = 1_800_000_000_000


def job(
    automation_type=pb.AUTOMATION_TYPE_NIGHT_BEFORE_REMINDER,
    recipient=pb.RECIPIENT_CLIENT,
    *,
    due_ago_s=None,
    attempt=1,
):
    out = pb.AutomationJob(job_id="j", idempotency_key="k", attempt=attempt)
    out.request.CopyFrom(sample_request("b-1", automation_type, recipient))
    out.enqueued_at.FromMilliseconds(NOW_MS - 10_000_000)
    if due_ago_s is not None:
        out.due_at.FromMilliseconds(NOW_MS - int(due_ago_s * 1000))
    return out


def checks(settings=SHIPPED) -> PreSendChecks:
    return PreSendChecks(bookings=None, automations=settings)  # type: ignore[arg-type]  # verdict() reads no Redis


def status(found) -> str | None:
    return found[0] if found else None


def test_a_job_that_still_makes_sense_passes():
    assert checks().verdict(job(due_ago_s=5), {}, NOW_MS) is None


@pytest.mark.parametrize(
    ("due_ago_s", "attempt", "expected"), [(3599, 1, None), (3601, 1, "skipped_late"), (7200, 2, None)]
)
def test_scheduled_jobs_too_late_are_skipped_but_retries_are_not(due_ago_s, attempt, expected):
    found = checks().verdict(job(due_ago_s=due_ago_s, attempt=attempt), {}, NOW_MS)
    assert status(found) == expected
    if found:
        assert found[1] == "came due 3601 s ago (max 3600 s)"


@pytest.mark.parametrize(
    ("pause_lateness", "paused_after_due_s", "expected"),
    [("send", 60, None), ("send", 3601, "skipped_late"), ("skip", 60, "skipped_late")],
)
def test_a_pause_is_not_lateness_unless_the_settings_say_skip(pause_lateness, paused_after_due_s, expected):
    """Due 2 h ago; a pause held it from ``paused_after_due_s`` after its due time until now."""
    held = job(due_ago_s=7200)
    held.paused_at.FromMilliseconds(held.due_at.ToMilliseconds() + paused_after_due_s * 1000)
    settings = dataclasses.replace(SHIPPED, pause_lateness=pause_lateness)
    assert status(checks(settings).verdict(held, {}, NOW_MS)) == expected


def test_immediate_jobs_are_never_late():
    assert checks().verdict(job(pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION), {}, NOW_MS) is None


def test_disabled_type_and_recipient():
    night = SHIPPED.for_type("nightBeforeReminder")
    off_type = dataclasses.replace(
        SHIPPED, types={**SHIPPED.types, "nightBeforeReminder": dataclasses.replace(night, enabled=False)}
    )
    sitter_off = dataclasses.replace(night.recipients["sitter"], enabled=False)
    off_sitter = dataclasses.replace(
        SHIPPED,
        types={
            **SHIPPED.types,
            "nightBeforeReminder": dataclasses.replace(
                night, recipients={**night.recipients, "sitter": sitter_off}
            ),
        },
    )
    assert status(checks(off_type).verdict(job(), {}, NOW_MS)) == "skipped_disabled"
    assert checks(off_sitter).verdict(job(), {}, NOW_MS) is None  # the client is still on
    assert (
        status(checks(off_sitter).verdict(job(recipient=pb.RECIPIENT_SITTER), {}, NOW_MS))
        == "skipped_disabled"
    )


def test_booking_state_comes_first():
    snapshots = {"b-1": BookingSnapshot(cancelled_at_ms={"*": NOW_MS})}
    assert status(checks().verdict(job(due_ago_s=9999), snapshots, NOW_MS)) == "cancelled"


def test_an_unknown_type_is_left_to_rendering_which_dead_letters_it():
    assert checks().verdict(job(automation_type=0), {}, NOW_MS) is None
