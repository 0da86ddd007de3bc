"""AutomationService: the gRPC face of enqueue.py (enqueue), booking_state.py (cancel) and, through
OperationsMixin, runs.py and replay.py (operator RPCs), through PausesMixin, pauses.py (pause, resume)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import NoReturn

import grpc
import redis
from grpc_status import rpc_status

from shared.booking_state import BookingStates
from shared.errors import IdempotencyStoreUnavailable
from shared.logs import FailureLog
from shared.names import type_name
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.proto.automation.v1 import automation_pb2_grpc as pb_grpc
from shared.tracing import current_traceparent
from trigger_service import metrics
from trigger_service.cancel import PendingCanceller
from trigger_service.coalescer import EnqueueCoalescer
from trigger_service.enqueue import MAX_BATCH_ITEMS, Enqueuer
from trigger_service.operations import OperationsMixin, guard_eventlog
from trigger_service.operator_validation import validate_cancel
from trigger_service.pauses import PausesMixin, PauseStore
from trigger_service.replay import Replayer
from trigger_service.runs import RunsReader, to_run
from trigger_service.validation import Violation, bad_request_status

log = logging.getLogger(__name__)
_failures = FailureLog(log)

# Time kept back from the caller's deadline so our answer reaches it before the deadline.
_DEADLINE_MARGIN_S = 0.05


class AutomationServicer(OperationsMixin, PausesMixin, pb_grpc.AutomationServiceServicer):
    def __init__(
        self,
        enqueuer: Enqueuer,
        bookings: BookingStates,
        runs: RunsReader,
        replayer: Replayer,
        canceller: PendingCanceller,
        pauses: PauseStore,
        *,
        produce_timeout_s: float,
    ) -> None:
        self._produce_timeout_s = produce_timeout_s
        self._enqueuer = enqueuer
        self._coalescer = EnqueueCoalescer(enqueuer)
        self._bookings = bookings
        self._runs = runs
        self._replayer = replayer
        self._canceller = canceller
        self._pauses = pauses

    def EnqueueAutomations(  # noqa: N802
        self, request: pb.EnqueueAutomationsRequest, context: grpc.ServicerContext
    ) -> pb.EnqueueAutomationsResponse:
        if len(request.requests) > MAX_BATCH_ITEMS:
            violation = Violation("requests", f"at most {MAX_BATCH_ITEMS} items per call")
            context.abort_with_status(bad_request_status([violation]))
        try:
            results = self._enqueuer.enqueue(
                request.requests, self._budget_s(context), [current_traceparent()] * len(request.requests)
            )
        except IdempotencyStoreUnavailable:
            self._store_unavailable(context)
        metrics.ENQUEUE_BATCH_SIZE.observe(len(request.requests))
        return pb.EnqueueAutomationsResponse(results=results)

    def EnqueueAutomation(  # noqa: N802
        self, request: pb.EnqueueAutomationRequest, context: grpc.ServicerContext
    ) -> pb.EnqueueAutomationResponse:
        started = time.perf_counter()
        budget_s = self._budget_s(context)
        try:
            result = self._coalescer.enqueue(request, budget_s, current_traceparent())
        except IdempotencyStoreUnavailable:
            self._store_unavailable(context)
        if result.HasField("error"):
            context.abort_with_status(rpc_status.to_status(result.error))
        response = result.accepted
        outcome = "duplicate" if response.duplicate else "accepted"
        metrics.ENQUEUE_DURATION.labels(outcome).observe(time.perf_counter() - started)
        if not response.duplicate:
            # DEBUG, not INFO: a line per call costs a large share of the trigger's CPU (ARCHITECTURE.md);
            # the job's EventLog rows and automation_enqueued_jobs_total keep the record.
            log.debug(
                "job accepted",
                extra={
                    "job_id": response.job_id,
                    "automation_type": type_name(request.automation_type),
                    "partition": response.partition,
                    "offset": response.offset,
                },
            )
        return response

    def CancelAutomations(  # noqa: N802
        self, request: pb.CancelAutomationsRequest, context: grpc.ServicerContext
    ) -> pb.CancelAutomationsResponse:
        violations = validate_cancel(request)
        if violations:
            context.abort_with_status(bad_request_status(violations))
        now_ns = time.time_ns()
        types = sorted({type_name(t) for t in request.automation_types})
        try:
            self._bookings.cancel(request.booking_id, types, now_ns // 1_000_000)
        except redis.RedisError:
            _failures.warning("booking state store unavailable")
            context.abort(grpc.StatusCode.UNAVAILABLE, "booking state store unavailable; retry")
        # The instant above is the cancel; the rows make it visible in `runs` at once (cancel.py).
        at = datetime.fromtimestamp(now_ns / 1e9, UTC)
        rows = guard_eventlog(context, lambda: self._canceller.cancel_pending(request.booking_id, types, at))
        log.info(
            "automations cancelled", extra={"automation_types": types or ["*"], "pending_jobs": len(rows)}
        )
        response = pb.CancelAutomationsResponse(cancelled_runs=[to_run(row) for row in rows])
        response.cancelled_at.FromNanoseconds(now_ns)
        return response

    def close(self) -> None:
        """Let the enqueues already handed to the coalescer finish; called after the server stopped."""
        self._coalescer.close()

    @staticmethod
    def _store_unavailable(context: grpc.ServicerContext) -> NoReturn:
        metrics.PRODUCE_ERRORS.labels("idempotency_store").inc()
        _failures.warning("idempotency store unavailable")
        context.abort(grpc.StatusCode.UNAVAILABLE, "idempotency store unavailable; retry")
        raise AssertionError("unreachable: abort raises")

    def _budget_s(self, context: grpc.ServicerContext) -> float:
        remaining = context.time_remaining()
        budget = self._produce_timeout_s
        if remaining is not None:
            budget = min(budget, remaining - _DEADLINE_MARGIN_S)
        return max(budget, 0.0)
