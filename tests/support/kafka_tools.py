"""Reading topics in tests."""

from __future__ import annotations

import time
import uuid


def end_offsets(bootstrap: str, topic: str, timeout_s: float = 20) -> dict[int, int]:
    """partition -> offset after its last message, found by reading the partition to its end.

    Not from the watermarks: Tansu reports the high watermark of a partition as the base offset
    of its last record batch + 1, which is wrong after a multi-record batch.
    """
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-end-{uuid.uuid4().hex[:10]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        ends = dict.fromkeys(partitions, 0)
        at_eof: set[int] = set()
        deadline = time.monotonic() + timeout_s
        while len(at_eof) < len(partitions):
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {topic} to its end")
            for msg in consumer.consume(1000, 0.2):
                if msg.error() is None:
                    ends[msg.partition()] = msg.offset() + 1
                    at_eof.discard(msg.partition())
                elif msg.error().code() == KafkaError._PARTITION_EOF:
                    at_eof.add(msg.partition())
        return ends
    finally:
        consumer.close()
