"""Where a job goes when it does not end here: the one place that decides it, and the one publisher.

- A run that failed: a transient failure with attempts left is retried after ``compute_backoff()``
  (shared/retry.py) on the retry tier topic ``<jobs>.retry.<N>s`` for that delay, with ``attempt + 1``;
  anything else goes to the dead-letter topic, payload unchanged, with where it came from and why.
- A job not due yet (scheduled send): its next hop on a delay tier topic ``<jobs>.delay.<N>s``. Every
  message of a delay topic is taken exactly N seconds after it was written, so within a partition release
  times only grow: the consume loop pauses a partition at its first message not due, and nothing behind
  it is held back. A job still not due hops on to the longest tier that fits what remains (a job due in
  three days makes about a dozen hops, holding no memory in between); the last hop, shorter than the
  shortest tier, waits exactly until the due time.

Both tier kinds use one rule (:func:`pick_tier`) and one publish path (:class:`OnwardPublisher`): encode
the job with its envelope (shared/codec.py), stamp ``due-at-ms``, produce.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from confluent_kafka import Message

from executor_service import metrics
from executor_service.failures import Failure
from shared.codec import ErrorNote, dead_letter_headers, encode_job, read_envelope
from shared.db.event_status import EventStatus
from shared.kafka import Delivery, JobProducer
from shared.kafka_message import header_pairs
from shared.names import type_name
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.retry import RetryPolicy, compute_backoff, should_retry
from shared.topics import dead_letter_topic, delay_topic, retry_topic

log = logging.getLogger(__name__)


class Route(StrEnum):
    RETRY = "retry"
    DELAY = "delay"
    DEAD_LETTER = "dead_letter"


@dataclass(frozen=True)
class Hop:
    """Where a job goes next: a retry or delay tier (released at ``due_at_ms``) or the dead-letter topic."""

    route: Route
    tier_s: int = 0
    due_at_ms: int | None = None

    @property
    def status(self) -> str:
        """The EventLog status of the run that leaves this way (a deferral writes ``scheduled``)."""
        return {
            Route.RETRY: EventStatus.RETRY_SCHEDULED,
            Route.DEAD_LETTER: EventStatus.DEAD_LETTERED,
            Route.DELAY: EventStatus.SCHEDULED,
        }[self.route]


def pick_tier(wait_s: float, tiers_s: Sequence[int]) -> int:
    """The tier for a wait: the longest tier not longer than it (else the shortest).

    A tier topic holds messages whose waits are close, so releasing them in offset order keeps each
    one's lateness within the spread of its tier.
    """
    fitting = [t for t in tiers_s if t <= wait_s]
    return max(fitting) if fitting else min(tiers_s)


def after_failure(
    attempt: int,
    failure: Failure,
    policy: RetryPolicy,
    now_ms: int,
    tiers_s: Sequence[int],
    draw: float | None = None,
) -> Hop:
    """What failed attempt ``attempt`` becomes: a retry due after the backoff, or a dead letter."""
    if not (failure.retryable and should_retry(attempt, policy)):
        return Hop(Route.DEAD_LETTER)
    delay_s = compute_backoff(attempt, policy, draw)
    return Hop(Route.RETRY, pick_tier(delay_s, tiers_s), now_ms + int(delay_s * 1000))


def next_delay_hop(remaining_s: float, now_ms: int, tiers_s: Sequence[int]) -> Hop:
    """The next hop of a job due in ``remaining_s``: the longest tier that fits, waited in full; or, when
    even the shortest does not fit, the shortest tier, waited only until the due time."""
    tier = pick_tier(remaining_s, tiers_s)
    wait_s = float(tier) if tier <= remaining_s else max(remaining_s, 0.0)
    return Hop(Route.DELAY, tier, int(now_ms + wait_s * 1000))


def due_in_s(job: pb.AutomationJob, now_ms: int) -> float:
    """Seconds until ``job`` is due (<= 0: due now). Retries are due when their retry topic releases them."""
    if not job.HasField("due_at"):
        return 0.0
    return (job.due_at.ToMilliseconds() - now_ms) / 1000


def split_due(
    groups: dict[bytes, list[tuple[pb.AutomationJob, Message]]], now_ms: int
) -> tuple[dict[bytes, list[tuple[pb.AutomationJob, Message]]], list[tuple[pb.AutomationJob, Message]]]:
    """A batch's jobs by booking: those due now (still by booking, in order), and those due later."""
    later = [item for items in groups.values() for item in items if due_in_s(item[0], now_ms) > 0]
    if not later:
        return groups, []
    due = {k: d for k, items in groups.items() if (d := [i for i in items if due_in_s(i[0], now_ms) <= 0])}
    return due, later


