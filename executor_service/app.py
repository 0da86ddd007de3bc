"""Wires the executor from settings: consumer, producer, dedup table, EventLog writer, channel, runner."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable
from functools import partial

from redis import Redis

from executor_service import metrics
from executor_service.batch import BatchProcessor
from executor_service.channel_registry import ChannelRegistry
from executor_service.checks import PreSendChecks
from executor_service.consumer_loop import ConsumeLoop
from executor_service.dedup import DedupTable
from executor_service.lag import record_consumer_lag
from executor_service.onward import OnwardPublisher, pick_tier
from executor_service.pause_schedule import park_s
from executor_service.pauses import PauseGate, PauseWatch
from executor_service.rate_limit import RateLimiter, Throttle
from executor_service.runner import JobRunner
from shared.automation_settings import AutomationSettings, load_automation_settings
from shared.booking_state import BookingStates
from shared.config import Settings
from shared.constants import (
    IDLE_JOBS_PARK_S,
    PG_PING_AFTER_IDLE_S,
    RATE_LIMIT_MAX_WAIT_S,
    SHORTEST_TIER_PARK_S,
)
from shared.db.booking_history import snapshots_from_eventlog
from shared.db.engine import make_engine, make_session_factory
from shared.db.eventlog_writer import EventLogWriter
from shared.doorbell import DoorbellListener, wake_channel
from shared.kafka import JobProducer, consumer_config, make_consumer, producer_config
from shared.redis_client import make_redis
from shared.topics import delay_topic, retry_topic

_PUBLISH_DELIVERY_TIMEOUT_MS = 10_000
_STATS_INTERVAL_MS = 5_000
# Stored offsets are committed this often (librdkafka's default is 5 s): what a kill -9 redelivers (each
# a `skipped_duplicate` row) is about this much work; one small request per second.
_AUTO_COMMIT_INTERVAL_MS = 1_000


def build_loop(
    settings: Settings, *, producer: JobProducer | None = None, progress: Callable[[], object] | None = None
) -> ConsumeLoop:
    """Build (without connecting) the consume loop the executor runs; ``producer`` (for retries, delays
    and dead letters) defaults to one on the same cluster. Raises SettingsError on a bad settings file
    or channel configuration. ``progress`` (liveness.py) is called per loop turn and per finished send."""
    automations = load_automation_settings(settings.automations_file)
    channels = ChannelRegistry(settings, automations.senders, progress=progress)
    channels.check()
    runner = JobRunner(channels, automations, redact_contacts=settings.eventlog_redact_contacts)
    redis_client = make_redis(settings.redis_url.get_secret_value(), timeout_s=2.0)
    dedup = DedupTable(
        redis_client,
        worker=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
        lease_s=settings.dedup_lease_s,
        ttl_s=settings.dedup_ttl_s,
    )
    # a ping per batch only after an idle second: every statement here survives a failure (outage.py)
    engine = make_engine(settings.sqlalchemy_url, ping_after_idle_s=PG_PING_AFTER_IDLE_S)
    sessions = make_session_factory(engine)
    eventlog = EventLogWriter(
        engine,
        observe_s=metrics.EVENTLOG_WRITE_DURATION.observe,
        on_error=metrics.EVENTLOG_WRITE_ERRORS.inc,
    )
    producer = producer or JobProducer(
        producer_config(
            settings.kafka_bootstrap_servers,
            delivery_timeout_ms=_PUBLISH_DELIVERY_TIMEOUT_MS,
            **settings.kafka_security(),
        )
    )
    onward = OnwardPublisher(
        producer,
        jobs_topic=settings.jobs_topic,
        retry_tiers_s=settings.retry_tiers_s,
        delay_tiers_s=settings.delay_tiers_s,
        policy_for=settings.policy_for,
    )
    pause_watch = PauseWatch(sessions, settings.pause_refresh_s)  # started by the loop's first turn
    processor = BatchProcessor(
        runner,
        dedup,
        eventlog,
        onward,
        checks=PreSendChecks(
            BookingStates(redis_client, ttl_s=settings.booking_state_ttl_s),
            automations,
            history=partial(snapshots_from_eventlog, engine),
        ),
        jobs_topic=settings.jobs_topic,
        concurrency=settings.executor_concurrency,
        max_unrecorded_sends=settings.max_unrecorded_sends,
        throttle=Throttle(_rate_limiter(redis_client, automations, settings), runner.channel_of),
        pauses=PauseGate(
            pause_watch,
            automations,
            onward,
            default_channel=settings.default_channel,
            recheck_s=pick_tier(settings.pause_recheck_s, settings.delay_tiers_s),
            redact_contacts=settings.eventlog_redact_contacts,
        ),
    )
    consumer = make_consumer(
        consumer_config(
            settings.kafka_bootstrap_servers,
            settings.consumer_group,
            **{
                "session.timeout.ms": settings.session_timeout_ms,
                "fetch.wait.max.ms": settings.fetch_wait_max_ms,
                "enable.partition.eof": True,  # a tier partition read to its end is parked
                **settings.kafka_security(),
                "statistics.interval.ms": _STATS_INTERVAL_MS,
                "auto.commit.interval.ms": _AUTO_COMMIT_INTERVAL_MS,
            },
        ),
        stats_cb=record_consumer_lag,
    )
    wake = threading.Event()  # set by the trigger's wake-up calls (shared/doorbell.py)
    listener = DoorbellListener(redis_client, wake_channel(settings.jobs_topic), wake)
    retries, delays = settings.retry_tiers_s, settings.delay_tiers_s
    tier_park_s = {
        retry_topic(settings.jobs_topic, t): park_s(t, retries, SHORTEST_TIER_PARK_S) for t in retries
    } | {delay_topic(settings.jobs_topic, t): park_s(t, delays, SHORTEST_TIER_PARK_S) for t in delays}
    return ConsumeLoop(
        consumer,
        processor,
        topics=[settings.jobs_topic, *tier_park_s],
        tier_park_s=tier_park_s,
        idle_park_s=IDLE_JOBS_PARK_S,
        wake=wake,
        batch_max=settings.batch_max_messages,
        batch_wait_s=settings.batch_wait_s,
        on_close=_each_turn(listener.stop, lambda: producer.close(timeout_s=5.0)),
        # started on the first turn, so an idle executor exports the pauses too, and hears the trigger
        progress=_each_turn(pause_watch.start, listener.start, progress),
    )


def _rate_limiter(client: Redis, automations: AutomationSettings, settings: Settings) -> RateLimiter | None:
    """The channel rate limits of the settings file (rate_limit.py), or None when it sets none."""
    if not automations.rate_limits:
        return None
    senders = {"sms": automations.senders.sms_from, "email": automations.senders.email_from}
    return RateLimiter(
        client,
        automations.rate_limits,
        senders,
        max_wait_s=min(RATE_LIMIT_MAX_WAIT_S, settings.dedup_lease_s / 2),
        outage_wait_s=min(settings.delay_tiers_s),
    )


def _each_turn(*steps: Callable[[], object] | None) -> Callable[[], None]:
    """One callable running ``steps`` (None skipped) in order: the consume loop's per-turn and close
    hooks."""

    def turn() -> None:
        for step in steps:
            if step is not None:
                step()

    return turn
