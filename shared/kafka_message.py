"""Typed reads of a message the client delivered: a consumed record or a delivery report.

confluent-kafka types every accessor of ``Message`` as Optional (a ``Message`` built by hand may lack any
of them). A message the consumer returned without error, or a successful delivery report, has its topic,
partition and offset; one that lacks them is a client bug, reported as such rather than carried on as
``None``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from confluent_kafka import Message

Headers = list[tuple[str, bytes]]
# Headers as confluent-kafka hands them out (a consumed message has a list; values may be None).
KafkaHeaders = Sequence[tuple[str, str | bytes | None]] | Mapping[str, str | bytes | None]


class HasHeaders(Protocol):
    def headers(self) -> KafkaHeaders | None: ...


def topic_of(msg: Message) -> str:
    topic = msg.topic()
    if topic is None:
        raise ValueError("Kafka message without a topic: not one the client delivered")
    return topic


def partition_of(msg: Message) -> int:
    partition = msg.partition()
    if partition is None:
        raise ValueError("Kafka message without a partition: not one the client delivered")
    return partition


def offset_of(msg: Message) -> int:
    offset = msg.offset()
    if offset is None:
        raise ValueError("Kafka message without an offset: not one the client delivered")
    return offset


def header_pairs(msg: HasHeaders) -> Headers:
    """The message's headers in order, as bytes; headers without a value are left out."""
    raw = msg.headers() or ()
    pairs = raw.items() if isinstance(raw, Mapping) else raw
    return [
        (key, value.encode() if isinstance(value, str) else value)
        for key, value in pairs
        if value is not None
    ]
