"""Unary EnqueueAutomation calls that arrive together are enqueued together (trigger_service/coalescer.py);
a lone call runs on its own thread.

Over real gRPC, Redis and the broker: concurrent calls are each answered for their own job and trace,
concurrent duplicates become one job, and a key held by a call in flight elsewhere neither blocks the
other callers nor loses its answer. The batching itself is shown deterministically with an enqueuer
that holds its first batch until the other calls have queued."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from google.rpc import code_pb2
from prometheus_client import REGISTRY

from shared import tracing
from shared.codec import decode_job
from shared.kafka import Delivery
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.redis_client import make_redis
from shared.vocabulary import default_idempotency_key
from tests.support.pipeline import running_trigger
from tests.support.sample import sample_request
from trigger_service.coalescer import EnqueueCoalescer
from trigger_service.enqueue import KEY_PENDING, PENDING_MESSAGE
from trigger_service.idempotency import IdempotencyStore


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """The trigger writes no EventLog rows: one database is enough."""
    return sqlite_url


def bid() -> str:
    return f"b-{uuid.uuid4().hex[:12]}"


def traceparent() -> str:
    return tracing.new_traceparent()


class HoldingEnqueuer:
    """Answers every item as accepted; holds its first batch until ``release`` is set."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.release = threading.Event()

    def enqueue(self, requests, budget_s, traceparents, *, wait_pending=True):
        assert wait_pending is False and len(traceparents) == len(requests) and budget_s > 0
        self.batches.append(len(requests))
        if len(self.batches) == 1:
            assert self.release.wait(10)
        return [
            pb.EnqueueItemResult(accepted=pb.EnqueueAutomationResponse(job_id=r.booking.id)) for r in requests
        ]


def test_calls_that_queue_while_a_batch_is_out_form_the_next_batch():
    enqueuer = HoldingEnqueuer()
    coalescer = EnqueueCoalescer(enqueuer, max_items=8)  # type: ignore[arg-type]
    first = coalescer.submit(sample_request("b-first"), 5.0, None)
    while not enqueuer.batches:
        time.sleep(0.001)
    later = [coalescer.submit(sample_request(f"b-{i}"), 5.0, traceparent()) for i in range(12)]
    enqueuer.release.set()
    assert first.result(5).accepted.job_id == "b-first"
    assert [f.result(5).accepted.job_id for f in later] == [f"b-{i}" for i in range(12)]
    assert enqueuer.batches == [1, 8, 4], "the 12 queued calls went out as full batches, in order"
    coalescer.close()
    with pytest.raises(RuntimeError):
        coalescer.submit(sample_request("b-late"), 5.0, None)


def test_concurrent_calls_each_get_their_own_job_offset_and_trace(settings, read_topic):
    requests = [sample_request(bid()) for _ in range(48)]
    traces = [traceparent() for _ in requests]
    barrier = threading.Barrier(16)
    before = REGISTRY.get_sample_value("automation_enqueue_coalesced_items_count") or 0.0

    with running_trigger(settings) as (stub, _):

        def call(i: int) -> pb.EnqueueAutomationResponse:
            if i < 16:
                barrier.wait(5)
            return stub.EnqueueAutomation(requests[i], timeout=10, metadata=[("traceparent", traces[i])])

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(call, range(len(requests))))

    batches = (REGISTRY.get_sample_value("automation_enqueue_coalesced_items_count") or 0.0) - before
    assert 1 <= batches <= len(requests)
    assert len({a.job_id for a in answers}) == len(requests) and not any(a.duplicate for a in answers)
    messages = {decode_job(m.value()).job_id: m for m in read_topic(settings.jobs_topic, len(requests))}
    for request, trace, answer in zip(requests, traces, answers, strict=True):
        message = messages[answer.job_id]
        assert (message.partition(), message.offset()) == (answer.partition, answer.offset)
        assert decode_job(message.value()).request == request
        sent = dict(message.headers())["traceparent"].decode()
        assert tracing.trace_id(sent) == tracing.trace_id(trace) and sent != trace


def test_concurrent_duplicates_are_one_job(settings, read_topic):
    request = sample_request(bid())
    barrier = threading.Barrier(12)
    with running_trigger(settings) as (stub, _):

        def call(_: int) -> pb.EnqueueAutomationResponse:
            barrier.wait(5)
            return stub.EnqueueAutomation(request, timeout=10)

        with ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(call, range(12)))
        later = stub.EnqueueAutomation(sample_request(bid()), timeout=10)  # marks the end of the topic

    assert len({a.job_id for a in answers}) == 1
    assert sorted(a.duplicate for a in answers) == [False] + [True] * 11
    messages = read_topic(settings.jobs_topic, 2)
    assert sorted(decode_job(m.value()).job_id for m in messages) == sorted([answers[0].job_id, later.job_id])


