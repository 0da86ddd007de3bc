"""Topic names derived from the jobs topic (retry tiers, delay tiers, dead letters) and their specs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shared.constants import DEAD_LETTER_SUFFIX, DELAY_SUFFIX, RETRY_SUFFIX

if TYPE_CHECKING:
    from shared.config import Settings

RETENTION_MS = "retention.ms"


@dataclass(frozen=True)
class TopicSpec:
    """How a topic is created: partitions, replication factor (-1: the broker's default) and topic
    configs (``retention.ms``, ...; values are strings, as Kafka takes them)."""

    partitions: int
    replication_factor: int = -1
    config: dict[str, str] = field(default_factory=dict)


def retry_topic(jobs_topic: str, tier_s: int) -> str:
    """``automation.jobs.retry.4s``: jobs waiting about ``tier_s`` seconds before their next attempt."""
    return f"{jobs_topic}{RETRY_SUFFIX}.{tier_s}s"


def delay_topic(jobs_topic: str, tier_s: int) -> str:
    """``automation.jobs.delay.64s``: scheduled jobs, each taken exactly ``tier_s`` after it was written."""
    return f"{jobs_topic}{DELAY_SUFFIX}.{tier_s}s"


def dead_letter_topic(jobs_topic: str) -> str:
    return f"{jobs_topic}{DEAD_LETTER_SUFFIX}"


def all_topics(jobs_topic: str, tiers_s: Sequence[int], delay_tiers_s: Sequence[int]) -> list[str]:
    return [
        jobs_topic,
        *(retry_topic(jobs_topic, t) for t in tiers_s),
        *(delay_topic(jobs_topic, t) for t in delay_tiers_s),
        dead_letter_topic(jobs_topic),
    ]


def topic_specs(settings: Settings) -> dict[str, TopicSpec]:
    """Every topic of the pipeline, in ``all_topics`` order, with its partitions, replication and retention.

    All topics get ``jobs_topic_partitions`` partitions (a booking's key maps to the same partition number
    everywhere) and ``topic_replication_factor`` replicas. The jobs, retry and delay topics keep messages
    ``jobs_topic_retention_ms`` (at most the dedup TTL, longer than the longest tier: see Settings); the
    dead-letter topic keeps them ``dead_letter_retention_ms``, as long as their EventLog rows by default.
    """
    jobs = settings.jobs_topic
    dead_letters = dead_letter_topic(jobs)

    def spec(retention_ms: int) -> TopicSpec:
        return TopicSpec(
            partitions=settings.jobs_topic_partitions,
            replication_factor=settings.topic_replication_factor,
            config={RETENTION_MS: str(retention_ms)},
        )

    return {
        name: spec(
            settings.dead_letter_retention_ms if name == dead_letters else settings.jobs_topic_retention_ms
        )
        for name in all_topics(jobs, settings.retry_tiers_s, settings.delay_tiers_s)
    }