class OnwardPublisher:
    """Decides where failed and not-yet-due jobs go, and writes them there."""

    def __init__(
        self,
        producer: JobProducer,
        *,
        jobs_topic: str,
        retry_tiers_s: Sequence[int],
        delay_tiers_s: Sequence[int],
        policy_for: Callable[[str], RetryPolicy],
    ) -> None:
        self._producer = producer
        self._jobs_topic = jobs_topic
        self._retry_tiers_s = retry_tiers_s
        self._delay_tiers_s = delay_tiers_s
        self._policy_for = policy_for

    def failed(self, job: pb.AutomationJob, msg: Message, failure: Failure) -> tuple[Hop, Future[Delivery]]:
        """Retry or dead-letter failed attempt ``job.attempt``; returns the hop and the broker's answer."""
        automation_type = type_name(job.request.automation_type)
        now_ms = _now_ms()
        hop = after_failure(
            job.attempt, failure, self._policy_for(automation_type), now_ms, self._retry_tiers_s
        )
        if hop.route is Route.DEAD_LETTER:
            metrics.DEAD_LETTERS.labels(automation_type, failure.error_class).inc()
            log.error(
                "job dead-lettered",
                extra={"job_id": job.job_id, "attempt": job.attempt, "error_class": failure.error_class},
            )
            return hop, self.dead_letter(msg, failure, job.attempt)
        metrics.RETRIES.labels(automation_type, str(job.attempt)).inc()
        log.warning(
            "job failed; retry scheduled",
            extra={
                "job_id": job.job_id,
                "attempt": job.attempt,
                "error_class": failure.error_class,
                "retry_in_s": round(((hop.due_at_ms or now_ms) - now_ms) / 1000, 3),
            },
        )
        following = pb.AutomationJob()
        following.CopyFrom(job)
        following.attempt = job.attempt + 1
        error = ErrorNote(job.attempt, failure.error_class, failure.message)
        return hop, self._to_tier(following, msg, hop, error)

    def deferred(self, job: pb.AutomationJob, msg: Message) -> tuple[str, Future[Delivery]]:
        """Write ``job``, not due yet, to its next delay topic; returns the topic and the broker's answer."""
        now_ms = _now_ms()
        hop = next_delay_hop(due_in_s(job, now_ms), now_ms, self._delay_tiers_s)
        metrics.DEFERRED_JOBS.labels(type_name(job.request.automation_type)).inc()
        return self._topic(hop), self._to_tier(job, msg, hop, None)

    def later(self, job: pb.AutomationJob, msg: Message, wait_s: float) -> Future[Delivery]:
        """Write ``job`` unchanged (same attempt) to the delay tier that brings it back in ``wait_s``, or
        hops toward it (a job held back by a rate limit, rate_limit.py); returns the broker's answer."""
        now_ms = _now_ms()
        return self._to_tier(job, msg, next_delay_hop(wait_s, now_ms, self._delay_tiers_s), None)

    def held(self, job: pb.AutomationJob, msg: Message, tier_s: int) -> tuple[str, Future[Delivery]]:
        """Write ``job``, held back by a pause (pauses.py), to the delay tier ``tier_s``, taken again after
        the full tier; the envelope it came with (origin, last error) goes along."""
        hop = Hop(Route.DELAY, tier_s, _now_ms() + tier_s * 1000)
        return self._topic(hop), self._to_tier(job, msg, hop, None, keep_failure=True)

    def dead_letter(self, msg: Message, failure: Failure, attempts: int) -> Future[Delivery]:
        """Park ``msg``'s payload, unchanged, in the dead-letter topic with the failure in its headers."""
        error = ErrorNote(attempts, failure.error_class, failure.message)
        headers = dead_letter_headers(msg, error, datetime.now(UTC))
        return self._producer.produce(
            dead_letter_topic(self._jobs_topic), msg.key() or b"", msg.value() or b"", headers
        )

    def _to_tier(
        self,
        job: pb.AutomationJob,
        msg: Message,
        hop: Hop,
        error: ErrorNote | None,
        *,
        keep_failure: bool = False,
    ) -> Future[Delivery]:
        """The one tier publish: encode ``job`` with its envelope, stamp the release time, produce. A new
        ``error`` carries the job's origin (``msg`` for a first failure); ``keep_failure`` carries the
        origin and last error ``msg`` came with; otherwise only the trace goes along."""
        envelope = read_envelope(header_pairs(msg))
        origin = envelope.origin_or_first(msg, datetime.now(UTC)) if error is not None else None
        if keep_failure:
            origin, error = envelope.origin, envelope.error
        key, value, headers = encode_job(
            job, traceparent=envelope.traceparent, due_at_ms=hop.due_at_ms, origin=origin, error=error
        )
        return self._producer.produce(self._topic(hop), key, value, headers)

    def _topic(self, hop: Hop) -> str:
        if hop.route is Route.RETRY:
            return retry_topic(self._jobs_topic, hop.tier_s)
        if hop.route is Route.DELAY:
            return delay_topic(self._jobs_topic, hop.tier_s)
        return dead_letter_topic(self._jobs_topic)


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)
