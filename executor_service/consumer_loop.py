"""The executor's consume loop: take what is available (up to N), process it, store offsets.

At-least-once: offsets are stored only after ``BatchProcessor.process`` returned, i.e. after the
batch's EventLog rows committed; librdkafka's auto-commit then commits what was stored, and the
loop commits synchronously on revoke and on shutdown.
"""

from __future__ import annotations

import logging
import threading
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from executor_service.batch import BatchProcessor

log = logging.getLogger(__name__)

_DB_RETRY_BACKOFF_S = (0.5, 1.0, 2.0, 5.0)


class ConsumeLoop:
    def __init__(
        self,
        consumer: Consumer,
        processor: BatchProcessor,
        *,
        topic: str,
        batch_max: int,
        batch_wait_s: float,
    ) -> None:
        self._consumer = consumer
        self._processor = processor
        self._topic = topic
        self._batch_max = batch_max
        self._batch_wait_s = batch_wait_s
        self.assigned = threading.Event()

    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop`` is set; the batch in hand is finished, committed, and the group left."""
        self._consumer.subscribe([self._topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        try:
            while not stop.is_set():
                messages = self._consumer.consume(num_messages=self._batch_max, timeout=self._batch_wait_s)
                batch = [m for m in messages if not self._is_error(m)]
                if batch:
                    self._process_until_durable(batch, stop)
                    self._store_offsets(batch)
        finally:
            self._commit()
            self._consumer.close()
            self._processor.close()
            log.info("consumer closed")

    def _process_until_durable(self, batch: list[Message], stop: threading.Event) -> None:
        attempt = 0
        while True:
            try:
                self._processor.process(batch)
                return
            except Exception:
                # The outcome is not durable: keep the batch, keep its offsets unstored, try again.
                # (Issue #3 replaces this with pause/resume and a lease-based dedup.)
                delay = _DB_RETRY_BACKOFF_S[min(attempt, len(_DB_RETRY_BACKOFF_S) - 1)]
                log.exception("batch could not be made durable; retrying", extra={"retry_in_s": delay})
                attempt += 1
                if stop.wait(delay):
                    raise

    def _store_offsets(self, batch: list[Message]) -> None:
        next_offsets: dict[tuple[str, int], int] = {}
        for m in batch:
            key = (m.topic(), m.partition())
            next_offsets[key] = max(next_offsets.get(key, 0), m.offset() + 1)
        self._consumer.store_offsets(offsets=[TopicPartition(t, p, o) for (t, p), o in next_offsets.items()])

    def _commit(self) -> None:
        try:
            self._consumer.commit(asynchronous=False)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                log.warning("final commit failed", extra={"error": str(exc)})

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("partitions assigned", extra={"partitions": [p.partition for p in partitions]})
        self.assigned.set()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("partitions revoked", extra={"partitions": [p.partition for p in partitions]})
        self._commit()

    @staticmethod
    def _is_error(msg: Message) -> bool:
        err = msg.error()
        if err is None:
            return False
        if err.code() != KafkaError._PARTITION_EOF:
            log.warning("consumer error", extra={"error": err.str()})
        return True


def wait_assigned(loop: ConsumeLoop, timeout_s: float) -> bool:
    """For tests and startup logs: block until the group gave this consumer partitions."""
    deadline = time.monotonic() + timeout_s
    return loop.assigned.wait(max(deadline - time.monotonic(), 0))