def test_a_key_held_by_a_call_in_flight_elsewhere_does_not_hold_up_other_calls(settings):
    held = sample_request(bid())
    store = IdempotencyStore(
        make_redis(settings.redis_url.get_secret_value(), timeout_s=2.0), lease_ms=30_000, accepted_ttl_s=60
    )
    key = default_idempotency_key(held)
    assert store.claim_many({key: "job-elsewhere"}) == {key: None}  # another replica is producing this job
    elsewhere = Delivery(settings.jobs_topic, 0, 41)

    with running_trigger(settings) as (stub, _), ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(stub.EnqueueAutomation, held, timeout=10)
        time.sleep(0.2)
        others = [stub.EnqueueAutomation(sample_request(bid()), timeout=10) for _ in range(5)]
        assert not waiting.done(), "the other calls were answered while the held key was still asked for"
        store.settle_many({key: ("job-elsewhere", elsewhere)})
        answer = waiting.result(10)

    assert all(not o.duplicate for o in others)
    assert answer.duplicate and answer.job_id == "job-elsewhere"
    assert (answer.topic, answer.partition, answer.offset) == (settings.jobs_topic, 0, 41)


def test_a_lone_call_runs_on_its_own_thread_and_calls_during_it_are_batched():
    class Recording:
        def __init__(self) -> None:
            self.calls: list[tuple[str, int, bool]] = []
            self.inside = threading.Event()
            self.release = threading.Event()

        def enqueue(self, requests, budget_s, traceparents, *, wait_pending=True):
            self.calls.append((threading.current_thread().name, len(requests), wait_pending))
            if len(self.calls) == 2:
                self.inside.set()
                assert self.release.wait(10)
            return [
                pb.EnqueueItemResult(accepted=pb.EnqueueAutomationResponse(job_id=r.booking.id))
                for r in requests
            ]

    enqueuer = Recording()
    coalescer = EnqueueCoalescer(enqueuer)  # type: ignore[arg-type]
    me = threading.current_thread().name
    assert coalescer.enqueue(sample_request("b-alone"), 5.0, None).accepted.job_id == "b-alone"
    with ThreadPoolExecutor(6) as pool:
        held = pool.submit(coalescer.enqueue, sample_request("b-held"), 5.0, None)
        assert enqueuer.inside.wait(5)  # a direct call is in flight: the next ones queue for the batcher
        others = [pool.submit(coalescer.enqueue, sample_request(f"b-{i}"), 5.0, None) for i in range(5)]
        time.sleep(0.2)
        enqueuer.release.set()
        assert held.result(5).accepted.job_id == "b-held"
        assert sorted(f.result(5).accepted.job_id for f in others) == [f"b-{i}" for i in range(5)]
    coalescer.close()
    assert enqueuer.calls[0] == (me, 1, False), "the lone call ran on the caller's thread"
    assert enqueuer.calls[1][1:] == (1, False) and enqueuer.calls[1][0] != "enqueue-batcher"
    batched = enqueuer.calls[2:]
    assert all(name == "enqueue-batcher" and not wait for name, _, wait in batched)
    assert sum(n for _, n, _ in batched) == 5, "the calls made during the direct one went to the batcher"


def test_a_held_key_is_asked_for_again_until_the_callers_deadline():
    class AlwaysPending:
        calls = 0

        def enqueue(self, requests, budget_s, traceparents, *, wait_pending=True):
            self.calls += 1
            return [KEY_PENDING for _ in requests]

    enqueuer = AlwaysPending()
    coalescer = EnqueueCoalescer(enqueuer)  # type: ignore[arg-type]
    started = time.perf_counter()
    result = coalescer.enqueue(sample_request(bid()), 0.3, None)
    elapsed = time.perf_counter() - started
    coalescer.close()
    assert result.error.message == PENDING_MESSAGE and elapsed >= 0.25, "answered at its deadline"
    assert enqueuer.calls > 3, "asked again while the deadline allowed"


def test_requests_whose_deadline_passed_while_queued_are_not_enqueued():
    enqueuer = HoldingEnqueuer()
    coalescer = EnqueueCoalescer(enqueuer)  # type: ignore[arg-type]
    first = coalescer.submit(sample_request("b-first"), 5.0, None)
    while not enqueuer.batches:
        time.sleep(0.001)
    short = [coalescer.submit(sample_request(f"b-short-{i}"), 0.05, None) for i in range(3)]
    patient = coalescer.submit(sample_request("b-patient"), 5.0, None)
    time.sleep(0.2)  # the short ones' deadlines pass while the first batch is out
    enqueuer.release.set()
    assert first.result(5).accepted.job_id == "b-first"
    assert patient.result(5).accepted.job_id == "b-patient"
    for future in short:
        result = future.result(5)
        assert result.error.code == code_pb2.UNAVAILABLE and "nothing was written" in result.error.message
    assert enqueuer.batches == [1, 1], "only the patient request reached the enqueuer"
    coalescer.close()
