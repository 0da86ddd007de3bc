"""The executor's consume loop over the jobs topic and the retry tier topics.

Each turn takes what is available (up to N messages), holds back retry messages that are not due yet
(their partition is paused and rewound to them, and resumed when due: no sleeping, so
``max.poll.interval.ms`` is never at risk; parking.py), processes the rest (every partition paused while
a backend is down: outage.py), and stores offsets: past every message whose outcome is durable, never
past the lowest one that is not. A message that could not finish (its key leased by another worker, or
its onward publish not acknowledged) is held aside and run again alone a second later
(partition_ledger.py); its partition is not rewound, so what followed it is neither run nor recorded
again. librdkafka's auto-commit commits what was stored; the loop commits synchronously on revoke and on
shutdown.

Pipelined: a batch is made durable (``persist``: publishes acked, rows committed, keys marked done) on a
thread of its own while the loop runs the next batch, if one has already arrived. At most one batch is
being made durable: the next one waits for it before its own persist starts, and the offsets of a batch are
stored only once its persist is through (on this thread), so the order of stored offsets and every crash
bound stay those of the serial loop. Keys of the batch in flight are blocked in the next one
(``BatchProcessor.run``'s ``busy``); a revoke or shutdown first finishes the persist in flight.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from executor_service import metrics
from executor_service.batch import BatchProcessor
from executor_service.lag import forget_lag
from executor_service.outage import OutagePause
from executor_service.outcome import BatchOutcome, Stage
from executor_service.parking import Parking
from executor_service.partition_ledger import PartitionLedger
from shared.constants import BLOCKED_RETRY_S, WAKE_TURN_S

log = logging.getLogger(__name__)

_TP = tuple[str, int]


@dataclass
class _InFlight:
    """A batch run and being made durable on the persist thread."""

    batch: list[Message]
    outcome: BatchOutcome
    persisting: Future[list[Message]]


class ConsumeLoop:
    def __init__(
        self,
        consumer: Consumer,
        processor: BatchProcessor,
        *,
        topics: Sequence[str],
        tier_park_s: Mapping[str, float],
        idle_park_s: float = 0.0,
        wake: threading.Event | None = None,
        batch_max: int,
        batch_wait_s: float,
        on_close: Callable[[], object] = lambda: None,
        progress: Callable[[], object] = lambda: None,
    ) -> None:
        """``tier_park_s``: the retry/delay tier topics, each with how long a partition of it read to its
        end goes unfetched (parking.py). ``progress`` is called once per loop turn and per poll of an
        outage pause (liveness.py). ``idle_park_s``: how long a jobs partition read to its end is
        parked once no message came for ``IDLE_AFTER_S`` (0: never); ``wake``, once set (by another
        thread: shared/doorbell.py), ends those parks on the next turn. The consumer must have
        ``enable.partition.eof`` set."""
        self._consumer = consumer
        self._processor = processor
        self._topics = list(topics)
        self._batch_max = batch_max
        self._batch_wait_s = batch_wait_s
        self._on_close = on_close
        self._progress = progress
        self._wake = wake
        self._parking = Parking(consumer, tier_park_s=tier_park_s, idle_park_s=idle_park_s)
        self._outage = OutagePause(consumer, paused=self._parking, batch_max=batch_max, progress=progress)
        # held-aside messages and how far each partition was handled; at most a batch held per partition
        self._ledger: PartitionLedger[Message] = PartitionLedger(
            retry_s=BLOCKED_RETRY_S, max_held_per_partition=batch_max
        )
        self.assigned = threading.Event()
        self._in_flight: _InFlight | None = None
        self._persister = ThreadPoolExecutor(max_workers=1, thread_name_prefix="persist")

    @property
    def processor(self) -> BatchProcessor:
        return self._processor

    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop`` is set; the batch in hand is finished, committed, and the group left."""
        self._consumer.subscribe(self._topics, on_assign=self._on_assign, on_revoke=self._on_revoke)
        metrics.READY.set(1)
        try:
            while not stop.is_set():
                self._progress()
                if self._wake is not None and self._wake.is_set():
                    self._wake.clear()  # before: a ring heard meanwhile is taken on the next turn
                    self._parking.wake_idle()
                self._parking.resume_due()
                messages = self._fetch()
                fetched = self._parking.hold_back_not_due([m for m in messages if not self._is_error(m)])
                self._parking.park_read_to_end(messages)
                # held messages go first: a booking's older job runs before its newer ones of this batch
                batch = self._ledger.take_due(time.monotonic()) + fetched
                if not batch:
                    if not self._finish_in_flight(stop):  # nothing more came: make the last one durable
                        break
                    continue
                busy = self._in_flight.outcome.keys if self._in_flight is not None else frozenset()
                outcome = self._outage.until_ok(partial(self._processor.run, batch, busy), stop)
                if outcome is None or not self._finish_in_flight(stop):
                    break
                persisting = self._persister.submit(self._processor.persist, outcome)
                self._in_flight = _InFlight(batch, outcome, persisting)
        finally:
            metrics.READY.set(0)
            self._finish_in_flight(stop)  # the batch in hand is made durable (tried once more if stopping)
            self._commit()
            self._consumer.close()
            self._persister.shutdown(wait=True)
            self._processor.close()
            self._on_close()
            log.info("consumer closed")

    def _finish_in_flight(self, stop: threading.Event) -> bool:
        """Wait for the batch being made durable and store its offsets; a persist that failed (Redis or
        the database down) is resumed here, with the outage pause. False: stopped before it was durable
        (nothing of it is stored: it is redelivered)."""
        in_flight = self._in_flight
        if in_flight is None:
            return True
        wait([in_flight.persisting])
        failure = in_flight.persisting.exception()

        def persist() -> list[Message]:  # its failure on the persist thread starts the outage pause
            nonlocal failure
            if failure is not None:
                raised, failure = failure, None
                raise raised
            return self._processor.persist(in_flight.outcome)  # done: returns at once; else resumes

        unfinished = self._outage.until_ok(persist, stop)
        if self._in_flight is not in_flight:  # finished meanwhile by a revoke (served while polling)
            return True
        self._in_flight = None
        if unfinished is None:
            return False
        self._store_offsets(in_flight.batch, unfinished)
        return True

    def _fetch(self) -> list[Message]:
        """Up to ``batch_max`` messages: whatever is already fetched, else wait (up to the batch wait)
        for the first one and take what arrived with it. Batches grow with load; a lone message is
        handled as soon as it arrives, not after a batch-filling timeout. While a batch is being made
        durable, only what is already fetched is taken (nothing: the loop finishes that batch first)."""
        messages = self._consumer.consume(num_messages=self._batch_max, timeout=0)
        if messages or self._in_flight is not None:
            return messages
        first = self._consumer.consume(num_messages=1, timeout=self._wait_s())
        if not first or self._batch_max == 1:
            return first
        return first + self._consumer.consume(num_messages=self._batch_max - 1, timeout=0)

    def _wait_s(self) -> float:
        now = time.monotonic()
        wait_s = self._batch_wait_s
        if self._wake is not None and self._parking.idle_parked:  # a ring is taken within a turn
            wait_s = min(wait_s, WAKE_TURN_S)
        resume_in_s = self._parking.next_in_s(now)
        if resume_in_s is not None:
            wait_s = min(wait_s, resume_in_s)
        retry_in_s = self._ledger.retry_in_s(now)
        if retry_in_s is not None:
            wait_s = min(wait_s, retry_in_s)
        return max(0.0, wait_s)

    @property
    def paused(self) -> frozenset[_TP]:
        """The partitions paused now (a message not due, a full ledger, or parked)."""
        return self._parking.partitions()

    @property
    def ready(self) -> bool:
        """False while Redis or the database is failing and consumption is paused."""
        return self._outage.healthy

    def _store_offsets(self, batch: list[Message], unfinished: list[Message]) -> None:
        """Store what may be committed; hold the unfinished messages for another try (no rewind)."""
        offsets = self._ledger.settle(batch, unfinished, time.monotonic())
        if unfinished:
            log.info(
                "jobs not finished; tried again shortly",
                extra={
                    "jobs": len(unfinished),
                    "held": self._ledger.held_count,
                    "retry_in_s": BLOCKED_RETRY_S,
                },
            )
        for tp in self._ledger.crowded():  # bound what is held: take no more from it for a while
            self._parking.pause_until(tp, self._position(tp), BLOCKED_RETRY_S)
        if not offsets:  # only partitions revoked meanwhile: their new owner has them
            return
        try:
            self._consumer.store_offsets(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()])
        except KafkaException as exc:  # a partition revoked meanwhile: its new owner redelivers, dedup skips
            log.warning("could not store offsets", extra={"error": str(exc)})

    def _position(self, tp: _TP) -> int:
        """Where consumption of ``tp`` goes on: past what was handled and past the batch run meanwhile
        (pipelined), i.e. the consumer's position; the ledger's when the consumer has none."""
        [position] = self._consumer.position([TopicPartition(*tp)])
        return max(position.offset, self._ledger.next_offset(tp))

    def _commit(self) -> None:
        try:
            self._consumer.commit(asynchronous=False)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                log.warning("commit failed", extra={"error": str(exc)})

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info(
            "partitions assigned", extra={"partitions": [f"{p.topic}[{p.partition}]" for p in partitions]}
        )
        self._ledger.assign((p.topic, p.partition) for p in partitions)
        # librdkafka keeps a partition's pause across a revoke: one paused here, revoked and assigned
        # back later (cooperative rebalances) would never be fetched again. Nothing is paused on assign.
        consumer.resume(partitions)
        self.assigned.set()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info(
            "partitions revoked", extra={"partitions": [f"{p.topic}[{p.partition}]" for p in partitions]}
        )
        in_flight = self._in_flight
        if in_flight is not None:  # its offsets are stored (and committed below) once it is durable
            wait([in_flight.persisting])
            if in_flight.persisting.exception() is None and in_flight.outcome.stage is Stage.MARKED:
                self._in_flight = None
                self._store_offsets(in_flight.batch, in_flight.outcome.unfinished)
        self._parking.forget((p.topic, p.partition) for p in partitions)
        for p in partitions:
            forget_lag(p.topic, p.partition)  # its new owner reports it now
        self._ledger.revoke((p.topic, p.partition) for p in partitions)
        self._commit()

    @staticmethod
    def _is_error(msg: Message) -> bool:
        err = msg.error()
        if err is None:
            return False
        if err.code() != KafkaError._PARTITION_EOF:
            log.warning("consumer error", extra={"error": err.str()})
        return True
