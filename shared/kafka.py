"""Thin wrappers over confluent-kafka: clients are created lazily, never in a constructor.

``JobProducer.produce()`` returns a future that resolves when the broker acknowledges the
write (or the delivery fails); a background thread serves delivery callbacks with ``poll()``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer

from shared.errors import ProduceError
from shared.kafka_message import offset_of, partition_of, topic_of

log = logging.getLogger(__name__)
_OnDelivery = Callable[[KafkaError | None, Message], None]


@dataclass(frozen=True)
class Delivery:
    """Where the broker stored a message."""

    topic: str
    partition: int
    offset: int


def delivery_of(msg: Message) -> Delivery:
    """Where a successful delivery report says the message was stored."""
    return Delivery(topic_of(msg), partition_of(msg), offset_of(msg))


def producer_config(bootstrap_servers: str, *, delivery_timeout_ms: int, **extra: Any) -> dict[str, Any]:
    """Durable producer settings: idempotent, acks from all in-sync replicas, bounded delivery time.

    Tuning (see ARCHITECTURE.md, "Throughput and latency"): ``linger.ms`` 0 (librdkafka's default is 5):
    a message goes out at once, and messages produced while a request is in flight still share the next
    one, so batches form under load without adding latency when idle (a linger only slowed callers,
    ARCHITECTURE.md); ``batch.size`` 1 MiB holds a full 500-item batch in one request per partition; lz4
    costs little CPU and shrinks the repetitive payloads.
    """
    return {
        "bootstrap.servers": bootstrap_servers,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 0,
        "batch.size": 1024 * 1024,
        "delivery.timeout.ms": delivery_timeout_ms,
        "compression.type": "lz4",
        **extra,
    }


def consumer_config(bootstrap_servers: str, group_id: str, **extra: Any) -> dict[str, Any]:
    """At-least-once consumer: offsets are stored by the application only after its work is durable.

    Tuning: ``fetch.min.bytes`` 1 makes the broker answer a fetch as soon as anything arrived (latency),
    while ``fetch.wait.max.ms`` bounds how long an empty fetch is held (the executor passes its
    ``fetch_wait_max_ms`` setting); the prefetch queue is capped at 16 MiB per consumer (librdkafka's
    default is 64 MiB) to bound memory while a backlog drains.
    """
    return {
        "bootstrap.servers": bootstrap_servers,
        "group.id": group_id,
        "enable.auto.commit": True,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        "fetch.min.bytes": 1,
        "fetch.wait.max.ms": 100,  # a default; the executor sets its own
        "queued.max.messages.kbytes": 16 * 1024,
        **extra,
    }


class JobProducer:
    """A shared producer whose ``produce()`` returns a Future[Delivery]."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config
        self._producer: Producer | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    def _client(self) -> Producer:
        if self._producer is None:
            with self._lock:
                if self._producer is None:
                    self._producer = Producer(self._config, logger=log)
                    self._poller = threading.Thread(
                        target=self._poll_loop, name="kafka-producer-poll", daemon=True
                    )
                    self._poller.start()
        return self._producer

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            assert self._producer is not None
            self._producer.poll(0.1)

    def produce(
        self, topic: str, key: bytes, value: bytes, headers: Sequence[tuple[str, bytes]]
    ) -> Future[Delivery]:
        future: Future[Delivery] = Future()

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                future.set_exception(ProduceError(f"delivery failed: {err.str()}"))
            else:
                future.set_result(delivery_of(msg))

        rejected = self._send(topic, key, value, headers, on_delivery)
        if rejected is not None:
            future.set_exception(rejected)
        return future

    def produce_all(
        self, topic: str, messages: Sequence[tuple[bytes, bytes, Sequence[tuple[str, bytes]]]]
    ) -> Future[list[Delivery | ProduceError]]:
        """Produce many (key, value, headers); one future resolves once every message is answered, with
        each one's Delivery or ProduceError in order (cheaper than a future per message)."""
        done: Future[list[Delivery | ProduceError]] = Future()
        results: list[Delivery | ProduceError] = [ProduceError("not answered")] * len(messages)
        remaining = [len(messages)]
        lock = threading.Lock()

        def answer(i: int, outcome: Delivery | ProduceError) -> None:
            results[i] = outcome
            with lock:
                remaining[0] -= 1
                last = remaining[0] == 0
            if last:
                done.set_result(results)

        def callback(i: int) -> _OnDelivery:
            def on_delivery(err: KafkaError | None, msg: Message) -> None:
                if err is not None:
                    answer(i, ProduceError(f"delivery failed: {err.str()}"))
                else:
                    answer(i, delivery_of(msg))

            return on_delivery

        if not messages:
            done.set_result([])
        for i, (key, value, headers) in enumerate(messages):
            rejected = self._send(topic, key, value, headers, callback(i))
            if rejected is not None:
                answer(i, rejected)
        return done

    def _send(
        self,
        topic: str,
        key: bytes,
        value: bytes,
        headers: Sequence[tuple[str, bytes]],
        on_delivery: _OnDelivery,
    ) -> ProduceError | None:
        """Hand one message to librdkafka; a ProduceError if it refused it outright."""
        producer = self._client()
        while True:
            try:
                producer.produce(topic, value=value, key=key, headers=list(headers), on_delivery=on_delivery)
                return None
            except BufferError:  # local queue full: let deliveries drain, then try again
                producer.poll(0.05)
            except KafkaException as exc:
                return ProduceError(f"produce rejected: {exc}")

    def check_topic(self, topic: str, timeout_s: float) -> None:
        """Raise ProduceError unless the brokers answer a metadata request for ``topic`` within
        ``timeout_s`` and every partition of it has a leader (the trigger's dependency check)."""
        try:
            found = self._client().list_topics(topic, timeout=timeout_s).topics.get(topic)
        except KafkaException as exc:
            raise ProduceError(f"no metadata from the brokers: {exc}") from None
        if found is None or found.error is not None or not found.partitions:
            raise ProduceError(f"topic {topic} unavailable: {found.error if found else 'not found'}")
        if any(p.leader < 0 for p in found.partitions.values()):
            raise ProduceError(f"topic {topic} has partitions without a leader")

    def flush(self, timeout_s: float) -> int:
        """Wait for outstanding deliveries; return how many are still in flight."""
        return 0 if self._producer is None else self._producer.flush(timeout_s)

    def close(self, timeout_s: float) -> int:
        remaining = self.flush(timeout_s)
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=1.0)
        return remaining


def make_consumer(config: dict[str, Any], stats_cb: Callable[[str], None] | None = None) -> Consumer:
    if stats_cb is not None:
        config = {**config, "stats_cb": stats_cb}
    return Consumer(config, logger=log)
