"""The executor's consume loop over the jobs topic and the retry tier topics.

Each turn takes what is available (up to N messages), holds back retry messages that are not
due yet (their partition is paused and rewound to them, and resumed when due: no sleeping, so
``max.poll.interval.ms`` is never at risk), processes the rest, and stores offsets: past every
message whose outcome is durable, never past the lowest one that is not. A message that could not
finish (its key leased by another worker, or its onward publish not acknowledged) is held aside and
run again alone a second later (partition_ledger.py); its partition is not rewound, so what followed
it is neither run nor recorded again. librdkafka's auto-commit commits what was stored; the loop
commits synchronously on revoke and on shutdown.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from executor_service import metrics
from executor_service.batch import BatchProcessor
from executor_service.lag import forget_lag
from executor_service.partition_ledger import PartitionLedger
from executor_service.pause_schedule import PauseSchedule, read_to_end
from shared.codec import read_envelope
from shared.constants import BLOCKED_RETRY_S, IDLE_AFTER_S
from shared.kafka_message import header_pairs, offset_of, partition_of, topic_of

log = logging.getLogger(__name__)

_OUTAGE_BACKOFF_S = (0.5, 1.0, 2.0, 5.0)
T = TypeVar("T")

_TP = tuple[str, int]


class ConsumeLoop:
    def __init__(
        self,
        consumer: Consumer,
        processor: BatchProcessor,
        *,
        topics: Sequence[str],
        tier_park_s: Mapping[str, float],
        idle_park_s: float = 0.0,
        batch_max: int,
        batch_wait_s: float,
        on_close: Callable[[], object] = lambda: None,
        progress: Callable[[], object] = lambda: None,
    ) -> None:
        """``tier_park_s``: the retry/delay tier topics, each with how long a partition of it read to its
        end goes unfetched (pause_schedule.py). ``progress`` is called once per loop turn and per poll
        of an outage pause (liveness.py). ``idle_park_s``: how long a jobs partition read to its end is
        parked once no message came for ``IDLE_AFTER_S`` (0: never). The consumer must have
        ``enable.partition.eof`` set."""
        self._consumer = consumer
        self._processor = processor
        self._topics = list(topics)
        self._tier_park_s = dict(tier_park_s)
        self._idle_park_s = idle_park_s
        self._last_message_at = time.monotonic()
        self._batch_max = batch_max
        self._batch_wait_s = batch_wait_s
        self._on_close = on_close
        self._progress = progress
        self._paused = PauseSchedule()
        # held-aside messages and how far each partition was handled; at most a batch held per partition
        self._ledger: PartitionLedger[Message] = PartitionLedger(
            retry_s=BLOCKED_RETRY_S, max_held_per_partition=batch_max
        )
        self.assigned = threading.Event()
        self._healthy = True

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
                self._resume_due()
                messages = self._fetch()
                fetched = self._hold_back_not_due([m for m in messages if not self._is_error(m)])
                self._park_read_to_end(messages)
                # held messages go first: a booking's older job runs before its newer ones of this batch
                batch = self._ledger.take_due(time.monotonic()) + fetched
                if batch:
                    outcome = self._until_ok(partial(self._processor.run, batch), stop)
                    if outcome is None:
                        break
                    unfinished = self._until_ok(partial(self._processor.persist, outcome), stop)
                    if unfinished is None:
                        break
                    self._store_offsets(batch, unfinished)
        finally:
            metrics.READY.set(0)
            self._commit()
            self._consumer.close()
            self._processor.close()
            self._on_close()
            log.info("consumer closed")

    def _fetch(self) -> list[Message]:
        """Up to ``batch_max`` messages: whatever is already fetched, else wait (up to the batch wait)
        for the first one and take what arrived with it. Batches grow with load; a lone message is
        handled as soon as it arrives, not after a batch-filling timeout."""
        messages = self._consumer.consume(num_messages=self._batch_max, timeout=0)
        if messages:
            return messages
        first = self._consumer.consume(num_messages=1, timeout=self._wait_s())
        if not first or self._batch_max == 1:
            return first
        return first + self._consumer.consume(num_messages=self._batch_max - 1, timeout=0)

    def _wait_s(self) -> float:
        now = time.monotonic()
        wait_s = self._batch_wait_s
        resume_in_s = self._paused.next_in_s(now)
        if resume_in_s is not None:
            wait_s = min(wait_s, resume_in_s)
        retry_in_s = self._ledger.retry_in_s(now)
        if retry_in_s is not None:
            wait_s = min(wait_s, retry_in_s)
        return max(0.0, wait_s)

    def _hold_back_not_due(self, batch: list[Message]) -> list[Message]:
        """Drop retry/delay messages not due yet (and what follows them in their partition); pause and
        rewind."""
        now_ms = time.time() * 1000
        cut: dict[_TP, float] = {}
        kept = []
        for m in batch:
            tp = (topic_of(m), partition_of(m))
            if tp in cut:
                continue
            due = read_envelope(header_pairs(m)).due_at_ms if tp[0] in self._tier_park_s else None
            if due is not None and due > now_ms:
                cut[tp] = due
                self._pause_until(tp, offset_of(m), (due - now_ms) / 1000)
                continue
            if due is not None:
                metrics.RETRY_RELEASE_LATENESS.observe((now_ms - due) / 1000)
            kept.append(m)
        return kept

    def _park_read_to_end(self, messages: list[Message]) -> None:
        """Park each partition read to its end (pause_schedule.py): a tier partition (unless paused for
        a message not due) until a message written to it from now on could be due; a jobs partition
        only once the loop has been quiet, briefly. Parking pauses and seeks to the end: nothing in hand
        is fetched again, and the offsets stored stay those of durable work."""
        now = time.monotonic()
        if any(m.error() is None for m in messages):
            self._last_message_at = now
        jobs_park_s = self._idle_park_s if now - self._last_message_at >= IDLE_AFTER_S else 0.0
        for tp, offset in read_to_end(messages).items():
            park_s = self._tier_park_s.get(tp[0], jobs_park_s)
            if park_s and tp not in self._paused:
                self._pause_until(tp, offset, park_s)

    def _pause_until(self, tp: _TP, offset: int, delay_s: float) -> None:
        partition = TopicPartition(tp[0], tp[1], offset)
        self._consumer.pause([partition])
        self._consumer.seek(partition)
        self._paused.pause(tp, time.monotonic() + delay_s)
        metrics.PAUSED_PARTITIONS.set(len(self._paused))

    def _resume_due(self) -> None:
        due = self._paused.due(time.monotonic())
        if due:
            self._consumer.resume([TopicPartition(*tp) for tp in due])
        metrics.PAUSED_PARTITIONS.set(len(self._paused))

    @property
    def paused(self) -> frozenset[_TP]:
        """The partitions paused now (a message not due, a full ledger, or parked)."""
        return self._paused.partitions()

    @property
    def ready(self) -> bool:
        """False while Redis or the database is failing and consumption is paused."""
        return self._healthy

    def _until_ok(self, step: Callable[[], T], stop: threading.Event) -> T | None:
        """Run ``step`` until it succeeds; while it fails (Redis or the database is down), every
        assigned partition is paused, the group membership is kept alive by polling, and readiness
        is false. Returns None if ``stop`` is set first."""
        attempt, outage_started = 0, None
        while True:
            try:
                result = step()
            except Exception:
                if outage_started is None:
                    outage_started = time.monotonic()
                    self._healthy = False
                    metrics.READY.set(0)
                    self._consumer.pause(self._consumer.assignment())
                delay = _OUTAGE_BACKOFF_S[min(attempt, len(_OUTAGE_BACKOFF_S) - 1)]
                log.warning(
                    "backend unavailable; consumption paused", extra={"retry_in_s": delay}, exc_info=True
                )
                attempt += 1
                if self._idle(delay, stop):
                    return None
                continue
            if outage_started is not None:
                metrics.OUTAGE_PAUSED_SECONDS.inc(time.monotonic() - outage_started)
                resumable = [
                    tp for tp in self._consumer.assignment() if (tp.topic, tp.partition) not in self._paused
                ]
                self._consumer.resume(resumable)
                self._healthy = True
                metrics.READY.set(1)
                log.info("backend back; consumption resumed")
            return result

    def _idle(self, delay_s: float, stop: threading.Event) -> bool:
        """Poll (serving rebalances) for ``delay_s`` without taking work; True if ``stop`` was set.

        Partitions assigned meanwhile are not paused yet: whatever they deliver is rewound and paused.
        """
        deadline = time.monotonic() + delay_s
        while not stop.is_set() and time.monotonic() < deadline:
            self._progress()
            arrived: dict[_TP, int] = {}
            for m in self._consumer.consume(num_messages=self._batch_max, timeout=0.2):
                if m.error() is None:
                    arrived.setdefault((topic_of(m), partition_of(m)), offset_of(m))
            for (topic, partition), offset in arrived.items():
                tp = TopicPartition(topic, partition, offset)
                self._consumer.pause([tp])
                self._consumer.seek(tp)
            if arrived:
                self._consumer.pause(self._consumer.assignment())
        return stop.is_set()

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
            self._pause_until(tp, self._ledger.next_offset(tp), BLOCKED_RETRY_S)
        if not offsets:  # only partitions revoked meanwhile: their new owner has them
            return
        try:
            self._consumer.store_offsets(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()])
        except KafkaException as exc:  # a partition revoked meanwhile: its new owner redelivers, dedup skips
            log.warning("could not store offsets", extra={"error": str(exc)})

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
        self.assigned.set()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info(
            "partitions revoked", extra={"partitions": [f"{p.topic}[{p.partition}]" for p in partitions]}
        )
        self._paused.forget((p.topic, p.partition) for p in partitions)
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
