"""Redis clients with bounded waits: a down Redis must surface as an error quickly, not after
redis-py's default retries (seconds per call)."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def make_redis(url: str, *, timeout_s: float) -> redis.Redis:
    """A client (no I/O until first use) that tries each command once more on a dropped connection."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), retries=1),
        health_check_interval=30,
    )
