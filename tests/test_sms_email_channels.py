"""SMS and e-mail channels against real local servers: a Twilio-compatible HTTP API and an aiosmtpd server."""

from __future__ import annotations

import json
import logging
import time

import pytest
from pydantic import SecretStr

from devtools.embedded import free_port
from executor_service.automations import Contact, RenderedMessage
from executor_service.mail import EmailChannel
from executor_service.sms import SmsChannel
from shared.errors import ChannelError
from tests.support.sms_server import SmsServer
from tests.support.smtp_server import SmtpServer

PHONE = "+14155550123"
EMAIL = "ana.lopez@example.com"
FROM_NUMBER = "+15005550006"
FROM_ADDRESS = "bookings@petsit.example"
JOB_ID = "job-0001"
KEY = "bookingConfirmation:client:bk-1:1"
MESSAGE = RenderedMessage(
    automation_type="bookingConfirmation",
    recipient="client",
    to=Contact(phone=PHONE, email=EMAIL),
    subject="Your booking is confirmed",
    body="Hi Ana, your Drop-in visit for Rex is confirmed. Total €40.00",
)
SECRETS = (PHONE, "4155550123", EMAIL, "ana.lopez")


def send(channel, message: RenderedMessage = MESSAGE) -> dict:
    return channel.send(message, job_id=JOB_ID, idempotency_key=KEY)


def sms(server: SmsServer, *, token: str | None = None, timeout_s: float = 2.0) -> SmsChannel:
    secret = SecretStr(server.auth_token if token is None else token)
    return SmsChannel(server.base_url, server.account_sid, secret, FROM_NUMBER, timeout_s)


def mail(server: SmtpServer, **kwargs) -> EmailChannel:
    kwargs.setdefault("timeout_s", 2.0)
    return EmailChannel(server.host, server.port, FROM_ADDRESS, local_hostname="localhost", **kwargs)


def failure(channel, message: RenderedMessage = MESSAGE) -> ChannelError:
    with pytest.raises(ChannelError) as excinfo:
        send(channel, message)
    assert not any(secret in str(excinfo.value) for secret in SECRETS), str(excinfo.value)
    return excinfo.value


# --- SMS ------------------------------------------------------------------------------------------


def test_sms_delivers_to_from_body_with_auth_and_idempotency_token(sms_server: SmsServer) -> None:
    result = send(sms(sms_server))
    [received] = sms_server.wait_for(1)
    assert result == {"channel": "sms", "sid": received.sid, "status": "queued"}
    assert received.sid is not None and received.sid.startswith("SM") and len(received.sid) == 34
    assert (received.to, received.from_, received.body) == (PHONE, FROM_NUMBER, MESSAGE.body)
    assert received.auth == (sms_server.account_sid, sms_server.auth_token)
    assert received.idempotency_token == KEY
    assert received.headers["content-type"] == "application/x-www-form-urlencoded"
    assert received.path == f"/2010-04-01/Accounts/{sms_server.account_sid}/Messages.json"


@pytest.mark.parametrize(
    ("status", "retryable", "error_class"),
    [(429, True, "http_429"), (500, True, "http_5xx"), (503, True, "http_5xx"), (400, False, "http_4xx")],
)
def test_sms_http_failures_are_classified(sms_server, status: int, retryable: bool, error_class: str) -> None:
    sms_server.answer_next(status)
    error = failure(sms(sms_server))
    assert (error.retryable, error.error_class) == (retryable, error_class)
    assert f"HTTP {status}" in str(error)
    assert len(sms_server.requests) == 1, "the channel itself does not retry"


def test_sms_400_names_twilio_code_and_message_but_masks_the_number(sms_server: SmsServer) -> None:
    sms_server.answer_next(400, code=21211, message=f"The 'To' number {PHONE} is not a valid phone number.")
    error = failure(sms(sms_server))
    assert error.retryable is False
    assert "21211" in str(error) and "+1********23 is not a valid phone number" in str(error)


def test_sms_wrong_token_is_a_permanent_401(sms_server: SmsServer) -> None:
    error = failure(sms(sms_server, token="not-the-token"))
    assert (error.retryable, error.error_class) == (False, "http_4xx")
    assert "HTTP 401" in str(error) and "20003" in str(error) and "not-the-token" not in str(error)
    assert sms_server.messages == []


def test_sms_slow_api_times_out_retryable(sms_server: SmsServer) -> None:
    sms_server.delay_s = 1.0
    started = time.monotonic()
    error = failure(sms(sms_server, timeout_s=0.3))
    assert (error.retryable, error.error_class) == (True, "timeout")
    assert 0.25 <= time.monotonic() - started < 1.0
    assert len(sms_server.requests) == 1, "the request reached the server"


def test_sms_closed_port_is_a_retryable_connection_error() -> None:
    channel = SmsChannel(f"http://127.0.0.1:{free_port()}", "AC1", SecretStr("t"), FROM_NUMBER, 1)
    error = failure(channel)
    assert (error.retryable, error.error_class) == (True, "connection")


