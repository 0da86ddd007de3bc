"""The consume loop pipelined (consumer_loop.py): the next batch runs while the previous one is made
durable, and every guarantee of the serial loop holds: offsets are stored only past durable outcomes and in
order, the keys of the batch in flight are busy for the next one, at most one batch is being made durable,
a revoke or a stop finishes the persist in flight before committing, and a failed persist is resumed with
the outage pause. A fake consumer and processor record what happened in order."""

from __future__ import annotations

import threading
import time
from collections import deque

from confluent_kafka import TopicPartition

from executor_service.consumer_loop import ConsumeLoop
from executor_service.outcome import BatchOutcome, Stage
from tests.support.fake_message import FakeMessage

TOPIC = "jobs"


class FakeConsumer:
    """Hands out the given batches, one per fetch; ``on_consume(n)`` runs before the n-th consume call."""

    def __init__(self, batches: list[list[FakeMessage]], events: list, on_consume=None) -> None:
        self.batches = deque(batches)
        self.events = events
        self.on_consume = on_consume or (lambda n: None)
        self.calls = 0
        self.revoke = None

    def subscribe(self, topics, on_assign, on_revoke) -> None:
        self.revoke = on_revoke
        on_assign(self, [TopicPartition(TOPIC, 0)])

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        self.calls += 1
        self.on_consume(self.calls)
        if self.batches:
            return self.batches.popleft()
        time.sleep(min(timeout, 0.01))
        return []

    def store_offsets(self, offsets) -> None:
        self.events.append(("store", offsets[0].offset))

    def commit(self, asynchronous: bool) -> None:
        self.events.append(("commit",))

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(TOPIC, 0)]

    def position(self, tps):
        return [TopicPartition(TOPIC, 0, -1001)]

    def pause(self, tps) -> None:
        self.events.append(("pause",))

    def resume(self, tps) -> None:
        self.events.append(("resume",))

    def seek(self, tp) -> None:
        pass

    def close(self) -> None:
        self.events.append(("close",))


class FakeProcessor:
    """``gates[i]``: batch i's persist waits for it; ``fail_first``: batch indexes whose first persist
    raises (a backend down)."""

    def __init__(self, events: list, gates=None, fail_first=(), on_run=None) -> None:
        self.events = events
        self.gates: dict[int, threading.Event] = gates or {}
        self.fail_first = set(fail_first)
        self.on_run = on_run or (lambda i: None)
        self.runs = 0
        self.persisting = 0  # persists running now (never more than one)
        self.most_persisting = 0

    def run(self, batch: list[FakeMessage], busy=frozenset()) -> BatchOutcome:
        index, self.runs = self.runs, self.runs + 1
        self.events.append(("run", index, frozenset(busy)))
        self.on_run(index)
        outcome = BatchOutcome([], [], [], keys=frozenset(f"key-{m.o}" for m in batch))
        outcome.lease_ticket = index
        return outcome

    def persist(self, outcome: BatchOutcome) -> list:
        index = outcome.lease_ticket
        if outcome.stage is Stage.MARKED:
            return outcome.unfinished
        self.persisting += 1
        self.most_persisting = max(self.most_persisting, self.persisting)
        try:
            self.events.append(("persist", index))
            if index in self.gates:
                assert self.gates[index].wait(10)
            if index in self.fail_first:
                self.fail_first.discard(index)
                raise ConnectionError("database down")
            outcome.stage = Stage.MARKED
            self.events.append(("durable", index))
            return outcome.unfinished
        finally:
            self.persisting -= 1

    def close(self) -> None:
        self.events.append(("processor closed",))


def loop_of(consumer: FakeConsumer, processor: FakeProcessor) -> ConsumeLoop:
    return ConsumeLoop(
        consumer,  # type: ignore[arg-type]
        processor,  # type: ignore[arg-type]
        topics=[TOPIC],
        tier_park_s={},
        batch_max=10,
        batch_wait_s=0.01,
    )


