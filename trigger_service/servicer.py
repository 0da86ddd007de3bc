"""AutomationService: validate, claim the idempotency key, produce the job, answer after the broker's ack."""

from __future__ import annotations

import logging
import time
import uuid
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import grpc

from shared.codec import encode_job
from shared.errors import IdempotencyStoreUnavailable, ProduceError
from shared.implemented import is_implemented
from shared.kafka import Delivery, JobProducer
from shared.names import recipient_name, type_name
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.proto.automation.v1 import automation_pb2_grpc as pb_grpc
from trigger_service import metrics
from trigger_service.batch_enqueue import MAX_BATCH_ITEMS, BatchEnqueuer, new_job, response_for
from trigger_service.idempotency import IdempotencyStore, Record
from trigger_service.validation import (
    Violation,
    bad_request_status,
    default_idempotency_key,
    validate_enqueue_request,
)

log = logging.getLogger(__name__)

# Time kept back from the caller's deadline so our answer reaches it before the deadline.
_DEADLINE_MARGIN_S = 0.05
_PENDING_POLL_S = 0.02


@dataclass(frozen=True)
class EnqueueConfig:
    jobs_topic: str
    produce_timeout_s: float


class AutomationServicer(pb_grpc.AutomationServiceServicer):
    def __init__(self, config: EnqueueConfig, producer: JobProducer, idempotency: IdempotencyStore) -> None:
        self._config = config
        self._producer = producer
        self._idempotency = idempotency
        self._batch = BatchEnqueuer(config.jobs_topic, producer, idempotency)

    def EnqueueAutomations(self, request: pb.EnqueueAutomationsRequest, context: grpc.ServicerContext):  # noqa: N802
        if len(request.requests) > MAX_BATCH_ITEMS:
            violation = Violation("requests", f"at most {MAX_BATCH_ITEMS} items per call")
            context.abort_with_status(bad_request_status([violation]))
        try:
            results = self._batch.enqueue(request.requests, self._budget_s(context))
        except IdempotencyStoreUnavailable:
            metrics.PRODUCE_ERRORS.labels("idempotency_store").inc()
            log.warning("idempotency store unavailable", exc_info=True)
            context.abort(grpc.StatusCode.UNAVAILABLE, "idempotency store unavailable; nothing was written")
        return pb.EnqueueAutomationsResponse(results=results)

    def EnqueueAutomation(self, request: pb.EnqueueAutomationRequest, context: grpc.ServicerContext):  # noqa: N802
        received_ns = time.time_ns()
        started = time.perf_counter()
        violations = validate_enqueue_request(request)
        if violations:
            for v in violations:
                metrics.VALIDATION_FAILURES.labels(field=v.field.split("[", 1)[0]).inc()
            context.abort_with_status(bad_request_status(violations))
        if not is_implemented(request.automation_type, request.recipient):
            context.abort(
                grpc.StatusCode.UNIMPLEMENTED,
                f"{type_name(request.automation_type)} for {recipient_name(request.recipient)} "
                "is not implemented by the executor yet",
            )
        key = (
            request.idempotency_key
            if request.HasField("idempotency_key")
            else default_idempotency_key(request)
        )
        deadline = started + self._budget_s(context)
        job_id = uuid.uuid4().hex

        existing = self._claim(key, job_id, deadline, context)
        if existing is not None:
            metrics.ENQUEUED_JOBS.labels(type_name(request.automation_type), "duplicate").inc()
            metrics.ENQUEUE_DURATION.labels("duplicate").observe(time.perf_counter() - started)
            return response_for(existing.job_id, key, existing.delivery, duplicate=True)

        job = new_job(request, key, job_id, received_ns)
        delivery = self._produce(job, deadline, context)
        metrics.ENQUEUED_JOBS.labels(type_name(request.automation_type), "accepted").inc()
        metrics.ENQUEUE_DURATION.labels("accepted").observe(time.perf_counter() - started)
        log.info(
            "job accepted",
            extra={
                "job_id": job_id,
                "automation_type": type_name(request.automation_type),
                "partition": delivery.partition,
                "offset": delivery.offset,
            },
        )
        return response_for(job_id, key, delivery, duplicate=False)

    def _budget_s(self, context: grpc.ServicerContext) -> float:
        remaining = context.time_remaining()
        budget = self._config.produce_timeout_s
        if remaining is not None:
            budget = min(budget, remaining - _DEADLINE_MARGIN_S)
        return max(budget, 0.0)

    def _claim(self, key: str, job_id: str, deadline: float, context) -> Record | None:
        """Claim ``key``; return the accepted record of an earlier call, waiting out one still in flight."""
        while True:
            try:
                existing = self._idempotency.claim(key, job_id)
            except IdempotencyStoreUnavailable:
                metrics.PRODUCE_ERRORS.labels("idempotency_store").inc()
                log.warning("idempotency store unavailable", exc_info=True)
                context.abort(grpc.StatusCode.UNAVAILABLE, "idempotency store unavailable; retry")
            if existing is None or existing.state == "accepted":
                return existing
            if time.perf_counter() + _PENDING_POLL_S >= deadline:
                context.abort(
                    grpc.StatusCode.UNAVAILABLE,
                    "an earlier call with this idempotency key is still waiting for the broker; retry",
                )
            time.sleep(_PENDING_POLL_S)

    def _produce(self, job: pb.AutomationJob, deadline: float, context) -> Delivery:
        key, job_id = job.idempotency_key, job.job_id
        acked = self._producer.produce(self._config.jobs_topic, *encode_job(job))
        # The claim is settled whenever the broker answers, even after this call has given up
        # waiting; the caller hears OK only once the key is recorded as accepted.
        settled: Future[Delivery] = Future()
        acked.add_done_callback(lambda f: self._settle(key, job_id, f, settled))
        try:
            return settled.result(timeout=max(deadline - time.perf_counter(), 0.0))
        except FutureTimeout:
            metrics.PRODUCE_ERRORS.labels("timeout").inc()
            context.abort(
                grpc.StatusCode.UNAVAILABLE, "the broker did not acknowledge the job in time; retry"
            )
        except ProduceError as exc:
            metrics.PRODUCE_ERRORS.labels("delivery_failed").inc()
            context.abort(grpc.StatusCode.UNAVAILABLE, f"the broker did not accept the job; retry ({exc})")

    def _settle(self, key: str, job_id: str, acked: Future[Delivery], settled: Future[Delivery]) -> None:
        error = acked.exception()
        try:
            if error is None:
                self._idempotency.accept(key, job_id, acked.result())
            else:
                self._idempotency.release(key, job_id)
        except IdempotencyStoreUnavailable:
            # The claim's lease expires by itself; a retry may then produce again, which the
            # executor's dedup table absorbs.
            log.warning("could not settle idempotency claim", extra={"job_id": job_id}, exc_info=True)
        if error is None:
            settled.set_result(acked.result())
        else:
            settled.set_exception(error)