def test_sms_answer_that_is_not_json_or_not_http_is_a_retryable_protocol_error(
    sms_server, raw_tcp_server
) -> None:
    sms_server.answer_next(201, raw=b"<html>queued</html>")
    not_json = failure(sms(sms_server))
    assert (not_json.retryable, not_json.error_class) == (True, "protocol")
    port = raw_tcp_server(b"garbage\r\n\r\n")
    channel = SmsChannel(f"http://127.0.0.1:{port}", "AC1", SecretStr("t"), FROM_NUMBER, 1)
    error = failure(channel)
    assert (error.retryable, error.error_class) == (True, "protocol")


def test_sms_without_phone_is_permanent_and_sends_nothing(sms_server: SmsServer) -> None:
    error = failure(sms(sms_server), RenderedMessage("x", "client", Contact(email=EMAIL), "s", "b"))
    assert (error.retryable, error.error_class) == (False, "no_recipient")
    assert sms_server.requests == []


# --- e-mail ---------------------------------------------------------------------------------------


def test_email_delivers_subject_from_to_body_and_idempotency_key(smtp_server: SmtpServer) -> None:
    result = send(mail(smtp_server))
    [received] = smtp_server.wait_for(1)
    assert (received.mail_from, received.rcpt_tos) == (FROM_ADDRESS, [EMAIL])
    headers = received.headers
    assert (headers["Subject"], headers["From"], headers["To"]) == (MESSAGE.subject, FROM_ADDRESS, EMAIL)
    assert headers["X-Idempotency-Key"] == KEY
    assert result == {"channel": "email", "message_id": headers["Message-ID"]}
    assert headers["Message-ID"].startswith("<") and headers["Message-ID"].endswith("@petsit.example>")
    assert received.message.get_content_type() == "text/plain"
    assert received.body.rstrip("\n") == MESSAGE.body


def test_email_retries_of_one_job_keep_the_message_id(smtp_server: SmtpServer) -> None:
    first, second = send(mail(smtp_server)), send(mail(smtp_server))
    assert first == second and len(smtp_server.wait_for(2)) == 2


def test_email_authenticates_when_configured(smtp_server_with_auth: SmtpServer) -> None:
    send(mail(smtp_server_with_auth, username="mailer", password=SecretStr("mail-secret-7d")))
    [received] = smtp_server_with_auth.wait_for(1)
    assert received.auth_login == "mailer"


@pytest.mark.parametrize(
    ("stage", "code", "retryable", "error_class"),
    [("RCPT", 451, True, "smtp_4xx"), ("RCPT", 550, False, "smtp_5xx"), ("DATA", 451, True, "smtp_4xx")]
    + [("DATA", 452, True, "smtp_4xx"), ("DATA", 554, False, "smtp_5xx")],
)
def test_email_smtp_replies_are_classified(smtp_server, stage, code, retryable, error_class) -> None:
    smtp_server.reply_next(stage, code, text=f"5.1.1 <{EMAIL}> says no" if code == 550 else None)
    error = failure(mail(smtp_server))
    assert (error.retryable, error.error_class) == (retryable, error_class)
    assert str(code) in str(error)
    assert smtp_server.messages == []


def test_email_wrong_password_is_permanent(smtp_server_with_auth: SmtpServer) -> None:
    error = failure(mail(smtp_server_with_auth, username="mailer", password=SecretStr("wrong")))
    assert (error.retryable, error.error_class) == (False, "smtp_5xx") and "535" in str(error)


@pytest.mark.parametrize("options", [{"starttls": True}, {"username": "u", "password": SecretStr("p")}])
def test_email_server_without_starttls_or_auth_is_permanent(smtp_server, options) -> None:
    error = failure(mail(smtp_server, **options))
    assert (error.retryable, error.error_class) == (False, "smtp_unsupported")


@pytest.mark.parametrize("stage", ["RCPT", "DATA"])
def test_email_server_dropping_the_connection_is_retryable(smtp_server, stage) -> None:
    smtp_server.disconnect_next(stage)
    error = failure(mail(smtp_server))
    assert (error.retryable, error.error_class) == (True, "connection")


def test_email_slow_server_times_out_retryable(smtp_server: SmtpServer) -> None:
    smtp_server.delay_s = 1.0
    started = time.monotonic()
    error = failure(mail(smtp_server, timeout_s=0.3))
    assert (error.retryable, error.error_class) == (True, "timeout")
    assert 0.25 <= time.monotonic() - started < 1.0


def test_email_unreachable_or_garbled_server_is_retryable(raw_tcp_server) -> None:
    refused = failure(EmailChannel("127.0.0.1", free_port(), FROM_ADDRESS, timeout_s=1))
    assert (refused.retryable, refused.error_class) == (True, "connection")
    hung_up = failure(EmailChannel("127.0.0.1", raw_tcp_server(None), FROM_ADDRESS, timeout_s=1))
    assert (hung_up.retryable, hung_up.error_class) == (True, "connection")
    garbled = failure(
        EmailChannel("127.0.0.1", raw_tcp_server(b"hello?\r\n", speak_first=True), FROM_ADDRESS, timeout_s=1)
    )
    assert (garbled.retryable, garbled.error_class) == (True, "protocol")


