"""Where a job goes next (pure): the retry-or-dead-letter decision, the delay-topic hop rule, due times."""

from __future__ import annotations

import pytest

from executor_service.failures import Failure
from executor_service.onward import Hop, Route, after_failure, due_in_s, next_delay_hop, pick_tier
from shared.constants import DELAY_TIERS_S, RETRY_TIERS_S
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.retry import RetryPolicy

TIERS = (1, 4, 16, 64)


@pytest.mark.parametrize(
    ("remaining", "hop"),
    [
        (100, (64, 64.0)),
        (64, (64, 64.0)),
        (63.9, (16, 16.0)),
        (4, (4, 4.0)),
        (1.5, (1, 1.0)),
        (0.4, (1, 0.4)),
        (0.0, (1, 0.0)),
        (-3, (1, 0.0)),
    ],
)
def test_next_hop_takes_the_longest_tier_that_fits(remaining, hop):
    tier, wait_s = hop
    assert next_delay_hop(remaining, 10_000, TIERS) == Hop(Route.DELAY, tier, 10_000 + int(wait_s * 1000))


def _wait_s(remaining: float, tiers=TIERS) -> float:
    return next_delay_hop(remaining, 0, tiers).due_at_ms / 1000


def test_three_days_reach_the_due_time_exactly_in_about_a_dozen_hops():
    remaining, hops = 3 * 24 * 3600 + 17.25, 0
    while remaining > 0:
        remaining -= _wait_s(remaining, DELAY_TIERS_S)
        hops += 1
    assert remaining == pytest.approx(0.0, abs=1e-3) and hops <= 20


def test_each_tier_waits_its_full_length_so_release_times_only_grow():
    """Two jobs written in order to the same tier are released in that order."""
    first = next_delay_hop(100.0, 0, TIERS)
    second = next_delay_hop(70.0, 0, TIERS)
    assert first == second


def test_due_in_s():
    job = pb.AutomationJob()
    assert due_in_s(job, 1_000) == 0.0
    job.due_at.FromMilliseconds(61_000)
    assert due_in_s(job, 1_000) == 60.0
    assert due_in_s(job, 62_000) == -1.0


@pytest.mark.parametrize(
    ("delay", "tier"),
    [(0.5, 2), (2.0, 2), (2.19, 2), (4.3, 4), (7.99, 4), (8.0, 8), (300, 256), (10_000, 256)],
)
def test_pick_tier_takes_the_longest_tier_not_longer_than_the_wait(delay, tier):
    assert pick_tier(delay, RETRY_TIERS_S) == tier


POLICY = RetryPolicy(max_attempts=3, base_s=2.0, factor=2.0, jitter_ratio=0.1)
TRANSIENT = Failure("http_5xx", True, "HTTP 503")


@pytest.mark.parametrize(("attempt", "delay_s", "tier"), [(1, 2.2, 2), (2, 4.4, 4)])
def test_a_transient_failure_with_attempts_left_is_retried_on_the_tier_of_its_backoff(attempt, delay_s, tier):
    hop = after_failure(attempt, TRANSIENT, POLICY, 50_000, RETRY_TIERS_S, draw=1.0)
    assert hop == Hop(Route.RETRY, tier, 50_000 + int(delay_s * 1000))
    assert hop.status == "retry_scheduled"


@pytest.mark.parametrize(
    ("attempt", "failure"),
    [(3, TRANSIENT), (1, Failure("http_4xx", False, "HTTP 400")), (1, Failure("template", False, "x"))],
)
def test_permanent_or_exhausted_failures_are_dead_lettered(attempt, failure):
    hop = after_failure(attempt, failure, POLICY, 50_000, RETRY_TIERS_S, draw=0.0)
    assert hop == Hop(Route.DEAD_LETTER) and hop.status == "dead_lettered"
