"""Scheduled sends on Kafka: a job due later waits in delay topics ``<jobs>.delay.<N>s``.

Every message of a delay topic is taken exactly N seconds after it was written (its ``due-at-ms``
header), so within a partition those times only grow: the consume loop pauses a partition at its
first message that is not due and resumes it then, and nothing behind it is held back (it is due
later still). When taken, a job that is still not due hops on to the longest tier that fits what
remains, so a job due in three days makes about a dozen hops, holds no memory in between, and
survives restarts (it is only a message in a topic with a committed offset). The last hop, shorter
than the shortest tier, waits exactly until the due time; it may hold back its partition by less
than the shortest tier.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future

from confluent_kafka import Message

from shared import constants as c
from shared.codec import encode_job
from shared.kafka import Delivery, JobProducer
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.topics import delay_topic


def next_hop(remaining_s: float, tiers_s: Sequence[int]) -> tuple[int, float]:
    """``(tier, wait_s)`` for a job due in ``remaining_s``: the longest tier that fits, waited in full;
    or, when even the shortest does not fit, the shortest tier, waited only until the due time."""
    fitting = [t for t in tiers_s if t <= remaining_s]
    if fitting:
        tier = max(fitting)
        return tier, float(tier)
    return min(tiers_s), max(remaining_s, 0.0)


def due_in_s(job: pb.AutomationJob, now_ms: int) -> float:
    """Seconds until ``job`` is due (<= 0: due now). Retries are due when their retry topic releases them."""
    if not job.HasField("due_at"):
        return 0.0
    return (job.due_at.ToMilliseconds() - now_ms) / 1000


class Deferrer:
    def __init__(self, producer: JobProducer, *, jobs_topic: str, tiers_s: Sequence[int]) -> None:
        self._producer = producer
        self._jobs_topic = jobs_topic
        self._tiers_s = tiers_s

    def defer(self, job: pb.AutomationJob, msg: Message, now_ms: int) -> tuple[str, Future[Delivery]]:
        """Write ``job`` to its next delay topic; returns the topic and the broker's answer."""
        tier, wait_s = next_hop(due_in_s(job, now_ms), self._tiers_s)
        key, value, headers = encode_job(job)
        headers.append((c.HEADER_DUE_AT_MS, str(int(now_ms + wait_s * 1000)).encode()))
        carried = [(k, v) for k, v in (msg.headers() or []) if k == c.HEADER_TRACEPARENT and v is not None]
        topic = delay_topic(self._jobs_topic, tier)
        return topic, self._producer.produce(topic, key, value, headers + carried)
