"""Typed reads of a delivered Kafka message (shared/kafka_message.py), on real confluent-kafka Messages."""

from __future__ import annotations

import pytest
from confluent_kafka import Message

from shared.kafka import delivery_of
from shared.kafka_message import header_pairs, offset_of, partition_of, topic_of


def test_a_delivered_message_gives_its_position():
    msg = Message(topic="automation.jobs", partition=3, offset=41)
    assert (topic_of(msg), partition_of(msg), offset_of(msg)) == ("automation.jobs", 3, 41)
    delivery = delivery_of(msg)
    assert (delivery.topic, delivery.partition, delivery.offset) == ("automation.jobs", 3, 41)


def test_partition_and_offset_zero_are_values_not_missing():
    msg = Message(topic="t", partition=0, offset=0)
    assert (partition_of(msg), offset_of(msg)) == (0, 0)


@pytest.mark.parametrize("read", [topic_of, partition_of, offset_of, delivery_of])
def test_a_message_without_a_position_is_an_error_not_none(read):
    with pytest.raises(ValueError, match="not one the client delivered"):
        read(Message())


def test_headers_in_order_as_bytes_without_the_valueless_ones():
    msg = Message(topic="t", headers=[("a", b"1"), ("none", None), ("text", "x"), ("a", b"2")])
    assert header_pairs(msg) == [("a", b"1"), ("text", b"x"), ("a", b"2")]


def test_headers_given_as_a_mapping_and_no_headers():
    assert header_pairs(Message(topic="t", headers={"k": b"v", "s": "w", "n": None})) == [
        ("k", b"v"),
        ("s", b"w"),
    ]
    assert header_pairs(Message(topic="t")) == []
