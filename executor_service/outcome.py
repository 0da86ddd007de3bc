"""What running a batch produced and how far making it durable got (batch.py), and the helpers of its
persist stage: waiting for onward publishes, the end-to-end metric, log context per job."""

from __future__ import annotations

import logging
from concurrent.futures import Future, wait
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from confluent_kafka import Message

from executor_service import metrics
from executor_service.failures import Failure
from executor_service.runner import JobRun
from shared.codec import read_traceparent
from shared.db.event_row import EventRow
from shared.kafka_message import header_pairs
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.tracing import log_context, trace_id

if TYPE_CHECKING:
    from executor_service.pauses import Held

log = logging.getLogger(__name__)

_PUBLISH_TIMEOUT_S = 15.0
_Item = tuple[pb.AutomationJob, Message]


@dataclass
class Pending:
    """A publish that must be acknowledged before ``msg``'s offset may be committed."""

    msg: Message
    future: Future
    row: EventRow | None


class Stage(IntEnum):
    """How far making a batch's outcome durable got; each stage is done once, in this order."""

    RAN = 0  # jobs run, nothing published or written yet
    PUBLISHED = 1  # onward publishes (retry, delay, dead letter) answered by the broker
    WRITTEN = 2  # EventLog rows committed
    MARKED = 3  # final keys marked done, the other leases released


@dataclass
class BatchOutcome:
    """What running a batch produced, and how far making it durable got."""

    runs: list[JobRun]
    poison: list[tuple[Message, Failure]]
    blocked: list[Message]
    deferred: list[_Item] = field(default_factory=list)  # due later: on to a delay topic
    held: list[Held] = field(default_factory=list)  # due, held back by a pause (pauses.py)
    stage: Stage = Stage.RAN
    pending: list[Pending] = field(default_factory=list)  # onward publishes
    rows: list[EventRow] = field(default_factory=list)
    unfinished: list[Message] = field(default_factory=list)
    released: list[str] = field(default_factory=list)  # keys of runs whose outcome is not durable
    keys: frozenset[str] = frozenset()  # the keys the batch ran (or found blocked): busy until MARKED
    lease_ticket: int = 0  # our leases on them, renewed until MARKED (lease_keeper.py)


def await_publishes(pending: list[Pending], rows: list[EventRow]) -> list[Pending]:
    """Wait for the onward publishes; acked ones add their row; the failed ones are returned."""
    wait([p.future for p in pending], timeout=_PUBLISH_TIMEOUT_S)
    failed = []
    for p in pending:
        if p.future.done() and p.future.exception() is None:
            if p.row is not None:
                rows.append(p.row)
        else:
            log.error(
                "onward publish failed; the message will be consumed again",
                extra={"topic": p.msg.topic(), "partition": p.msg.partition(), "offset": p.msg.offset()},
            )
            failed.append(p)
    return failed


def observe_end_to_end(runs: list[JobRun], committed_s: float) -> None:
    """Enqueue call -> success row committed, for first attempts of jobs due at once."""
    histograms: dict[str, Any] = {}  # one labels() lookup per automation type
    for run in runs:
        timed = run.job.HasField("enqueued_at") and not run.job.HasField("due_at")
        if run.delivered and timed and run.job.attempt == 1:
            latency_s = committed_s - run.job.enqueued_at.ToNanoseconds() / 1e9
            kind = run.automation_type
            if kind not in histograms:
                histograms[kind] = metrics.END_TO_END.labels(kind)
            histograms[kind].observe(max(latency_s, 0.0))


def job_log_context(job: pb.AutomationJob, msg: Message) -> AbstractContextManager[None]:
    """Log lines about ``job`` carry its id, attempt and trace id."""
    return log_context(
        job_id=job.job_id,
        attempt=job.attempt,
        trace_id=trace_id(read_traceparent(header_pairs(msg))),
    )
