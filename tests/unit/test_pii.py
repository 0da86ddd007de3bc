"""Unit tests for shared.pii: masks keep just enough to tell contacts apart."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from executor_service.runner import JobRun, RunOutcome, event_row
from shared.pii import mask_email, mask_phone, redact_text, redact_value
from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.requests import valid_request


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("+14155550123", "+1********23"),
        ("+442071838750", "+4*********50"),
        ("4155550123", "41******23"),
        ("123456", "12**56"),  # the shortest input that keeps its ends
    ],
)
def test_mask_phone_keeps_first_two_and_last_two(phone: str, expected: str) -> None:
    masked = mask_phone(phone)
    assert masked == expected
    assert len(masked) == len(phone)
    assert masked[:2] == phone[:2] and masked[-2:] == phone[-2:]
    assert set(masked[2:-2]) == {"*"}


@pytest.mark.parametrize("phone", ["", "1", "12", "1234", "12345"])
def test_mask_phone_short_inputs_are_fully_masked(phone: str) -> None:
    assert mask_phone(phone) == "*" * len(phone)


def test_mask_phone_hides_the_middle_digits() -> None:
    masked = mask_phone("+14155550123")
    assert "4155550" not in masked
    assert sum(c.isdigit() for c in masked) == 3  # '1' of +1 and the last two digits


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("ana.smith@example.com", "a***@example.com"),
        ("ana@example.com", "a***@example.com"),
        ("a@example.com", "a***@example.com"),
        ("@example.com", "***@example.com"),
        ("bob+tag@mail.co.uk", "b***@mail.co.uk"),
    ],
)
def test_mask_email_keeps_first_char_and_domain(email: str, expected: str) -> None:
    assert mask_email(email) == expected


def test_mask_email_hides_the_local_part_length() -> None:
    assert mask_email("a@x.io") == mask_email("abcdefghij@x.io") == "a***@x.io"


@pytest.mark.parametrize("email", ["", "not-an-email", "ana.example.com"])
def test_mask_email_without_at_sign_is_fully_masked(email: str) -> None:
    assert mask_email(email) == "***"


# --- redact_text: finding contact details in free text --------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call +14155550123 now", "call +1********23 now"),  # E.164
        ("+442071838750", "+4*********50"),
        ("to:+14155550123,", "to:+1********23,"),
        ("x+14155550123", "x+1********23"),
        ("+1 (415) 555-0123", "+1********23"),  # formatted international
        ("+44 20 7183 8750", "+4*********50"),
        ("+1.415.555.0123", "+1********23"),
        ("(415) 555-0123", "41******23"),  # formatted national
        ("415-555-0123.", "41******23."),
        ("415.555.0123", "41******23"),
        ("415 555 0123", "41******23"),
        ("020 7183 8750", "02*******50"),
        ("555-0123", "55***23"),
        ("phone=4155550123", "phone=41******23"),  # bare national run
        ("44155550123", "44*******23"),
    ],
)
def test_redact_text_masks_phone_numbers(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ana@example.com", "a***@example.com"),
        ("mail ana.smith+tag@mail.co.uk, please", "mail a***@mail.co.uk, please"),
        ("bob+14155550123@example.com", "b***@example.com"),  # a +tag that looks like a phone
        ("<ana@example.com>", "<a***@example.com>"),
        ("{'email': 'ana@example.com'}", "{'email': 'a***@example.com'}"),
        ('"email": "ana@example.com"', '"email": "a***@example.com"'),
        ("email=ana@example.com", "email=a***@example.com"),
        ("ñandú@ejemplo.es", "ñ***@ejemplo.es"),
    ],
)
def test_redact_text_masks_email_addresses(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("redis://default:s3cret@127.0.0.1:6379/9", "redis://default:***@127.0.0.1:6379/9"),
        ("redis://:s3cret@redis:6379/0", "redis://:***@redis:6379/0"),
        ("postgresql+psycopg://app:p@ss@db/automation", "postgresql+psycopg://app:***@db/automation"),
    ],
)
def test_redact_text_hides_url_passwords(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2027-03-01T17:00:00.123+00:00",  # ISO timestamps, with offsets
        "2027-03-01 17:00:00+01:00",
        "01-03-2027",  # dd-mm-yyyy
        "123e4567-e89b-12d3-a456-426614174000",  # UUID
        "job 0123456789abcdef0123456789abcdef",  # job ids (uuid4 hex)
        "31415926535897932384626433832795",  # an all-digit hex id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # traceparent
        "bookingConfirmation:client:bk_2027-0001:3",  # idempotency keys, booking ids
        "b-4155550123",
        "sitter-7",
        "127.0.0.1:50051",
        "192.168.100.200",
        "ipv6:[::1]:50051",
        "epoch 1767225600, ms 1767225600123",  # epoch seconds and milliseconds
        "took 0.0123456789 s",
        "offset 1234567 partition 2",
        "version 1.85.3",
        "USD 4500",
        "+00:00",
        "a***@example.com and +1********23",  # already masked
        "",
    ],
)
def test_redact_text_leaves_ids_and_timestamps_alone(text: str) -> None:
    assert redact_text(text) == text


def test_redact_text_is_idempotent() -> None:
    text = "ana@example.com +1 (415) 555-0123 415-555-0123 redis://u:pw@h/0"
    once = redact_text(text)
    assert redact_text(once) == once
    assert "555" not in once and "ana@" not in once and "pw" not in once


def test_redact_text_stays_fast_on_hostile_text() -> None:
    import time

    for text in ["a" * 100_000 + " @x.com", "1 " * 50_000, "12-" * 50_000, "a@" * 50_000, "+1" * 50_000]:
        started = time.perf_counter()
        redact_text(text)
        assert time.perf_counter() - started < 1.0


def test_redact_value_walks_nested_data() -> None:
    class Thing:
        def __str__(self) -> str:
            return "thing of ana@example.com"

    value = {
        "to": "+14155550123",
        "n": 4155550123,  # numbers are not strings: left as they are
        "ok": True,
        "none": None,
        "nested": {"list": ["ana@example.com", ("+14155550199",)], "ana@example.com": 1},
        "obj": Thing(),
    }
    assert redact_value(value) == {
        "to": "+1********23",
        "n": 4155550123,
        "ok": True,
        "none": None,
        "nested": {"list": ["a***@example.com", ["+1********99"]], "a***@example.com": 1},
        "obj": "thing of a***@example.com",
    }


def test_redact_value_survives_cycles() -> None:
    cycle: dict = {"email": "ana@example.com"}
    cycle["self"] = cycle
    redacted = redact_value(cycle)
    assert redacted["email"] == "a***@example.com"


# --- EventLog rows: AUTOMATION_EVENTLOG_REDACT_CONTACTS -------------------------------------------


class _Msg:
    """The few confluent_kafka.Message methods event_row() reads."""

    def topic(self) -> str:
        return "automation.jobs"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return 7

    def headers(self) -> list:
        return []


def _run() -> JobRun:
    request = valid_request(
        automation_type=pb.AUTOMATION_TYPE_SITTER_ASSIGNMENT, recipient=pb.RECIPIENT_SITTER
    )
    request.booking.notes = "Gate code 4411; call +14155550100 or mail gate@example.com"
    job = pb.AutomationJob(job_id="j1", idempotency_key="k1", request=request, attempt=1)
    return JobRun(
        job, _Msg(), datetime.now(UTC), RunOutcome.SENT, outputs={"channel_response": {"http_status": 200}}
    )


def test_event_row_keeps_full_inputs_by_default() -> None:
    inputs = event_row(_run(), "succeeded").inputs
    assert inputs["booking"]["client"]["phone"] == "+14155550123"
    assert inputs["booking"]["client"]["email"] == "ana@example.com"
    assert inputs["booking"]["sitter"]["phone"] == "+14155550199"


@pytest.mark.parametrize("status", ["succeeded", "retry_scheduled", "scheduled", "cancelled", "skipped_late"])
def test_event_row_masks_contacts_when_asked(status: str) -> None:
    row = event_row(_run(), status, redact_contacts=True)
    booking = row.inputs["booking"]
    assert booking["client"]["phone"] == "+1********23"
    assert booking["client"]["email"] == "a***@example.com"
    assert booking["sitter"]["phone"] == "+1********99"
    assert booking["notes"] == "Gate code 4411; call +1********00 or mail g***@example.com"
    assert booking["client"]["first_name"] == "Ana" and booking["id"] == "bk_2027-0001"  # the rest stays
    assert row.outputs == {"channel_response": {"http_status": 200}}


def test_dead_letter_rows_keep_full_inputs_for_replay() -> None:
    inputs = event_row(_run(), "dead_lettered", redact_contacts=True).inputs
    assert inputs["booking"]["client"]["phone"] == "+14155550123"
