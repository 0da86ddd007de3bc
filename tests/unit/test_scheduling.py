"""The delay-topic hop rule and due-time arithmetic (pure)."""

from __future__ import annotations

import pytest

from executor_service.scheduling import due_in_s, next_hop
from shared.constants import DELAY_TIERS_S
from shared.proto.automation.v1 import automation_pb2 as pb

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
    assert next_hop(remaining, TIERS) == hop


def test_three_days_reach_the_due_time_exactly_in_about_a_dozen_hops():
    remaining, hops = 3 * 24 * 3600 + 17.25, 0
    while remaining > 0:
        _, wait = next_hop(remaining, DELAY_TIERS_S)
        remaining -= wait
        hops += 1
    assert remaining == pytest.approx(0.0) and hops <= 20


def test_each_tier_waits_its_full_length_so_release_times_only_grow():
    """Two jobs written in order to the same tier are released in that order."""
    first = next_hop(100.0, TIERS)
    second = next_hop(70.0, TIERS)
    assert first[0] == second[0] and first[1] == second[1]


def test_due_in_s():
    job = pb.AutomationJob()
    assert due_in_s(job, 1_000) == 0.0
    job.due_at.FromMilliseconds(61_000)
    assert due_in_s(job, 1_000) == 60.0
    assert due_in_s(job, 62_000) == -1.0
