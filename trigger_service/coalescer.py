"""Unary EnqueueAutomation calls that arrive together are enqueued together (a group commit).

A call that finds nothing else in flight enqueues its request itself, on its own thread (a lone caller
pays no thread handoff). A call that finds others in flight hands its request to one batcher thread and
waits for its own result; the batcher takes every request waiting (up to MAX_BATCH_ITEMS) and runs them
through Enqueuer.enqueue as one batch: one Redis round trip for the claims, one produce of all the jobs,
one settlement (shared/batcher.py). The calls that queue while a batch is with the broker form the next
one, so the batches grow with the load and the cost per call falls (bench/README.md, scenario 1).

Each caller keeps its own deadline and trace: a caller that stops waiting gets UNAVAILABLE, as a call
that waited alone would, and its job is still settled when the broker answers. Items of different calls
sharing an idempotency key are one job: the first is accepted, the others are its duplicates. A key
claimed by a call still in flight elsewhere (EnqueueAutomations, another replica) never holds up a
batch: the enqueuer answers PENDING_MESSAGE at once, and that caller asks again every PENDING_POLL_S
from its own thread, until its deadline. A request whose deadline passed while it queued (an overloaded
trigger) is answered UNAVAILABLE without being claimed or produced, so a backlog does not turn into work
nobody waits for.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

from google.rpc import code_pb2

from shared.batcher import Batcher
from shared.proto.automation.v1 import automation_pb2 as pb
from trigger_service import metrics
from trigger_service.enqueue import MAX_BATCH_ITEMS, Enqueuer, ask_while_pending, is_pending, item_error

# How long past its budget a caller waits for the batcher's answer (the batch's own waits are bounded by
# the budget; this covers the hand-back).
_ANSWER_GRACE_S = 0.025
_EXPIRED_MESSAGE = "the call's deadline passed before its turn came; nothing was written; retry"


@dataclass
class _Waiting:
    request: pb.EnqueueAutomationRequest
    deadline: float  # time.perf_counter() by which the caller needs its answer
    traceparent: str | None
    result: Future = field(default_factory=Future)


class EnqueueCoalescer:
    """Batches concurrent single enqueues on one thread (started by the first call that needs it)."""

    def __init__(self, enqueuer: Enqueuer, *, max_items: int = MAX_BATCH_ITEMS) -> None:
        self._enqueuer = enqueuer
        self._batcher: Batcher[_Waiting] = Batcher(self._enqueue, max_items=max_items, name="enqueue-batcher")
        self._lock = threading.Lock()
        self._closed = False
        self._active = 0  # requests taken and not yet answered (direct or queued)

    def enqueue(
        self, request: pb.EnqueueAutomationRequest, budget_s: float, traceparent: str | None
    ) -> pb.EnqueueItemResult:
        """The request's result. Raises IdempotencyStoreUnavailable; answers UNAVAILABLE when the broker
        did not ack in time. A key held by another call in flight is asked for again every
        PENDING_POLL_S, from this caller's thread, until the budget ends."""
        deadline = time.perf_counter() + budget_s
        return ask_while_pending(
            lambda: self._enqueue_once(request, deadline - time.perf_counter(), traceparent),
            is_pending,
            deadline,
        )

    def _enqueue_once(
        self, request: pb.EnqueueAutomationRequest, budget_s: float, traceparent: str | None
    ) -> pb.EnqueueItemResult:
        """Directly when nothing else is in flight, else through the batcher."""
        with self._lock:
            direct = self._active == 0 and not self._closed
            if direct:
                self._active += 1
        if direct:
            metrics.COALESCED_BATCH_SIZE.observe(1)
            try:
                [result] = self._enqueuer.enqueue([request], budget_s, [traceparent], wait_pending=False)
                return result
            finally:
                self._answered(1)
        try:
            return self.submit(request, budget_s, traceparent).result(timeout=budget_s + _ANSWER_GRACE_S)
        except FutureTimeout:
            metrics.PRODUCE_ERRORS.labels("timeout").inc()
            return item_error(code_pb2.UNAVAILABLE, "the broker did not acknowledge the job in time; retry")

    def submit(
        self, request: pb.EnqueueAutomationRequest, budget_s: float, traceparent: str | None
    ) -> Future:
        """Hand the request to the batcher: a future of its EnqueueItemResult (or
        IdempotencyStoreUnavailable)."""
        waiting = _Waiting(request, time.perf_counter() + budget_s, traceparent)
        with self._lock:
            if self._closed:
                raise RuntimeError("the trigger is shutting down")
            self._active += 1
        try:
            self._batcher.put(waiting)
        except RuntimeError:
            self._answered(1)
            raise
        return waiting.result

    def _answered(self, count: int) -> None:
        with self._lock:
            self._active -= count

    def close(self) -> None:
        """Stop the batcher once the requests already handed over are answered."""
        with self._lock:
            self._closed = True
        self._batcher.close()

    def _enqueue(self, batch: list[_Waiting]) -> None:
        now = time.perf_counter()
        if expired := [w for w in batch if w.deadline <= now]:
            # Their callers have stopped waiting: nothing is claimed or produced for them.
            self._answer(expired, [item_error(code_pb2.UNAVAILABLE, _EXPIRED_MESSAGE)] * len(expired))
            batch = [w for w in batch if w.deadline > now]
            if not batch:
                return
        metrics.COALESCED_BATCH_SIZE.observe(len(batch))
        try:
            results = self._enqueuer.enqueue(
                [w.request for w in batch],
                max(w.deadline for w in batch) - now,
                [w.traceparent for w in batch],
                wait_pending=False,
            )
        except Exception as exc:  # IdempotencyStoreUnavailable, or a bug: every caller hears of it
            self._answered(len(batch))
            for w in batch:
                w.result.set_exception(exc)
            return
        self._answer(batch, results)

    def _answer(self, batch: list[_Waiting], results: list[pb.EnqueueItemResult]) -> None:
        self._answered(len(batch))
        for w, result in zip(batch, results, strict=True):
            w.result.set_result(result)
