"""The job envelope: an AutomationJob as a Kafka message (key, protobuf value, headers), both ways.

Every writer of a job message (the trigger's enqueue and replay, the executor's retry, delay and
dead-letter publishes) encodes here, and every reader of its headers parses them here into one
typed :class:`Envelope`. Header names are in ``shared/constants.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from google.protobuf.message import DecodeError

from shared import constants as c
from shared.errors import PoisonMessage
from shared.kafka_message import KafkaHeaders, header_pairs
from shared.names import type_name
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.tracing import parse as parse_traceparent

Headers = list[tuple[str, bytes]]
RawHeaders = Sequence[tuple[str, bytes | None]]


class Consumed(Protocol):
    """What the envelope needs of a consumed message (confluent_kafka.Message has it)."""

    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> str | bytes | None: ...
    def headers(self) -> KafkaHeaders | None: ...


@dataclass(frozen=True)
class Origin:
    """Where a job was first consumed and when it first failed: kept through every retry into the
    dead-letter topic."""

    topic: str
    partition: int
    offset: int
    key: bytes
    first_failure_at: str  # ISO 8601 UTC, milliseconds

    @classmethod
    def first(cls, msg: Consumed, now: datetime) -> Origin:
        """The origin of a job failing for the first time: ``msg`` is where it was consumed."""
        key = msg.key() or b""
        return cls(
            topic=msg.topic() or "",
            partition=msg.partition() or 0,
            offset=msg.offset() or 0,
            key=key.encode() if isinstance(key, str) else key,
            first_failure_at=now.isoformat(timespec="milliseconds"),
        )

    def headers(self) -> Headers:
        return [
            (c.HEADER_ORIGINAL_TOPIC, self.topic.encode()),
            (c.HEADER_ORIGINAL_PARTITION, str(self.partition).encode()),
            (c.HEADER_ORIGINAL_OFFSET, str(self.offset).encode()),
            (c.HEADER_ORIGINAL_KEY, self.key),
            (c.HEADER_FIRST_FAILURE_AT, self.first_failure_at.encode()),
        ]


@dataclass(frozen=True)
class ErrorNote:
    """The last failure of a job: after how many attempts, its error class, its message."""

    attempts: int
    error_class: str
    message: str

    def headers(self) -> Headers:
        message = self.message.encode()[: c.MAX_ERROR_HEADER_BYTES]
        return [
            (c.HEADER_ATTEMPTS, str(self.attempts).encode()),
            (c.HEADER_ERROR_CLASS, self.error_class.encode()),
            (c.HEADER_ERROR_MESSAGE, message.decode(errors="ignore").encode()),
        ]


@dataclass(frozen=True)
class Envelope:
    """What a job message's headers say; a field is None when its header is absent or malformed."""

    job_id: str | None = None
    idempotency_key: str | None = None
    automation_type: str | None = None
    attempt: int | None = None
    due_at_ms: int | None = None  # retry and delay topics: when the message may be taken
    traceparent: str | None = None  # a valid W3C traceparent only
    origin: Origin | None = None
    error: ErrorNote | None = None

    def origin_or_first(self, msg: Consumed, now: datetime) -> Origin:
        """The carried origin, or ``msg`` as the first one."""
        return self.origin or Origin.first(msg, now)


def encode_job(
    job: pb.AutomationJob,
    *,
    traceparent: str | None = None,
    due_at_ms: int | None = None,
    origin: Origin | None = None,
    error: ErrorNote | None = None,
) -> tuple[bytes, bytes, Headers]:
    """Return (key, value, headers) for producing ``job``; the key is the booking id."""
    headers = [
        (c.HEADER_JOB_ID, job.job_id.encode()),
        (c.HEADER_IDEMPOTENCY_KEY, job.idempotency_key.encode()),
        (c.HEADER_AUTOMATION_TYPE, type_name(job.request.automation_type).encode()),
        (c.HEADER_ATTEMPT, str(job.attempt).encode()),
        (c.HEADER_CONTENT_TYPE, c.JOB_CONTENT_TYPE),
    ]
    if due_at_ms is not None:
        headers.append((c.HEADER_DUE_AT_MS, str(due_at_ms).encode()))
    if origin is not None:
        headers += origin.headers()
    if traceparent is not None:
        headers.append((c.HEADER_TRACEPARENT, traceparent.encode()))
    if error is not None:
        headers += error.headers()
    return job.request.booking.id.encode(), job.SerializeToString(), headers