def test_email_without_address_is_permanent_and_sends_nothing(smtp_server: SmtpServer) -> None:
    error = failure(mail(smtp_server), RenderedMessage("x", "client", Contact(phone=PHONE), "s", "b"))
    assert (error.retryable, error.error_class) == (False, "no_recipient")
    assert smtp_server.messages == []


# --- logs -----------------------------------------------------------------------------------------


def test_logs_carry_masked_contacts_only(sms_server, smtp_server, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    send(sms(sms_server))
    send(mail(smtp_server))
    sms_server.answer_next(400, message=f"The 'To' number {PHONE} is not valid")
    smtp_server.reply_next("RCPT", 550, text=f"5.1.1 <{EMAIL}> unknown")
    for channel in (sms(sms_server), mail(smtp_server)):
        failure(channel)
    ours = [r for r in caplog.records if r.name != "mail.log"]  # mail.log: aiosmtpd, the fake server
    sent = {r.getMessage(): r for r in ours if r.name.startswith("executor_service")}
    assert sent["sms sent"].to_phone == "+1********23" and sent["email sent"].to_email == "a***@example.com"
    everything = json.dumps([r.__dict__ for r in ours], default=str)
    for secret in (*SECRETS, sms_server.auth_token):
        assert secret not in everything


# --- hostile text and addresses (issue #13) -------------------------------------------------------

Q_WORD = "=?utf-8?q?Bo=0D=0AX-Injected:_yes?="
HEADERS = ["From", "To", "Subject", "Date", "Message-ID", "X-Idempotency-Key", "X-Job-Id"]
HEADERS += ["Content-Type", "Content-Transfer-Encoding", "MIME-Version"]


@pytest.mark.parametrize(
    ("subject", "shown"),
    [
        (f"Meet your sitter: {Q_WORD}", f"Meet your sitter: {Q_WORD}"),
        ("Meet: Bo\r\nBcc: evil@attacker.example", "Meet: Bo Bcc: evil@attacker.example"),
        ("Meet: Bo\u2028X-Injected: yes\u2029\x85\x0b\x0cEnd", "Meet: Bo X-Injected: yes End"),
        ("Long: " + "é" * 60 + Q_WORD * 3, "Long: " + "é" * 60 + Q_WORD * 3),  # several encoded words
    ],
)
def test_email_subject_text_never_becomes_a_header(smtp_server: SmtpServer, subject: str, shown: str) -> None:
    """Sent straight to the channel (as a job enqueued before validation refused line breaks would be)."""
    message = RenderedMessage("sitterAssignment", "client", Contact(email=EMAIL), subject, f"Body {Q_WORD}")
    send(mail(smtp_server), message)
    [received] = smtp_server.wait_for(1)
    head = received.raw.partition(b"\r\n\r\n")[0].split(b"\r\n")
    names = [line.split(b":")[0].decode() for line in head if not line.startswith(b" ")]
    assert sorted(names) == sorted(HEADERS) and received.message.keys() == names
    assert all(len(line) <= 78 and line.isascii() for line in head)
    assert (received.mail_from, received.rcpt_tos, received.message["To"]) == (FROM_ADDRESS, [EMAIL], EMAIL)
    [decoded] = received.message.get_all("Subject")
    assert decoded == shown
    assert received.body.rstrip("\n") == f"Body {Q_WORD}"


@pytest.mark.parametrize(
    ("address", "envelope"),
    [
        ("ana.lopez@example.com", "ana.lopez@example.com"),
        ("Ana.Lopez+pets@Example.COM", "Ana.Lopez+pets@Example.COM"),
        ("ana@bücher.example", "ana@xn--bcher-kva.example"),
    ],
)
def test_email_envelope_recipient_is_the_validated_address(smtp_server, address, envelope) -> None:
    channel = EmailChannel(
        smtp_server.host, smtp_server.port, "Happy Paws <hello@petsit.example>", local_hostname="localhost"
    )
    send(channel, RenderedMessage("x", "client", Contact(email=address), "s", "b"))
    [received] = smtp_server.wait_for(1)
    assert (received.mail_from, received.rcpt_tos) == ("hello@petsit.example", [envelope])
    assert received.message["To"] == envelope
    assert received.message["From"].addresses[0].display_name == "Happy Paws"


@pytest.mark.parametrize(
    "address",
    [
        "x<evil@attacker.example",
        "ana@example.com%0d%0aBcc:evil",
        "ana@example.com\r\nBcc: evil@attacker.example",
        "Ana <ana@example.com>",
        "ana@example.com, evil@attacker.example",
        " ana@example.com",
    ],
)
def test_email_to_something_that_is_not_an_address_is_permanent_and_sends_nothing(
    smtp_server, address
) -> None:
    """Jobs written before validation used the shared rule (or replayed from the dead letters) still
    cannot reach another mailbox: the channel applies the same rule."""
    error = failure(mail(smtp_server), RenderedMessage("x", "client", Contact(email=address), "s", "b"))
    assert (error.retryable, error.error_class) == (False, "invalid_recipient")
    assert "evil" not in str(error) and "ana@" not in str(error)
    assert smtp_server.messages == []
