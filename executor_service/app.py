"""Wires the executor from settings: consumer, producer, dedup table, EventLog writer, channel, runner."""

from __future__ import annotations

import os
import socket
import uuid

from executor_service.automations import Contact
from executor_service.batch import BatchProcessor
from executor_service.channels import make_channel
from executor_service.consumer_loop import ConsumeLoop
from executor_service.dedup import DedupTable
from executor_service.eventlog import EventLogWriter
from executor_service.lag import record_consumer_lag
from executor_service.republish import Republisher
from executor_service.runner import JobRunner
from shared.config import Settings
from shared.db.engine import make_engine, make_session_factory
from shared.kafka import JobProducer, consumer_config, make_consumer, producer_config
from shared.redis_client import make_redis
from shared.topics import retry_topic

_PUBLISH_DELIVERY_TIMEOUT_MS = 10_000
_STATS_INTERVAL_MS = 5_000


def build_loop(settings: Settings, *, producer: JobProducer | None = None) -> ConsumeLoop:
    """Build (without connecting) the consume loop the executor runs; ``producer`` (for retries and
    dead letters) defaults to one on the same cluster."""
    channel = make_channel(
        settings.default_channel,
        outbox=settings.outbox_file,
        webhook_url=settings.webhook_url,
        webhook_timeout_s=settings.webhook_timeout_s,
    )
    runner = JobRunner(
        channel,
        business_name=settings.business_name,
        owner=Contact(phone=settings.owner_phone, email=settings.owner_email),
    )
    dedup = DedupTable(
        make_redis(settings.redis_url.get_secret_value(), timeout_s=2.0),
        worker=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
        lease_s=settings.dedup_lease_s,
        ttl_s=settings.dedup_ttl_s,
    )
    eventlog = EventLogWriter(make_session_factory(make_engine(settings.sqlalchemy_url)))
    producer = producer or JobProducer(
        producer_config(settings.kafka_bootstrap_servers, delivery_timeout_ms=_PUBLISH_DELIVERY_TIMEOUT_MS)
    )
    republisher = Republisher(producer, jobs_topic=settings.jobs_topic, tiers_s=settings.retry_tiers_s)
    processor = BatchProcessor(
        runner,
        dedup,
        eventlog,
        republisher,
        policy_for=settings.policy_for,
        concurrency=settings.executor_concurrency,
    )
    consumer = make_consumer(
        consumer_config(
            settings.kafka_bootstrap_servers,
            settings.consumer_group,
            **{
                "session.timeout.ms": settings.session_timeout_ms,
                "statistics.interval.ms": _STATS_INTERVAL_MS,
            },
        ),
        stats_cb=record_consumer_lag,
    )
    retry_topics = [retry_topic(settings.jobs_topic, t) for t in settings.retry_tiers_s]
    return ConsumeLoop(
        consumer,
        processor,
        topics=[settings.jobs_topic, *retry_topics],
        retry_topics=retry_topics,
        batch_max=settings.batch_max_messages,
        batch_wait_s=settings.batch_wait_s,
        on_close=lambda: producer.close(timeout_s=5.0),
    )
