"""Retry policy: how many attempts a job gets and how long to wait before each retry (the decision that
uses it, and the tier a retry waits on, are in executor_service/onward.py).

``compute_backoff()`` is pure: the random draw is passed in, so tests pin it.
"""

from __future__ import annotations

import random

from pydantic import BaseModel, Field


class RetryPolicy(BaseModel):
    """Per automation type. Defaults: 3 attempts, 2 s, doubling."""

    model_config = {"frozen": True}

    max_attempts: int = Field(default=3, ge=1, le=20)
    base_s: float = Field(default=2.0, gt=0)
    factor: float = Field(default=2.0, ge=1)
    cap_s: float = Field(default=300.0, gt=0)
    jitter_ratio: float = Field(default=0.1, ge=0, le=1)


def compute_backoff(attempt: int, policy: RetryPolicy, draw: float | None = None) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based) before the next one.

    ``base_s * factor**(attempt-1)``, capped at ``cap_s``, then stretched by up to ``jitter_ratio``
    (``draw`` in [0, 1); random when None). Jitter only adds, so a retry is never sooner than the
    exponential schedule says.
    """
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    if draw is None:
        draw = random.random()
    delay = min(policy.cap_s, policy.base_s * policy.factor ** (attempt - 1))
    return delay * (1.0 + policy.jitter_ratio * draw)


def should_retry(attempt: int, policy: RetryPolicy) -> bool:
    """Whether a job whose attempt ``attempt`` failed retryably gets another attempt."""
    return attempt < policy.max_attempts
