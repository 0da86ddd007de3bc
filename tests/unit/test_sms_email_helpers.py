"""Unit tests of the pure helpers of the SMS and e-mail channels: classification, redaction, Message-ID."""

from __future__ import annotations

import base64
import re
from email import policy
from email.header import decode_header, make_header
from email.parser import BytesParser

import pytest

from executor_service import mail_format
from executor_service.automations import Contact, RenderedMessage
from executor_service.channels import classify_http_status
from executor_service.mail import EmailChannel, classify_smtp_code, message_id_for
from executor_service.sms import twilio_error_detail
from shared.errors import SettingsError
from shared.pii import redact_phones, redact_text


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (429, (True, "http_429")),
        (500, (True, "http_5xx")),
        (503, (True, "http_5xx")),
        (599, (True, "http_5xx")),
        (400, (False, "http_4xx")),
        (401, (False, "http_4xx")),
        (404, (False, "http_4xx")),
        (301, (False, "http_3xx")),
        (307, (False, "http_3xx")),
    ],
)
def test_classify_http_status(status: int, expected: tuple[bool, str]) -> None:
    assert classify_http_status(status) == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (421, (True, "smtp_4xx")),
        (451, (True, "smtp_4xx")),
        (452, (True, "smtp_4xx")),
        (530, (False, "smtp_5xx")),
        (535, (False, "smtp_5xx")),
        (550, (False, "smtp_5xx")),
        (554, (False, "smtp_5xx")),
        (-1, (True, "protocol")),  # smtplib's code for a reply line that does not start with digits
        (250, (True, "protocol")),
    ],
)
def test_classify_smtp_code(code: int, expected: tuple[bool, str]) -> None:
    assert classify_smtp_code(code) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The 'To' number +14155550123 is not valid", "The 'To' number +1********23 is not valid"),
        ("number 4155550123.", "number 41******23."),
        ("call +1 (415) 555-0123 now", "call +1********23 now"),
        ("error 21211, see /errors/21211", "error 21211, see /errors/21211"),  # error codes stay
        ("no digits", "no digits"),
    ],
)
def test_redact_phones(text: str, expected: str) -> None:
    assert redact_phones(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5.1.1 <ana.lopez@example.com>: unknown", "5.1.1 <a***@example.com>: unknown"),
        ("a@x.io and b.c@y.org", "a***@x.io and b***@y.org"),
        ("4.3.0 try later", "4.3.0 try later"),
    ],
)
def test_smtp_replies_are_redacted_with_the_shared_masking(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_twilio_error_detail_reads_code_and_message_and_masks_numbers() -> None:
    raw = b'{"code": 21211, "message": "The \'To\' number +14155550123 is not valid", "status": 400}'
    assert twilio_error_detail(raw) == " (code 21211: The 'To' number +1********23 is not valid)"
    assert twilio_error_detail(b'{"message": "Authenticate"}') == " (Authenticate)"


@pytest.mark.parametrize("raw", [b"", b"<html>", b"[1, 2]", b'{"sid": "SM1"}'])
def test_twilio_error_detail_is_empty_without_a_twilio_error(raw: bytes) -> None:
    assert twilio_error_detail(raw) == ""


def test_message_id_is_stable_per_key_and_uses_the_sender_domain() -> None:
    first = message_id_for("bookingConfirmation:client:bk-1:1", "bookings@petsit.example")
    assert first == message_id_for("bookingConfirmation:client:bk-1:1", "bookings@petsit.example")
    assert first != message_id_for("bookingConfirmation:owner:bk-1:1", "bookings@petsit.example")
    assert (
        first.startswith("<")
        and first.endswith("@petsit.example>")
        and len(first) == len("<") + 32 + len("@petsit.example>")
    )
    assert message_id_for("k", "no-at-sign").endswith("@localhost>")
    assert message_id_for("k", "Bookings <bookings@petsit.example>").endswith("@petsit.example>")


def test_build_writes_a_multiline_subject_as_one_encoded_header() -> None:
    channel = EmailChannel("127.0.0.1", 25, "bookings@petsit.example")
    message = RenderedMessage(
        "x", "client", Contact(email="ana@example.com"), "Booking\r\nBcc: evil@x.io", "Body"
    )
    raw = channel.build(message, to=channel.recipient(message), job_id="j1", idempotency_key="k1")
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")  # CRLF only
    mail = BytesParser(policy=policy.default).parsebytes(raw.replace(b"\r\n", b"\n"))
    assert mail["Subject"] == "Booking Bcc: evil@x.io"
    assert mail["Bcc"] is None
    assert (mail["To"], mail["X-Idempotency-Key"], mail["X-Job-Id"]) == ("ana@example.com", "k1", "j1")
    assert mail.get_content() == "Body\n"


# --- mail_format: the header block we write ---------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["", "Hi", "é" * 100, "🐶" * 30 + "a", "=?utf-8?q?Bo=0D=0AX-Injected:_yes?=", "a\r\nb"]
)
def test_encoded_words_round_trip_whole_characters_and_hold_only_base64(text: str) -> None:
    words = mail_format.encoded_words(text)
    assert all(re.fullmatch(r"=\?utf-8\?b\?[A-Za-z0-9+/=]+\?=", w) for w in words)
    assert (words == []) is (text == "")
    assert all(len(w) <= 64 for w in words)
    pieces = [base64.b64decode(w[10:-2]).decode("utf-8") for w in words]  # each word decodes on its own
    assert "".join(pieces) == text
    assert str(make_header(decode_header(" ".join(words)))) == text


def test_header_folds_between_tokens_and_never_inside_one() -> None:
    tokens = mail_format.text_value("x" * 300)
    folded = mail_format.header("Subject", tokens)
    lines = folded.removesuffix("\r\n").split("\r\n")
    assert folded.endswith("\r\n") and len(lines) > 1
    assert all(len(line) <= mail_format.MAX_LINE_CHARS for line in lines)
    assert lines[0].startswith("Subject: ") and all(line.startswith(" ") for line in lines[1:])
    assert [t for line in lines for t in line.split()][1:] == tokens


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("bookingConfirmation:client:bk-1:1", True),
        ("job-0001", True),
        ("k=?utf-8?q?x=0D=0AX:y?=", False),  # could be an encoded word: encoded instead
        ("a b", False),
        ("é", False),
        ("", False),
        ("x" * 201, False),
    ],
)
def test_ids_are_written_as_they_are_only_when_plain_tokens(value: str, token: bool) -> None:
    assert mail_format.is_token(value) is token
    written = mail_format.token_value(value)
    assert (written == [value]) is token
    assert str(make_header(decode_header(" ".join(written)))) == value


def test_sender_name_is_encoded_and_the_address_bare() -> None:
    assert mail_format.mailbox_tokens("", "a@b.example") == ["a@b.example"]
    *name, address = mail_format.mailbox_tokens("Paws =?x?q?y?=", "a@b.example")
    assert address == "<a@b.example>" and all(w.startswith("=?utf-8?b?") for w in name)


def test_channel_refuses_a_sender_that_is_not_a_mailbox() -> None:
    for sender in ("Paws", "Paws <a@b.example>, evil@attacker.example", "P\r\nBcc: x <a@b.example>"):
        with pytest.raises(SettingsError):
            EmailChannel("127.0.0.1", 25, sender)
