"""compute_backoff() and should_retry() are pure: pinned draws, exact answers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.config import Settings
from shared.retry import RetryPolicy, compute_backoff, should_retry

DEFAULT = RetryPolicy()


@pytest.mark.parametrize(
    ("attempt", "expected"), [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (8, 256.0), (9, 300.0)]
)
def test_exponential_from_2s_doubling_capped(attempt, expected):
    assert compute_backoff(attempt, DEFAULT, draw=0.0) == pytest.approx(expected)


def test_jitter_only_adds_up_to_its_ratio():
    assert compute_backoff(1, DEFAULT, draw=0.999999) == pytest.approx(2.2, rel=1e-5)
    assert compute_backoff(2, DEFAULT, draw=0.5) == pytest.approx(4.2)
    for _ in range(1000):  # random draws stay within [schedule, schedule * 1.1)
        assert 8.0 <= compute_backoff(3, DEFAULT) < 8.8


def test_cap_applies_before_jitter():
    policy = RetryPolicy(base_s=10, factor=3, cap_s=60, jitter_ratio=0.5)
    assert compute_backoff(5, policy, draw=0.0) == 60.0
    assert compute_backoff(5, policy, draw=1.0) == 90.0


def test_no_jitter_is_exact():
    policy = RetryPolicy(jitter_ratio=0)
    assert [compute_backoff(a, policy) for a in (1, 2, 3)] == [2.0, 4.0, 8.0]


def test_attempt_is_one_based():
    with pytest.raises(ValueError):
        compute_backoff(0, DEFAULT)


def test_three_attempts_by_default():
    assert [should_retry(a, DEFAULT) for a in (1, 2, 3, 4)] == [True, True, False, False]
    assert not should_retry(1, RetryPolicy(max_attempts=1))


@pytest.mark.parametrize("bad", [{"max_attempts": 0}, {"base_s": 0}, {"factor": 0.5}, {"jitter_ratio": 2}])
def test_policy_rejects_nonsense(bad):
    with pytest.raises(ValidationError):
        RetryPolicy(**bad)


def test_per_type_policy_from_environment(monkeypatch):
    monkeypatch.setenv("AUTOMATION_RETRY_POLICIES", '{"paymentReminder": {"max_attempts": 5, "base_s": 1}}')
    settings = Settings()
    assert settings.policy_for("paymentReminder") == RetryPolicy(max_attempts=5, base_s=1)
    assert settings.policy_for("bookingConfirmation") == DEFAULT
