"""All six automations through the real pipeline (gRPC → Kafka → executor → EventLog) into a local
Twilio-compatible SMS API and a local SMTP server; due times computed by the trigger; disabled types."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr

from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.automations import settings_file
from tests.support.pipeline import eventlog_rows, running_executor, running_trigger, wait_rows
from tests.support.sample import sample_request
from tests.support.sms_server import AUTH_TOKEN

pytestmark = pytest.mark.slow

T = pb  # short enum access below
SITTER = pb.Sitter(id="s-9", name="Sam Lee", phone="+14155550199")


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture
def routed(settings, sms_server, smtp_server, tmp_path):
    """Clients by email; owners and sitters by SMS (the senders come from the settings file)."""
    path = settings_file(
        tmp_path / "routed.toml",
        channels={"client": "email", "owner": "sms", "sitter": "sms"},
        quiet_hours=False,
    )
    return settings.model_copy(
        update={
            "automations_file": path,
            "sms_base_url": sms_server.base_url,
            "sms_account_sid": sms_server.account_sid,
            "sms_auth_token": SecretStr(AUTH_TOKEN),
            "smtp_host": smtp_server.host,
            "smtp_port": smtp_server.port,
        }
    )


def request_for(automation_type: int, recipient: int, due_in_s: float = 0.0) -> pb.EnqueueAutomationRequest:
    """A booking whose computed send time (for the time-based types) is ``due_in_s`` from now."""
    request = sample_request(f"b-{uuid.uuid4().hex[:10]}", automation_type, recipient)
    booking, now = request.booking, datetime.now(UTC)
    booking.sitter.CopyFrom(SITTER)
    if automation_type == pb.AUTOMATION_TYPE_PAYMENT_REMINDER:  # 48 h before the start
        booking.start_at.FromDatetime(now + timedelta(hours=48, seconds=due_in_s))
        booking.end_at.FromDatetime(now + timedelta(hours=49, seconds=due_in_s))
    elif automation_type == pb.AUTOMATION_TYPE_POST_VISIT_THANK_YOU:  # 2 h after the end
        booking.start_at.FromDatetime(now - timedelta(hours=3) + timedelta(seconds=due_in_s))
        booking.end_at.FromDatetime(now - timedelta(hours=2) + timedelta(seconds=due_in_s))
    elif automation_type == pb.AUTOMATION_TYPE_NIGHT_BEFORE_REMINDER:  # 18:00 local the day before
        request.due_at.FromDatetime(now + timedelta(seconds=due_in_s))
    return request


CASES = [
    (T.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT, T.RECIPIENT_CLIENT, "email", "We got your booking request"),
    (T.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT, T.RECIPIENT_OWNER, "sms", "New booking b-"),
    (T.AUTOMATION_TYPE_BOOKING_CONFIRMATION, T.RECIPIENT_CLIENT, "email", "Your booking is confirmed"),
    (T.AUTOMATION_TYPE_NIGHT_BEFORE_REMINDER, T.RECIPIENT_CLIENT, "email", "See you tomorrow"),
    (T.AUTOMATION_TYPE_NIGHT_BEFORE_REMINDER, T.RECIPIENT_SITTER, "sms", "Hi Sam Lee, reminder:"),
    (T.AUTOMATION_TYPE_SITTER_ASSIGNMENT, T.RECIPIENT_SITTER, "sms", "Hi Sam Lee, you're booked for"),
    (T.AUTOMATION_TYPE_SITTER_ASSIGNMENT, T.RECIPIENT_CLIENT, "email", "Meet your sitter: Sam Lee"),
    (T.AUTOMATION_TYPE_PAYMENT_REMINDER, T.RECIPIENT_CLIENT, "email", "Payment reminder: $120.00 due"),
    (T.AUTOMATION_TYPE_POST_VISIT_THANK_YOU, T.RECIPIENT_CLIENT, "email", "Thank you from Happy Paws"),
]


def test_every_type_and_recipient_arrives_through_its_channel(routed, sms_server, smtp_server):
    with running_trigger(routed) as (stub, _), running_executor(routed):
        requests = [request_for(t, r, due_in_s=3.0) for t, r, _, _ in CASES]
        responses = [stub.EnqueueAutomation(r, timeout=10) for r in requests]
        sms = sms_server.wait_for(sum(c[2] == "sms" for c in CASES), timeout_s=30)
        mails = smtp_server.wait_for(sum(c[2] == "email" for c in CASES), timeout_s=30)
        rows = wait_rows(routed.sqlalchemy_url, len(CASES), timeout_s=30, status="succeeded")

    assert len(rows) == len(CASES)
    for (_, recipient, channel, expected), response in zip(CASES, responses, strict=True):
        [row] = [r for r in rows if r.job_id == response.job_id]
        assert row.outputs["channel_response"]["channel"] == channel
        if channel == "email":
            [mail] = [m for m in mails if m.headers["X-Idempotency-Key"] == response.idempotency_key]
            assert mail.rcpt_tos == ["ana@example.com"]
            assert expected in mail.headers["Subject"] or expected in mail.body
            assert mail.body.strip() == row.outputs["body"]
        else:
            [text] = [m for m in sms if m.idempotency_token == response.idempotency_key]
            to = (
                SITTER.phone if recipient == pb.RECIPIENT_SITTER else "+14155559876"
            )  # the owner, from the file
            assert (text.to, text.from_) == (to, "+14155550100")
            assert text.body.startswith(expected) and text.body == row.outputs["body"]
    late = [r for r in rows if r.automation_type in ("paymentReminder", "postVisitThankYou")]
    for row in late:  # computed due times: about 3 s after the enqueue, never before
        scheduled = [
            s for s in eventlog_rows(routed.sqlalchemy_url, job_id=row.job_id) if s.status == "scheduled"
        ]
        assert scheduled, f"{row.automation_type} was not scheduled"
        due = datetime.fromisoformat(scheduled[0].outputs["due_at"])
        assert row.started_at.replace(tzinfo=UTC) >= due


def test_trigger_computes_due_times_and_the_executor_records_them(settings):
    """18:00 local on the evening before (a DST week in New York), 48 h before, 2 h after."""
    ny = ZoneInfo("America/New_York")
    night = request_for(T.AUTOMATION_TYPE_NIGHT_BEFORE_REMINDER, T.RECIPIENT_CLIENT)
    night.ClearField("due_at")
    night.booking.timezone = "America/New_York"
    start = datetime(2027, 3, 15, 9, 0, tzinfo=ny)  # the day after the spring-forward change
    night.booking.start_at.FromDatetime(start)
    night.booking.end_at.FromDatetime(start + timedelta(hours=1))
    pay = request_for(T.AUTOMATION_TYPE_PAYMENT_REMINDER, T.RECIPIENT_CLIENT, due_in_s=86400)
    thanks = request_for(T.AUTOMATION_TYPE_POST_VISIT_THANK_YOU, T.RECIPIENT_CLIENT, due_in_s=7200)
    now_confirm = request_for(T.AUTOMATION_TYPE_BOOKING_CONFIRMATION, T.RECIPIENT_CLIENT)
    with running_trigger(settings) as (stub, _), running_executor(settings):
        answers = [stub.EnqueueAutomation(r, timeout=10) for r in (night, pay, thanks, now_confirm)]
        rows = wait_rows(settings.sqlalchemy_url, 4)

    assert answers[0].due_at.ToDatetime(tzinfo=UTC) == datetime(2027, 3, 14, 22, 0, tzinfo=UTC)  # 18:00 EDT
    for answer, request, offset in ((answers[1], pay, -48), (answers[2], thanks, 2)):
        anchor = request.booking.start_at if offset < 0 else request.booking.end_at
        expected = anchor.ToDatetime(tzinfo=UTC) + timedelta(hours=offset)
        assert answer.due_at.ToDatetime(tzinfo=UTC) == expected
    assert not answers[3].HasField("due_at")
    status = {r.job_id: r.status for r in rows}
    assert [status[a.job_id] for a in answers] == ["scheduled", "scheduled", "scheduled", "succeeded"]
    scheduled_row = next(r for r in rows if r.job_id == answers[0].job_id)
    assert scheduled_row.outputs["due_at"].startswith("2027-03-14T22:00:00")


def test_disabled_type_and_recipient_end_as_skipped_disabled(settings, http_receiver, tmp_path):
    path = settings_file(
        tmp_path / "disabled.toml",
        quiet_hours=False,
        replace={
            "[bookingConfirmation]\nenabled = true": "[bookingConfirmation]\nenabled = false",
            "[sitterAssignment.client]\nenabled = true": "[sitterAssignment.client]\nenabled = false",
        },
    )
    disabled = settings.model_copy(update={"automations_file": path})
    off_type = request_for(T.AUTOMATION_TYPE_BOOKING_CONFIRMATION, T.RECIPIENT_CLIENT)
    off_recipient = request_for(T.AUTOMATION_TYPE_SITTER_ASSIGNMENT, T.RECIPIENT_CLIENT)
    on = request_for(T.AUTOMATION_TYPE_SITTER_ASSIGNMENT, T.RECIPIENT_SITTER)
    with running_trigger(disabled) as (stub, _), running_executor(disabled):
        answers = [stub.EnqueueAutomation(r, timeout=10) for r in (off_type, off_recipient, on)]
        rows = wait_rows(disabled.sqlalchemy_url, 3)
        time.sleep(0.5)
    status = {r.job_id: r for r in rows}
    assert status[answers[0].job_id].status == "skipped_disabled"
    assert "bookingConfirmation is disabled" in status[answers[0].job_id].outputs["reason"]
    assert status[answers[1].job_id].status == "skipped_disabled"
    assert "sitterAssignment to client is disabled" in status[answers[1].job_id].outputs["reason"]
    assert status[answers[2].job_id].status == "succeeded"
    assert [r.body["job_id"] for r in http_receiver.requests] == [answers[2].job_id]


def night_zone(now: datetime) -> str:
    """A time zone where it is between 22:00 and 06:00 now."""
    from zoneinfo import available_timezones

    return next(
        z
        for z in sorted(available_timezones())
        if z.count("/") == 1 and not 6 <= now.astimezone(ZoneInfo(z)).hour < 22
    )


def test_quiet_hours_defer_to_08_local_and_owner_alerts_are_exempt(settings):
    shipped = settings.model_copy(update={"automations_file": None})  # 21:00-08:00, owner exempt
    now = datetime.now(UTC)
    zone = ZoneInfo(night_zone(now))
    confirm = request_for(T.AUTOMATION_TYPE_BOOKING_CONFIRMATION, T.RECIPIENT_CLIENT)
    owner = request_for(T.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT, T.RECIPIENT_OWNER)
    for request in (confirm, owner):
        request.booking.timezone = zone.key
    with running_trigger(shipped) as (stub, _):
        deferred = stub.EnqueueAutomation(confirm, timeout=10)
        at_once = stub.EnqueueAutomation(owner, timeout=10)
    local_due = deferred.due_at.ToDatetime(tzinfo=UTC).astimezone(zone)
    assert (local_due.hour, local_due.minute) == (8, 0)
    assert timedelta(0) < local_due - now.astimezone(zone) <= timedelta(hours=10, minutes=1)
    assert not at_once.HasField("due_at")
