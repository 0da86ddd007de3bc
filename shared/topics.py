"""Topic names derived from the jobs topic: retry tiers and the dead-letter topic."""

from __future__ import annotations

from collections.abc import Sequence

from shared.constants import DEAD_LETTER_SUFFIX, DELAY_SUFFIX, RETRY_SUFFIX


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