def run_in_thread(loop: ConsumeLoop, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    thread.start()
    return thread


def wait_for(condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def position(events: list, event: tuple) -> int:
    return events.index(event)


def test_next_batch_runs_while_the_previous_is_made_durable_and_offsets_wait_for_durability():
    events: list = []
    gate = threading.Event()
    consumer = FakeConsumer([[FakeMessage(0), FakeMessage(1)], [FakeMessage(2), FakeMessage(3)]], events)
    processor = FakeProcessor(events, gates={0: gate})
    stop = threading.Event()
    thread = run_in_thread(loop_of(consumer, processor), stop)
    wait_for(lambda: processor.runs == 2)
    # batch 1 ran while batch 0 was still being made durable, with batch 0's keys busy
    assert ("run", 1, frozenset({"key-0", "key-1"})) in events
    assert ("durable", 0) not in events
    assert not [e for e in events if e[0] == "store"], "an offset was stored before its batch was durable"
    assert ("persist", 1) not in events, "two batches made durable at once"
    gate.set()
    wait_for(lambda: ("store", 4) in events)
    stop.set()
    thread.join(5)
    assert events.index(("durable", 0)) < events.index(("store", 2)) < events.index(("persist", 1))
    assert events.index(("durable", 1)) < events.index(("store", 4)) < events.index(("commit",))
    assert processor.most_persisting == 1


def test_a_lone_batch_is_made_durable_and_stored_before_the_loop_waits_again():
    events: list = []
    consumer = FakeConsumer([[FakeMessage(0)]], events)
    processor = FakeProcessor(events)
    stop = threading.Event()
    thread = run_in_thread(loop_of(consumer, processor), stop)
    wait_for(lambda: ("store", 1) in events)
    assert ("run", 0, frozenset()) in events
    stop.set()
    thread.join(5)


def test_a_revoke_finishes_the_persist_in_flight_and_stores_its_offsets_before_committing():
    events: list = []
    gate = threading.Event()

    def revoke_during_the_persist(n: int) -> None:
        if n == 2:  # the fetch after batch 0 was handed to the persist thread
            assert ("persist", 0) in events or wait_for(lambda: ("persist", 0) in events) is None
            threading.Timer(0.2, gate.set).start()
            consumer.revoke(consumer, [TopicPartition(TOPIC, 0)])
            events.append(("revoked",))

    consumer = FakeConsumer([[FakeMessage(0), FakeMessage(1)]], events, on_consume=revoke_during_the_persist)
    processor = FakeProcessor(events, gates={0: gate})
    stop = threading.Event()
    thread = run_in_thread(loop_of(consumer, processor), stop)
    wait_for(lambda: ("revoked",) in events)
    stop.set()
    thread.join(5)
    durable, stored = events.index(("durable", 0)), events.index(("store", 2))
    assert durable < stored < events.index(("commit",)) < events.index(("revoked",))


def test_a_stop_finishes_the_persist_in_flight_before_committing_and_closing():
    events: list = []
    gate = threading.Event()
    stop = threading.Event()

    def stop_while_batch_1_runs(index: int) -> None:
        if index == 1:
            stop.set()
            threading.Timer(0.2, gate.set).start()

    consumer = FakeConsumer([[FakeMessage(0)], [FakeMessage(1)]], events)
    processor = FakeProcessor(events, gates={1: gate}, on_run=stop_while_batch_1_runs)
    thread = run_in_thread(loop_of(consumer, processor), stop)
    thread.join(5)
    assert not thread.is_alive()
    assert events.index(("durable", 1)) < events.index(("store", 2)) < events.index(("commit",))
    assert events.index(("commit",)) < events.index(("close",)) < events.index(("processor closed",))


def test_a_failed_persist_is_resumed_under_the_outage_pause_and_only_then_stored():
    events: list = []
    consumer = FakeConsumer([[FakeMessage(0)], [FakeMessage(1)]], events)
    processor = FakeProcessor(events, fail_first={0})
    loop = loop_of(consumer, processor)
    stop = threading.Event()
    thread = run_in_thread(loop, stop)
    wait_for(lambda: ("store", 2) in events)
    stop.set()
    thread.join(5)
    assert events.count(("persist", 0)) == 2, "resumed once the backend was back"
    pause = events.index(("pause",))
    resume = events.index(("resume",), pause)  # (the first resume is the assignment's)
    assert pause < events.index(("durable", 0)) < resume < events.index(("store", 1))
    assert loop.ready