# Headers a dead-letter publish writes anew; every other header of the failed message is kept as it was.
_REWRITTEN = frozenset(
    {
        c.HEADER_ORIGINAL_TOPIC,
        c.HEADER_ORIGINAL_PARTITION,
        c.HEADER_ORIGINAL_OFFSET,
        c.HEADER_ORIGINAL_KEY,
        c.HEADER_FIRST_FAILURE_AT,
        c.HEADER_TRACEPARENT,
        c.HEADER_DUE_AT_MS,
        c.HEADER_ATTEMPTS,
        c.HEADER_ERROR_CLASS,
        c.HEADER_ERROR_MESSAGE,
    }
)


def dead_letter_headers(msg: Consumed, error: ErrorNote, now: datetime) -> Headers:
    """The headers of ``msg`` parked, payload unchanged, in the dead-letter topic: its own headers, its
    origin (carried, or ``msg`` itself), its trace and the failure."""
    own = header_pairs(msg)
    envelope = read_envelope(own)
    kept = [(k, v) for k, v in own if k not in _REWRITTEN]
    headers = kept + envelope.origin_or_first(msg, now).headers()
    if envelope.traceparent is not None:
        headers.append((c.HEADER_TRACEPARENT, envelope.traceparent.encode()))
    return headers + error.headers()


def decode_job(value: bytes | None) -> pb.AutomationJob:
    """Parse a message value; raise PoisonMessage when it is not a usable job."""
    if not value:
        raise PoisonMessage("empty message value")
    job = pb.AutomationJob()
    try:
        job.ParseFromString(value)
    except DecodeError as exc:
        raise PoisonMessage(f"undecodable job payload: {exc}") from exc
    if not job.job_id or not job.idempotency_key or not job.request.booking.id:
        raise PoisonMessage("job payload lacks job_id, idempotency_key or booking id")
    return job


def read_envelope(headers: RawHeaders | None) -> Envelope:
    """Parse a job message's headers (unknown ones are ignored, malformed values read as None)."""
    seen = {k: v.decode(errors="replace") for k, v in headers or () if v is not None}
    traceparent = seen.get(c.HEADER_TRACEPARENT)
    return Envelope(
        job_id=seen.get(c.HEADER_JOB_ID),
        idempotency_key=seen.get(c.HEADER_IDEMPOTENCY_KEY),
        automation_type=seen.get(c.HEADER_AUTOMATION_TYPE),
        attempt=_int(seen.get(c.HEADER_ATTEMPT)),
        due_at_ms=_int(seen.get(c.HEADER_DUE_AT_MS)),
        traceparent=traceparent if parse_traceparent(traceparent) is not None else None,
        origin=_origin(headers or (), seen),
        error=_error(seen),
    )


def read_traceparent(headers: RawHeaders | None) -> str | None:
    """``read_envelope(headers).traceparent`` without parsing the other headers (the executor asks for
    it per job, for log lines and the EventLog row)."""
    raw = None
    for key, value in headers or ():
        if key == c.HEADER_TRACEPARENT and value is not None:
            raw = value  # the last one wins, as in read_envelope
    traceparent = raw.decode(errors="replace") if raw is not None else None
    return traceparent if parse_traceparent(traceparent) is not None else None


def _int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _origin(headers: RawHeaders, seen: dict[str, str]) -> Origin | None:
    partition, offset = _int(seen.get(c.HEADER_ORIGINAL_PARTITION)), _int(seen.get(c.HEADER_ORIGINAL_OFFSET))
    topic, first_failure_at = seen.get(c.HEADER_ORIGINAL_TOPIC), seen.get(c.HEADER_FIRST_FAILURE_AT)
    if topic is None or partition is None or offset is None or first_failure_at is None:
        return None
    key = next((v for k, v in headers if k == c.HEADER_ORIGINAL_KEY and v is not None), b"")
    return Origin(topic, partition, offset, key, first_failure_at)


def _error(seen: dict[str, str]) -> ErrorNote | None:
    attempts, error_class = _int(seen.get(c.HEADER_ATTEMPTS)), seen.get(c.HEADER_ERROR_CLASS)
    if attempts is None or error_class is None:
        return None
    return ErrorNote(attempts, error_class, seen.get(c.HEADER_ERROR_MESSAGE, ""))
