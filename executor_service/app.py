"""Wires the executor from settings: consumer, dedup table, EventLog writer, channel, runner."""

from __future__ import annotations

import redis

from executor_service.automations import Contact
from executor_service.batch import BatchProcessor
from executor_service.channels import make_channel
from executor_service.consumer_loop import ConsumeLoop
from executor_service.dedup import DedupTable
from executor_service.eventlog import EventLogWriter
from executor_service.runner import JobRunner
from shared.config import Settings
from shared.db.engine import make_engine, make_session_factory
from shared.kafka import consumer_config, make_consumer


def build_loop(settings: Settings) -> ConsumeLoop:
    """Build (without connecting) the consume loop the executor runs."""
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
        redis.Redis.from_url(
            settings.redis_url.get_secret_value(), socket_timeout=2.0, socket_connect_timeout=2.0
        ),
        ttl_s=settings.dedup_ttl_s,
    )
    eventlog = EventLogWriter(make_session_factory(make_engine(settings.sqlalchemy_url)))
    processor = BatchProcessor(runner, dedup, eventlog, concurrency=settings.executor_concurrency)
    consumer = make_consumer(
        consumer_config(
            settings.kafka_bootstrap_servers,
            settings.consumer_group,
            **{"session.timeout.ms": settings.session_timeout_ms},
        )
    )
    return ConsumeLoop(
        consumer,
        processor,
        topic=settings.jobs_topic,
        batch_max=settings.batch_max_messages,
        batch_wait_s=settings.batch_wait_s,
    )
