"""EnqueueAutomations: up to MAX_BATCH_ITEMS requests validated, claimed and produced together.

Each item gets its own result: accepted (broker-acknowledged), a duplicate of an accepted job, or
an error status (INVALID_ARGUMENT with field violations, UNIMPLEMENTED, or UNAVAILABLE when it was
not written and may be retried with the same key). Idempotency claims are taken and settled in
pipelined Redis round trips; the settlement runs when the last broker answer arrives, even if the
caller has stopped waiting. Items sharing a key are one job: the first is accepted, the others are
its duplicates.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from google.rpc import code_pb2, status_pb2

from shared.codec import encode_job
from shared.errors import IdempotencyStoreUnavailable
from shared.implemented import is_implemented
from shared.kafka import Delivery, JobProducer
from shared.names import recipient_name, type_name
from shared.proto.automation.v1 import automation_pb2 as pb
from trigger_service import metrics
from trigger_service.idempotency import IdempotencyStore
from trigger_service.validation import bad_request_proto, default_idempotency_key, validate_enqueue_request

log = logging.getLogger(__name__)

MAX_BATCH_ITEMS = 500
_Outcomes = dict[str, Delivery | None]


def new_job(
    request: pb.EnqueueAutomationRequest, key: str, job_id: str, received_ns: int
) -> pb.AutomationJob:
    """The first attempt's job envelope; ``enqueued_at`` is when the call arrived."""
    job = pb.AutomationJob(job_id=job_id, idempotency_key=key, request=request, attempt=1)
    job.enqueued_at.FromNanoseconds(received_ns)
    return job


def response_for(
    job_id: str, key: str, delivery: Delivery | None, *, duplicate: bool
) -> pb.EnqueueAutomationResponse:
    response = pb.EnqueueAutomationResponse(job_id=job_id, idempotency_key=key, duplicate=duplicate)
    if delivery is not None:
        response.topic, response.partition, response.offset = (
            delivery.topic,
            delivery.partition,
            delivery.offset,
        )
    return response


def item_error(code: int, message: str) -> pb.EnqueueItemResult:
    return pb.EnqueueItemResult(error=status_pb2.Status(code=code, message=message))


class BatchEnqueuer:
    def __init__(self, jobs_topic: str, producer: JobProducer, idempotency: IdempotencyStore) -> None:
        self._jobs_topic = jobs_topic
        self._producer = producer
        self._idempotency = idempotency

    def enqueue(self, requests: Sequence[pb.EnqueueAutomationRequest], budget_s: float) -> list:
        """One result per request. Raises IdempotencyStoreUnavailable before anything was produced."""
        received_ns = time.time_ns()
        deadline = time.perf_counter() + budget_s
        results: list[pb.EnqueueItemResult | None] = [None] * len(requests)
        by_key = self._admit(requests, results)
        job_ids = {key: uuid.uuid4().hex for key in by_key}
        existing = self._idempotency.claim_many(job_ids)
        acked: dict[str, Future[Delivery]] = {}
        for key, indices in by_key.items():
            record = existing.get(key)
            request = requests[indices[0]]
            if record is None:
                job = new_job(request, key, job_ids[key], received_ns)
                acked[key] = self._producer.produce(self._jobs_topic, *encode_job(job))
            elif record.state == "accepted":
                self._fill(results, indices, request, key, record.job_id, record.delivery, duplicate=True)
            else:
                self._fill_error(
                    results, indices, "an earlier call with this idempotency key is still waiting; retry"
                )
        outcomes = self._await(acked, job_ids, deadline)
        for key, delivery in outcomes.items():
            indices, request = by_key[key], requests[by_key[key][0]]
            if delivery is None:
                self._fill_error(results, indices, "the broker did not acknowledge the job in time; retry")
            else:
                self._fill(results, indices, request, key, job_ids[key], delivery, duplicate=False)
        metrics.ENQUEUE_BATCH_SIZE.observe(len(requests))
        return results

    @staticmethod
    def _admit(requests, results) -> dict[str, list[int]]:
        """Validate every item; the valid ones grouped by idempotency key, in request order."""
        by_key: dict[str, list[int]] = {}
        for i, request in enumerate(requests):
            violations = validate_enqueue_request(request)
            if violations:
                for v in violations:
                    metrics.VALIDATION_FAILURES.labels(field=v.field.split("[", 1)[0]).inc()
                results[i] = pb.EnqueueItemResult(error=bad_request_proto(violations))
            elif not is_implemented(request.automation_type, request.recipient):
                results[i] = item_error(
                    code_pb2.UNIMPLEMENTED,
                    f"{type_name(request.automation_type)} for {recipient_name(request.recipient)} "
                    "is not implemented by the executor yet",
                )
            else:
                key = (
                    request.idempotency_key
                    if request.HasField("idempotency_key")
                    else default_idempotency_key(request)
                )
                by_key.setdefault(key, []).append(i)
        return by_key

    def _await(
        self, acked: dict[str, Future[Delivery]], job_ids: dict[str, str], deadline: float
    ) -> _Outcomes:
        """Wait for the broker's answers (until ``deadline``); settle the claims once all have arrived.

        Returns key -> delivery, or None for a job not acknowledged (in time).
        """
        settled: Future[_Outcomes] = Future()
        remaining = [len(acked)]
        lock = threading.Lock()

        def on_answer(_: Future) -> None:
            with lock:
                remaining[0] -= 1
                if remaining[0]:
                    return
            outcomes = {k: f.result() if f.exception() is None else None for k, f in acked.items()}
            try:
                self._idempotency.settle_many({k: (job_ids[k], d) for k, d in outcomes.items()})
            except IdempotencyStoreUnavailable:
                # Unsettled claims expire by themselves; a retry may then produce again, which the
                # executor's dedup table absorbs.
                log.warning("could not settle idempotency claims", extra={"jobs": len(outcomes)})
            settled.set_result(outcomes)

        if not acked:
            return {}
        for future in acked.values():
            future.add_done_callback(on_answer)
        try:
            outcomes = settled.result(timeout=max(deadline - time.perf_counter(), 0.0))
        except FutureTimeout:
            metrics.PRODUCE_ERRORS.labels("timeout").inc()
            return dict.fromkeys(acked)
        failed = sum(d is None for d in outcomes.values())
        if failed:
            metrics.PRODUCE_ERRORS.labels("delivery_failed").inc(failed)
        return outcomes

    @staticmethod
    def _fill(results, indices, request, key, job_id, delivery, *, duplicate: bool) -> None:
        automation_type = type_name(request.automation_type)
        for n, i in enumerate(indices):
            dup = duplicate or n > 0
            results[i] = pb.EnqueueItemResult(accepted=response_for(job_id, key, delivery, duplicate=dup))
            metrics.ENQUEUED_JOBS.labels(automation_type, "duplicate" if dup else "accepted").inc()

    @staticmethod
    def _fill_error(results, indices, message: str) -> None:
        for i in indices:
            results[i] = item_error(code_pb2.UNAVAILABLE, message)
