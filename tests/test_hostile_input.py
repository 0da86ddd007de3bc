"""Booking text cannot steer a channel (issue #13): hostile names through the real pipeline (gRPC -> Kafka ->
executor) into a real SMTP server, a Twilio-compatible API and a webhook receiver, and hostile addresses
refused by the trigger with a field violation. What is checked is what arrived, parsed from the bytes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from urllib.parse import parse_qs

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from pydantic import SecretStr

from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.automations import settings_file
from tests.support.pipeline import running_executor, running_trigger, wait_rows
from tests.support.sample import sample_request
from tests.support.sms_server import AUTH_TOKEN

pytestmark = pytest.mark.slow

# An encoded word that decodes to CRLF + a header (CVE-2024-6923 on the machine's 3.11.7), its base64
# twin adding a Bcc, and text aimed at addresses, header syntax and form encoding.
Q_WORD = "=?utf-8?q?Bo=0D=0AX-Injected:_yes?="
B_WORD = "=?utf-8?b?DQpCY2M6IGV2aWxAYXR0YWNrZXIuZXhhbXBsZQ==?="  # "\r\nBcc: evil@attacker.example"
PETS = ['Rex" <evil@attacker.example>;,', "Milo&To=+19995550000&Body=x%0d%0a", Q_WORD]
SERVICE = f"Walk {B_WORD}"
SITTER = pb.Sitter(id="s-9", name=Q_WORD, phone="+14155550199")
HEADER_NAMES = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "X-Idempotency-Key",
    "X-Job-Id",
    "Content-Type",
    "Content-Transfer-Encoding",
    "MIME-Version",
]
SENDER, OWNER = "hello@happypaws.example", "owner@happypaws.example"  # the shipped settings' senders
T = pb
NAMED_SUBJECTS = {  # the subjects whose templates carry booking text, as they must read
    (T.AUTOMATION_TYPE_SITTER_ASSIGNMENT, T.RECIPIENT_CLIENT): f"Meet your sitter: {Q_WORD}",
    (T.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT, T.RECIPIENT_OWNER): f"New booking request from Ana {Q_WORD}",
    (T.AUTOMATION_TYPE_NIGHT_BEFORE_REMINDER, T.RECIPIENT_CLIENT): (
        f"See you tomorrow: {SERVICE} for {PETS[0]}, {PETS[1]} and {PETS[2]}"
    ),
}
EMAIL_CASES = [
    (T.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT, T.RECIPIENT_CLIENT),
    (T.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT, T.RECIPIENT_OWNER),
    (T.AUTOMATION_TYPE_BOOKING_CONFIRMATION, T.RECIPIENT_CLIENT),
    (T.AUTOMATION_TYPE_NIGHT_BEFORE_REMINDER, T.RECIPIENT_CLIENT),
    (T.AUTOMATION_TYPE_SITTER_ASSIGNMENT, T.RECIPIENT_CLIENT),
    (T.AUTOMATION_TYPE_PAYMENT_REMINDER, T.RECIPIENT_CLIENT),
    (T.AUTOMATION_TYPE_POST_VISIT_THANK_YOU, T.RECIPIENT_CLIENT),
]
SMS_CASES = [
    (T.AUTOMATION_TYPE_NIGHT_BEFORE_REMINDER, T.RECIPIENT_SITTER),
    (T.AUTOMATION_TYPE_SITTER_ASSIGNMENT, T.RECIPIENT_SITTER),
]


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


def hostile_request(automation_type: int, recipient: int, email: str = "ana@example.com"):
    """A booking full of hostile text, due now (a payment reminder starts in 48 h, a thank-you ended 2 h
    ago, a night-before reminder carries due_at)."""
    request = sample_request(f"b-{uuid.uuid4().hex[:10]}", automation_type, recipient)
    b = request.booking
    b.client.last_name, b.client.email, b.service_name = Q_WORD, email, SERVICE
    b.sitter.CopyFrom(SITTER)
    del b.pets[:]
    b.pets.extend(pb.Pet(name=name, species="dog") for name in PETS)
    now = datetime.now(UTC)
    if automation_type == T.AUTOMATION_TYPE_PAYMENT_REMINDER:  # due 48 h before the start
        b.start_at.FromDatetime(now + timedelta(hours=48))
        b.end_at.FromDatetime(now + timedelta(hours=49))
    elif automation_type == T.AUTOMATION_TYPE_POST_VISIT_THANK_YOU:  # due 2 h after the end
        b.start_at.FromDatetime(now - timedelta(hours=3))
        b.end_at.FromDatetime(now - timedelta(hours=2))
    elif automation_type == T.AUTOMATION_TYPE_NIGHT_BEFORE_REMINDER:
        request.due_at.FromDatetime(now)
    return request


@pytest.fixture
def routed(settings, sms_server, smtp_server, tmp_path):
    path = settings_file(
        tmp_path / "hostile.toml",
        channels={"client": "email", "owner": "email", "sitter": "sms"},
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


def header_block(raw: bytes) -> list[bytes]:
    """The header lines exactly as they came over SMTP (continuation lines start with a space)."""
    head, sep, _ = raw.partition(b"\r\n\r\n")
    assert sep, "no blank line after the headers"
    return head.split(b"\r\n")


def assert_only_our_headers(raw: bytes) -> None:
    lines = header_block(raw)
    starts = [line.split(b":", 1)[0].decode() for line in lines if not line.startswith((b" ", b"\t"))]
    assert sorted(starts) == sorted(HEADER_NAMES), starts
    assert all(line.isascii() and b"\r" not in line and b"\n" not in line for line in lines)
    for parser_policy in (policy.default, policy.compat32):  # a strict and a lenient reader agree
        parsed = BytesParser(policy=parser_policy).parsebytes(raw.replace(b"\r\n", b"\n"))
        assert sorted(parsed.keys()) == sorted(HEADER_NAMES)


def test_hostile_names_add_no_header_recipient_or_form_field(routed, sms_server, smtp_server):
    idn = hostile_request(T.AUTOMATION_TYPE_BOOKING_CONFIRMATION, T.RECIPIENT_CLIENT, "ana@bücher.example")
    requests = [hostile_request(t, r) for t, r in EMAIL_CASES + SMS_CASES] + [idn]
    with running_trigger(routed) as (stub, _), running_executor(routed):
        answers = [stub.EnqueueAutomation(r, timeout=10) for r in requests]
        mails = smtp_server.wait_for(len(EMAIL_CASES) + 1, timeout_s=40)
        texts = sms_server.wait_for(len(SMS_CASES), timeout_s=40)
        rows = wait_rows(routed.sqlalchemy_url, len(requests), timeout_s=40, status="succeeded")
    by_key = {m.message["X-Idempotency-Key"]: m for m in mails}
    assert len(by_key) == len(mails) == len(EMAIL_CASES) + 1, "one e-mail per job, nothing else"
    outputs = {row.job_id: row.outputs for row in rows}
    for (automation_type, recipient), answer in zip(EMAIL_CASES, answers, strict=False):
        mail = by_key[answer.idempotency_key]
        assert_only_our_headers(mail.raw)
        assert mail.mail_from == SENDER
        assert mail.rcpt_tos == [OWNER if recipient == T.RECIPIENT_OWNER else "ana@example.com"]
        assert mail.message["To"] == mail.rcpt_tos[0] and mail.message["Bcc"] is None
        assert len(mail.message.get_all("Subject")) == 1
        subject = mail.message["Subject"]  # decoded once, as a reader shows it
        assert subject == outputs[answer.job_id]["subject"]
        expected = NAMED_SUBJECTS.get((automation_type, recipient))
        assert expected is None or subject == expected, subject
        assert Q_WORD in mail.body and mail.body.strip() == outputs[answer.job_id]["body"]
    # the international address: validated, then sent to its A-label form, in envelope and header alike
    idn_mail = by_key[answers[-1].idempotency_key]
    assert_only_our_headers(idn_mail.raw)
    assert idn_mail.rcpt_tos == ["ana@xn--bcher-kva.example"] == [idn_mail.message["To"]]
    for answer in answers[len(EMAIL_CASES) : -1]:
        [text] = [t for t in texts if t.idempotency_token == answer.idempotency_key]
        form = parse_qs(text.raw_form.decode("ascii"), keep_blank_values=True, strict_parsing=True)
        assert sorted(form) == ["Body", "From", "To"] and all(len(v) == 1 for v in form.values())
        assert (text.to, text.from_) == (SITTER.phone, "+14155550100")
        assert text.body == outputs[answer.job_id]["body"] and PETS[1] in text.body and Q_WORD in text.body
    assert len(texts) == len(SMS_CASES)


def test_hostile_names_keep_the_webhook_payload_one_json_object(settings, http_receiver):
    cases = [EMAIL_CASES[1], EMAIL_CASES[4], SMS_CASES[0]]
    with running_trigger(settings) as (stub, _), running_executor(settings):
        answers = [stub.EnqueueAutomation(hostile_request(t, r), timeout=10) for t, r in cases]
        rows = wait_rows(settings.sqlalchemy_url, len(cases), timeout_s=40, status="succeeded")
    outputs = {row.job_id: row.outputs for row in rows}
    received = {r.headers["idempotency-key"]: r for r in http_receiver.requests}
    assert len(received) == len(http_receiver.requests) == len(cases)
    for (automation_type, recipient), answer in zip(cases, answers, strict=True):
        request = received[answer.idempotency_key]
        assert request.raw.isascii(), "controls and separators travel escaped"
        payload = json.loads(request.raw)
        assert sorted(payload) == sorted(
            ["job_id", "idempotency_key", "automation_type", "recipient", "to", "subject", "body"]
        )
        assert sorted(payload["to"]) == ["email", "phone"]
        assert payload["subject"] == outputs[answer.job_id]["subject"]
        assert payload["body"] == outputs[answer.job_id]["body"] and Q_WORD in payload["body"]
        expected = NAMED_SUBJECTS.get((automation_type, recipient))
        assert expected is None or payload["subject"] == expected


HOSTILE_FIELDS = [
    ("booking.client.email", lambda b: setattr(b.client, "email", "x<evil@attacker.example")),
    ("booking.client.email", lambda b: setattr(b.client, "email", "ana@example.com%0d%0aBcc:evil")),
    ("booking.client.email", lambda b: setattr(b.client, "email", "ana@example.com\r\nBcc: evil@x.io")),
    ("booking.client.email", lambda b: setattr(b.client, "email", "Ana <ana@example.com>")),
    ("booking.client.email", lambda b: setattr(b.client, "email", "ánä@example.com")),
    ("booking.client.last_name", lambda b: setattr(b.client, "last_name", "Lopez\u2028Bcc: x")),
    ("booking.sitter.name", lambda b: setattr(b.sitter, "name", "Sam\u2029Lee")),
    ("booking.sitter.name", lambda b: setattr(b.sitter, "name", "Sam\r\nX-Injected: yes")),
    ("booking.service_name", lambda b: setattr(b, "service_name", "Walk\x85Bcc: x")),
    ("booking.client.first_name", lambda b: setattr(b.client, "first_name", "Ana\u200f")),  # RLM
    ("booking.pets[0].name", lambda b: setattr(b.pets[0], "name", "Rex\u061c")),  # ALM
]


def test_hostile_addresses_and_line_breaks_are_invalid_argument_on_their_field(settings, topic_size):
    with running_trigger(settings) as (stub, _):
        for field, spoil in HOSTILE_FIELDS:
            request = hostile_request(T.AUTOMATION_TYPE_SITTER_ASSIGNMENT, T.RECIPIENT_CLIENT)
            spoil(request.booking)
            with pytest.raises(grpc.RpcError) as excinfo:
                stub.EnqueueAutomation(request, timeout=10)
            assert excinfo.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            status = rpc_status.from_call(excinfo.value)
            bad = error_details_pb2.BadRequest()
            assert status is not None and status.details[0].Unpack(bad)
            assert [v.field for v in bad.field_violations] == [field], (field, bad)
            assert "evil" not in status.message + str(bad) and "ana@" not in str(bad)
    assert topic_size(settings.jobs_topic) == 0, "nothing refused was produced"
