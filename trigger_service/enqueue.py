"""Enqueueing: requests validated, scheduled, claimed and produced together (EnqueueAutomation is a
batch of one; EnqueueAutomations takes up to MAX_BATCH_ITEMS).

Each item gets its own result: accepted (broker-acknowledged), a duplicate of an accepted job, or an
error status (INVALID_ARGUMENT with field violations, or UNAVAILABLE when it was not written and may
be retried with the same key). Idempotency claims are taken and settled in pipelined Redis round
trips; the settlement (and the note of the booking's newest version, shared/booking_state.py) runs
when the last broker answer arrives, even if the caller has stopped waiting. Items sharing a key are
one job: the first is accepted, the others are its duplicates. A key claimed by a call still in flight
is waited for (until the deadline), so a concurrent duplicate answers as a duplicate.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import TypeVar

import redis
from google.protobuf import timestamp_pb2
from google.rpc import code_pb2, status_pb2

from shared.booking_state import BookingStates
from shared.codec import encode_job
from shared.doorbell import Doorbell
from shared.errors import IdempotencyStoreUnavailable
from shared.ids import uuid4_hexes
from shared.kafka import Delivery, JobProducer
from shared.names import type_name
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.tracing import children_of
from shared.vocabulary import default_idempotency_key
from trigger_service import metrics
from trigger_service.due_at import DueAtResolver
from trigger_service.idempotency import ClaimState, IdempotencyStore, Record
from trigger_service.validation import bad_request_proto, validate_enqueue_request

log = logging.getLogger(__name__)

MAX_BATCH_ITEMS = 500
PENDING_POLL_S = 0.02  # how often a key claimed by a call in flight is asked for again
PENDING_MESSAGE = "an earlier call with this key is still waiting; retry"
_Outcomes = dict[str, Delivery | None]
T = TypeVar("T")


# One slot per request, filled as its outcome is known.
_Results = list[pb.EnqueueItemResult | None]


def fill_response(
    response: pb.EnqueueAutomationResponse,
    job_id: str,
    key: str,
    delivery: Delivery | None,
    *,
    duplicate: bool,
) -> None:
    """Set an (empty) response's fields in place: building it apart and copying it into its
    EnqueueItemResult cost a copy per item."""
    response.job_id, response.idempotency_key, response.duplicate = job_id, key, duplicate
    if delivery is not None:
        response.topic, response.partition, response.offset = (
            delivery.topic,
            delivery.partition,
            delivery.offset,
        )


def item_error(code: int, message: str) -> pb.EnqueueItemResult:
    return pb.EnqueueItemResult(error=status_pb2.Status(code=code, message=message))


def ask_while_pending(ask: Callable[[], T], pending: Callable[[T], bool], deadline: float) -> T:
    """``ask()``, and again every PENDING_POLL_S while ``pending(answer)`` and ``deadline`` (a
    ``time.perf_counter()``) allows: for keys claimed by another call still in flight. The last answer."""
    answer = ask()
    while pending(answer) and time.perf_counter() + PENDING_POLL_S < deadline:
        time.sleep(PENDING_POLL_S)
        answer = ask()
    return answer


# The answer of an item whose key another call still in flight holds (with ``wait_pending=False``): one
# shared result that is never modified, told apart by identity (is_pending), not by its text.
KEY_PENDING = item_error(code_pb2.UNAVAILABLE, PENDING_MESSAGE)


def is_pending(result: pb.EnqueueItemResult) -> bool:
    """Whether ``result`` says its key is claimed by another call still in flight."""
    return result is KEY_PENDING


class Enqueuer:
    def __init__(
        self,
        jobs_topic: str,
        producer: JobProducer,
        idempotency: IdempotencyStore,
        bookings: BookingStates,
        due_times: DueAtResolver,
        doorbell: Doorbell | None = None,
    ) -> None:
        """``doorbell`` is rung once the broker acknowledged a job (shared/doorbell.py)."""
        self._jobs_topic = jobs_topic
        self._doorbell = doorbell
        self._producer = producer
        self._idempotency = idempotency
        self._bookings = bookings
        self._due_times = due_times
        self._settlers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="settle")

    def enqueue(
        self,
        requests: Sequence[pb.EnqueueAutomationRequest],
        budget_s: float,
        traceparents: Sequence[str | None] | None = None,
        *,
        wait_pending: bool = True,
    ) -> list:
        """One result per request. Raises IdempotencyStoreUnavailable before anything was produced.

        A key claimed by another call in flight is asked for again until that call settles (or the
        budget ends); with ``wait_pending=False`` its items answer PENDING_MESSAGE at once (see
        :func:`is_pending`) and the caller asks again itself.

        Each job's Kafka headers carry a ``traceparent`` in its caller's trace (``traceparents``, one
        per request, as the requests may come from several calls: coalescer.py)."""
        received_ns = time.time_ns()
        deadline = time.perf_counter() + budget_s
        results: _Results = [None] * len(requests)
        jobs = self._admit(requests, results, received_ns)
        by_key: dict[str, list[int]] = {}
        for i, job in jobs.items():
            by_key.setdefault(job.idempotency_key, []).append(i)
        firsts = {key: jobs[indices[0]] for key, indices in by_key.items()}
        claim_deadline = deadline if wait_pending else 0.0
        existing = self._claim({key: job.job_id for key, job in firsts.items()}, claim_deadline)
        produced: list[str] = []
        counts: Counter[tuple[str, str]] = Counter()
        for key, indices in by_key.items():
            record, job = existing.get(key), firsts[key]
            if record is None:
                produced.append(key)
            elif record.state is ClaimState.ACCEPTED:
                self._fill(counts, results, indices, job, record.job_id, record.delivery, duplicate=True)
            else:
                for i in indices:
                    results[i] = KEY_PENDING
        traces = {key: traceparents[indices[0]] for key, indices in by_key.items()} if traceparents else {}
        outcomes = self._produce(produced, firsts, deadline, traces)
        for key, delivery in outcomes.items():
            if delivery is None:
                message = "the broker did not acknowledge the job in time; retry"
                self._fill_error(results, by_key[key], message)
            else:
                self._fill(
                    counts, results, by_key[key], firsts[key], firsts[key].job_id, delivery, duplicate=False
                )
        for (automation_type, outcome), count in counts.items():  # once per batch, not per item
            metrics.ENQUEUED_JOBS.labels(automation_type, outcome).inc(count)
        return results

    def _admit(
        self, requests: Sequence[pb.EnqueueAutomationRequest], results: _Results, received_ns: int
    ) -> dict[int, pb.AutomationJob]:
        """Validate and schedule every item; the valid ones' jobs by request index."""
        jobs: dict[int, pb.AutomationJob] = {}
        now = datetime.fromtimestamp(received_ns / 1e9, UTC)
        enqueued_at = timestamp_pb2.Timestamp()
        enqueued_at.FromNanoseconds(received_ns)
        job_ids = uuid4_hexes(len(requests))
        for i, request in enumerate(requests):
            violations = validate_enqueue_request(request)
            due_at = None
            if not violations:
                due_at, violations = self._due_times.due_at(request, now)
            if violations:
                for v in violations:
                    metrics.VALIDATION_FAILURES.labels(field=v.field.split("[", 1)[0]).inc()
                results[i] = pb.EnqueueItemResult(error=bad_request_proto(violations))
                continue
            key = request.idempotency_key if request.HasField("idempotency_key") else None
            job = pb.AutomationJob(
                job_id=job_ids[i],
                idempotency_key=key or default_idempotency_key(request),
                attempt=1,
                enqueued_at=enqueued_at,
            )
            job.request.CopyFrom(request)  # ~1.3 µs less than request=request in the constructor
            if due_at is not None:
                job.due_at.FromDatetime(due_at)
            jobs[i] = job
        return jobs

    def _claim(self, job_ids: dict[str, str], deadline: float) -> dict[str, Record | None]:
        """Claim the keys; keys pending in another call are asked again until it settles or the deadline."""
        result: dict[str, Record | None] = {}

        def claim() -> list[str]:  # claims the keys not answered yet or pending; returns those pending
            todo = [k for k in job_ids if k not in result or _pending(result[k])]
            result.update(self._idempotency.claim_many({k: job_ids[k] for k in todo}))
            return [k for k in todo if _pending(result[k])]

        ask_while_pending(claim, bool, deadline)
        return result

    def _produce(
        self,
        keys: list[str],
        jobs: dict[str, pb.AutomationJob],
        deadline: float,
        traceparents: dict[str, str | None],
    ) -> _Outcomes:
        """Produce the jobs of ``keys`` and wait for the broker's answers (until ``deadline``); the claims
        are settled once every answer arrived, even after this call stopped waiting.

        Returns key -> delivery, or None for a job not acknowledged (in time).
        """
        if not keys:
            return {}
        spans = children_of([traceparents.get(key) for key in keys])
        messages = [encode_job(jobs[key], traceparent=span) for key, span in zip(keys, spans, strict=True)]
        answered = self._producer.produce_all(self._jobs_topic, messages)
        settled: Future[_Outcomes] = Future()

        def settle(answers: Future) -> None:
            replies = zip(keys, answers.result(), strict=True)
            outcomes = {k: a if isinstance(a, Delivery) else None for k, a in replies}
            self._settle(outcomes, jobs)
            settled.set_result(outcomes)
            if self._doorbell is not None and any(d is not None for d in outcomes.values()):
                self._doorbell.ring()  # after the answer: a Redis failing here never delays a caller

        # Settling takes Redis round trips: not on the producer's poll thread, which serves every ack.
        answered.add_done_callback(lambda f: self._settlers.submit(settle, f))
        try:
            outcomes = settled.result(timeout=max(deadline - time.perf_counter(), 0.0))
        except FutureTimeout:
            metrics.PRODUCE_ERRORS.labels("timeout").inc()
            return dict.fromkeys(keys)
        failed = sum(d is None for d in outcomes.values())
        if failed:
            metrics.PRODUCE_ERRORS.labels("delivery_failed").inc(failed)
        return outcomes

    def _settle(self, outcomes: _Outcomes, jobs: dict[str, pb.AutomationJob]) -> None:
        try:
            self._idempotency.settle_many({k: (jobs[k].job_id, d) for k, d in outcomes.items()})
        except IdempotencyStoreUnavailable:
            # Unsettled claims expire by themselves; a retry may then produce again, which the
            # executor's dedup table absorbs.
            log.warning("could not settle idempotency claims", extra={"jobs": len(outcomes)})
        try:
            self._bookings.record(jobs[k].request for k, d in outcomes.items() if d is not None)
        except redis.RedisError:
            metrics.PRODUCE_ERRORS.labels("booking_state").inc()
            log.warning("could not note booking versions; older pending jobs will not be superseded")

    @staticmethod
    def _fill(
        counts: Counter[tuple[str, str]],
        results: _Results,
        indices: Sequence[int],
        job: pb.AutomationJob,
        job_id: str,
        delivery: Delivery | None,
        *,
        duplicate: bool,
    ) -> None:
        automation_type = type_name(job.request.automation_type)
        due_at = job.due_at if job.HasField("due_at") and not duplicate else None
        for n, i in enumerate(indices):
            dup = duplicate or n > 0
            result = results[i] = pb.EnqueueItemResult()
            fill_response(result.accepted, job_id, job.idempotency_key, delivery, duplicate=dup)
            if due_at is not None:
                result.accepted.due_at.CopyFrom(due_at)
            counts[automation_type, "duplicate" if dup else "accepted"] += 1

    @staticmethod
    def _fill_error(results: _Results, indices: Sequence[int], message: str) -> None:
        for i in indices:
            results[i] = item_error(code_pb2.UNAVAILABLE, message)


def _pending(record: Record | None) -> bool:
    return record is not None and record.state is ClaimState.PENDING
