"""Jobs for executor tests: make them, produce them straight to the jobs topic, read results back."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, TopicPartition

from shared.codec import encode_job
from shared.kafka import JobProducer, producer_config
from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.kafka_tools import end_offsets
from tests.support.sample import sample_request


def produce_jobs(settings, jobs: list[pb.AutomationJob | bytes], headers=()) -> None:
    producer = JobProducer(producer_config(settings.kafka_bootstrap_servers, delivery_timeout_ms=10000))
    futures = []
    for job in jobs:
        if isinstance(job, bytes):  # a poison pill
            futures.append(producer.produce(settings.jobs_topic, b"poison", job, []))
        else:
            key, value, hdrs = encode_job(job)
            futures.append(producer.produce(settings.jobs_topic, key, value, hdrs + list(headers)))
    for f in futures:
        f.result(timeout=20)
    producer.close(5)


def make_job(booking: str | None = None) -> pb.AutomationJob:
    request = sample_request(booking or f"b-{uuid.uuid4().hex[:10]}")
    return pb.AutomationJob(
        job_id=uuid.uuid4().hex, idempotency_key=uuid.uuid4().hex, request=request, attempt=1
    )


def read_all(bootstrap: str, topic: str, count: int, timeout_s: float = 20):
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex, "enable.auto.commit": False}
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        out, deadline = [], time.monotonic() + timeout_s
        while len(out) < count and time.monotonic() < deadline:
            m = consumer.poll(0.1)
            if m is not None and not m.error():
                out.append(m)
        return out
    finally:
        consumer.close()


def committed_lag(settings) -> int:
    """Messages of the jobs topic past the group's committed offsets."""
    topic = settings.jobs_topic
    ends = end_offsets(settings.kafka_bootstrap_servers, topic)
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap_servers, "group.id": settings.consumer_group}
    )
    try:
        committed = consumer.committed([TopicPartition(topic, p) for p in ends], timeout=10)
        return sum(ends[tp.partition] - max(tp.offset, 0) for tp in committed)
    finally:
        consumer.close()
