"""Unit tests for shared.codec: AutomationJob <-> Kafka key, value and headers (the job envelope)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared import constants
from shared.codec import (
    Envelope,
    ErrorNote,
    Origin,
    dead_letter_headers,
    decode_job,
    encode_job,
    read_envelope,
    read_traceparent,
)
from shared.errors import PoisonMessage
from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.sample import sample_request


def make_job(**overrides) -> pb.AutomationJob:
    fields = {
        "job_id": "0190f0c2-7e1a-7c3b-9d2e-5a6b7c8d9e0f",
        "idempotency_key": "ownerNewBookingAlert:client:bk-2026-0007:1",
        "request": sample_request("bk-2026-0007", pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION),
        "attempt": 2,
    }
    fields.update(overrides)
    job = pb.AutomationJob(**fields)
    job.enqueued_at.FromSeconds(1_780_000_000)
    return job


def test_round_trip() -> None:
    job = make_job()
    key, value, headers = encode_job(job)
    assert key == b"bk-2026-0007"
    assert isinstance(value, bytes) and value
    decoded = decode_job(value)
    assert decoded == job
    assert decoded.request.booking.client.first_name == "Ana"


def test_headers() -> None:
    job = make_job()
    _key, _value, headers = encode_job(job)
    names = [name for name, _ in headers]
    assert len(names) == len(set(names)), "no header is repeated"
    assert dict(headers) == {
        constants.HEADER_JOB_ID: b"0190f0c2-7e1a-7c3b-9d2e-5a6b7c8d9e0f",
        constants.HEADER_IDEMPOTENCY_KEY: b"ownerNewBookingAlert:client:bk-2026-0007:1",
        constants.HEADER_AUTOMATION_TYPE: b"bookingConfirmation",
        constants.HEADER_ATTEMPT: b"2",
        constants.HEADER_CONTENT_TYPE: constants.JOB_CONTENT_TYPE,
    }
    assert set(names) == {"job-id", "idempotency-key", "automation-type", "attempt", "content-type"}
    assert all(isinstance(v, bytes) for _, v in headers)


def test_headers_of_an_unknown_automation_type() -> None:
    job = make_job()
    job.request.automation_type = 99  # a value from a newer schema
    _key, value, headers = encode_job(job)
    assert dict(headers)[constants.HEADER_AUTOMATION_TYPE] == b"unknown"
    assert decode_job(value).request.automation_type == 99


def test_non_ascii_ids_are_utf8_encoded() -> None:
    job = make_job(idempotency_key="clé-ünïcode")
    job.request.booking.id = "bk-é"
    key, value, headers = encode_job(job)
    assert key == "bk-é".encode()
    assert dict(headers)[constants.HEADER_IDEMPOTENCY_KEY] == "clé-ünïcode".encode()
    assert decode_job(value).idempotency_key == "clé-ünïcode"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(b"not a protobuf", id="text"),
        pytest.param(b"\xff\xff\xff\xff\xff", id="garbage"),
        pytest.param(b"\x0a\x02\xff\xfe", id="bad-utf8-in-string-field"),
        pytest.param(b"\x0a\x64abc", id="truncated-length-delimited"),
        pytest.param(b'{"job_id": "x"}', id="json"),
    ],
)
def test_undecodable_bytes_are_poison(value: bytes) -> None:
    with pytest.raises(PoisonMessage):
        decode_job(value)


@pytest.mark.parametrize("value", [b"", None], ids=["empty", "none"])
def test_empty_value_is_poison(value: bytes | None) -> None:
    with pytest.raises(PoisonMessage, match="empty"):
        decode_job(value)


def without_booking_id() -> pb.AutomationJob:
    job = make_job()
    job.request.booking.id = ""
    return job


@pytest.mark.parametrize(
    "job",
    [
        pytest.param(make_job(job_id=""), id="no-job-id"),
        pytest.param(make_job(idempotency_key=""), id="no-idempotency-key"),
        pytest.param(without_booking_id(), id="no-booking-id"),
        pytest.param(pb.AutomationJob(attempt=1), id="only-attempt"),
    ],
)
def test_valid_protobuf_lacking_required_fields_is_poison(job: pb.AutomationJob) -> None:
    value = job.SerializeToString()
    assert value, "the payload is not empty: it decodes, but is not a usable job"
    pb.AutomationJob().ParseFromString(value)  # valid protobuf
    with pytest.raises(PoisonMessage, match="lacks"):
        decode_job(value)


def test_a_different_message_type_is_poison() -> None:
    """An EnqueueAutomationRequest parses as an AutomationJob with nothing usable in it."""
    value = sample_request("bk-1").SerializeToString()
    with pytest.raises(PoisonMessage):
        decode_job(value)


TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
ORIGIN = Origin("automation.jobs", 3, 41, b"bk-2026-0007", "2026-06-01T10:00:00.000+00:00")


def test_every_header_round_trips_into_one_typed_envelope() -> None:
    error = ErrorNote(2, "http_5xx", "HTTPError: 503")
    _key, _value, headers = encode_job(
        make_job(), traceparent=TRACEPARENT, due_at_ms=1_780_000_004_000, origin=ORIGIN, error=error
    )
    names = [name for name, _ in headers]
    assert len(names) == len(set(names)), "no header is repeated"
    assert read_envelope(headers) == Envelope(
        job_id="0190f0c2-7e1a-7c3b-9d2e-5a6b7c8d9e0f",
        idempotency_key="ownerNewBookingAlert:client:bk-2026-0007:1",
        automation_type="bookingConfirmation",
        attempt=2,
        due_at_ms=1_780_000_004_000,
        traceparent=TRACEPARENT,
        origin=ORIGIN,
        error=error,
    )


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([], id="none"),
        pytest.param([("due-at-ms", b"soon"), ("attempt", b"x"), ("traceparent", b"00-bad")], id="malformed"),
        pytest.param(
            [("original-topic", b"automation.jobs"), ("original-offset", b"7")], id="partial-origin"
        ),
        pytest.param([("attempts", b"3")], id="partial-error"),
        pytest.param([("due-at-ms", None), ("x-other", b"1")], id="null-and-unknown"),
    ],
)
def test_absent_or_malformed_headers_read_as_none(headers) -> None:
    assert read_envelope(headers) == Envelope()


class _Msg:
    """The parts of a consumed message the envelope reads."""

    def __init__(self, headers, topic="automation.jobs.retry.2s", partition=1, offset=9, key=b"bk-9"):
        self._headers, self._topic, self._partition, self._offset, self._key = (
            headers,
            topic,
            partition,
            offset,
            key,
        )

    def topic(self):
        return self._topic

    def partition(self):
        return self._partition

    def offset(self):
        return self._offset

    def key(self):
        return self._key

    def headers(self):
        return self._headers


def test_a_first_failure_takes_the_consumed_message_as_its_origin() -> None:
    now = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    envelope = read_envelope([("traceparent", TRACEPARENT.encode())])
    origin = envelope.origin_or_first(_Msg([]), now)
    assert origin == Origin("automation.jobs.retry.2s", 1, 9, b"bk-9", "2026-06-01T10:00:00.000+00:00")


def test_dead_letter_headers_keep_the_job_headers_and_carry_origin_and_trace() -> None:
    earlier = ErrorNote(1, "timeout", "first")
    _key, _value, headers = encode_job(
        make_job(), traceparent=TRACEPARENT, due_at_ms=5, origin=ORIGIN, error=earlier
    )
    dead = dead_letter_headers(_Msg(headers), ErrorNote(3, "http_5xx", "last"), datetime.now(UTC))
    names = [name for name, _ in dead]
    assert len(names) == len(set(names)), "no header is repeated"
    envelope = read_envelope(dead)
    assert envelope.origin == ORIGIN and envelope.traceparent == TRACEPARENT
    assert envelope.error == ErrorNote(3, "http_5xx", "last")
    assert envelope.due_at_ms is None and envelope.job_id == make_job().job_id


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("traceparent", TRACEPARENT.encode())],
        [("traceparent", b"00-bad")],
        [("traceparent", b"00-bad"), ("traceparent", TRACEPARENT.encode())],
        [("traceparent", TRACEPARENT.encode()), ("traceparent", b"\xff\xfe")],
        [("job-id", b"j"), ("traceparent", None)],
    ],
)
def test_read_traceparent_is_the_envelopes_traceparent(headers):
    assert read_traceparent(headers) == read_envelope(headers).traceparent
