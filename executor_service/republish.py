"""Publishes failed jobs onward: to a retry tier topic (due later) or to the dead-letter topic.

Headers carry where the job was first consumed and first failed, through every retry, into the
dead-letter topic. ``*_headers`` functions are pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from datetime import UTC, datetime

from confluent_kafka import Message

from executor_service.failures import Failure
from shared import constants as c
from shared.codec import Headers, encode_job
from shared.kafka import Delivery, JobProducer
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.retry import pick_tier
from shared.topics import dead_letter_topic, retry_topic

_CARRIED = (
    c.HEADER_ORIGINAL_TOPIC,
    c.HEADER_ORIGINAL_PARTITION,
    c.HEADER_ORIGINAL_OFFSET,
    c.HEADER_ORIGINAL_KEY,
    c.HEADER_FIRST_FAILURE_AT,
    c.HEADER_TRACEPARENT,
)


def header_map(msg: Message) -> dict[str, bytes]:
    return {k: v for k, v in (msg.headers() or []) if v is not None}


def origin_headers(msg: Message, now: datetime) -> Headers:
    """Where the job was first consumed and when it first failed: copied from ``msg`` if it has them."""
    seen = header_map(msg)
    if c.HEADER_ORIGINAL_TOPIC in seen:
        return [(k, seen[k]) for k in _CARRIED if k in seen]
    headers = [
        (c.HEADER_ORIGINAL_TOPIC, msg.topic().encode()),
        (c.HEADER_ORIGINAL_PARTITION, str(msg.partition()).encode()),
        (c.HEADER_ORIGINAL_OFFSET, str(msg.offset()).encode()),
        (c.HEADER_ORIGINAL_KEY, msg.key() or b""),
        (c.HEADER_FIRST_FAILURE_AT, now.isoformat(timespec="milliseconds").encode()),
    ]
    if c.HEADER_TRACEPARENT in seen:
        headers.append((c.HEADER_TRACEPARENT, seen[c.HEADER_TRACEPARENT]))
    return headers


def error_headers(failure: Failure, attempts: int) -> Headers:
    message = failure.message.encode()[: c.MAX_ERROR_HEADER_BYTES]
    return [
        (c.HEADER_ATTEMPTS, str(attempts).encode()),
        (c.HEADER_ERROR_CLASS, failure.error_class.encode()),
        (c.HEADER_ERROR_MESSAGE, message.decode(errors="ignore").encode()),
    ]


def due_at_ms(msg: Message) -> int | None:
    raw = header_map(msg).get(c.HEADER_DUE_AT_MS)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


class Republisher:
    def __init__(self, producer: JobProducer, *, jobs_topic: str, tiers_s: Sequence[int]) -> None:
        self._producer = producer
        self._jobs_topic = jobs_topic
        self._tiers_s = tiers_s

    def retry(
        self, job: pb.AutomationJob, msg: Message, failure: Failure, delay_s: float
    ) -> Future[Delivery]:
        """Publish the next attempt of ``job`` to the retry tier for ``delay_s``, due ``delay_s`` from now."""
        now = datetime.now(UTC)
        following = pb.AutomationJob()
        following.CopyFrom(job)
        following.attempt = job.attempt + 1
        key, value, headers = encode_job(following)
        due = int(now.timestamp() * 1000 + delay_s * 1000)
        headers += [(c.HEADER_DUE_AT_MS, str(due).encode())]
        headers += origin_headers(msg, now) + error_headers(failure, job.attempt)
        topic = retry_topic(self._jobs_topic, pick_tier(delay_s, self._tiers_s))
        return self._producer.produce(topic, key, value, headers)

    def dead_letter(self, msg: Message, failure: Failure, attempts: int) -> Future[Delivery]:
        """Park ``msg``'s payload, unchanged, in the dead-letter topic with the failure in its headers."""
        now = datetime.now(UTC)
        kept = [(k, v) for k, v in (msg.headers() or []) if k not in _CARRIED and k not in _REPLACED]
        headers = kept + origin_headers(msg, now) + error_headers(failure, attempts)
        return self._producer.produce(
            dead_letter_topic(self._jobs_topic), msg.key() or b"", msg.value() or b"", headers
        )


_REPLACED = {c.HEADER_ATTEMPTS, c.HEADER_ERROR_CLASS, c.HEADER_ERROR_MESSAGE, c.HEADER_DUE_AT_MS}
