"""Channel rate limits (``[rate_limits]`` in automations.toml), shared by every executor.

Each (channel, sender) pair — the SMS from-number, the e-mail From address, the webhook — has one
bucket in Redis (rate_limit.lua, GCRA), asked with one atomic script call before each send, so any
number of executors together keep to the limit: in any window of the limit's period at most
``max + burst`` sends. A job over the limit waits and never fails or uses an attempt:

- if its slot is at most ``max_wait_s`` away, the slot is reserved and the job's booking is parked in
  the batch (lanes.py) until then, while the batch's other jobs go on;
- otherwise nothing is reserved and the job (with the rest of its booking's jobs in the batch, to keep
  their order) goes through the delay tiers for as long as the bucket says, and asks again when it
  comes back; the bucket spaces those returns one interval apart.

Redis unreachable: the job is deferred by the shortest delay tier, as if throttled (never sent over a
limit that cannot be checked). A flushed or expired bucket restarts full: at most one extra burst.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import redis

from executor_service import metrics
from shared.automation_settings import RateLimit
from shared.constants import RATE_LIMIT_KEY_PREFIX
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.redis_client import load_script

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Slot:
    """A rate limiter's answer: ``reserved``: send in ``wait_s`` (0: now); else come back in ``wait_s``."""

    wait_s: float
    reserved: bool


GO = Slot(0.0, True)


class RateLimiter:
    def __init__(
        self,
        client: redis.Redis,
        limits: Mapping[str, RateLimit],
        senders: Mapping[str, str],
        *,
        max_wait_s: float,
        outage_wait_s: float,
    ) -> None:
        """``limits``: channel -> limit; ``senders``: channel -> who it sends as (one bucket each)."""
        self._limits = dict(limits)
        self._keys = {channel: _bucket_key(channel, senders.get(channel, "")) for channel in limits}
        self._max_wait_ms = int(max_wait_s * 1000)
        self._outage_wait_s = outage_wait_s
        self._script = load_script(client, __package__, "rate_limit.lua")

    def acquire(self, channel: str) -> Slot:
        """Take a send slot on ``channel`` (one Redis round trip; none for an unlimited channel)."""
        limit = self._limits.get(channel)
        if limit is None:
            return GO
        try:
            wait_ms, reserved = self._script(
                keys=[self._keys[channel]], args=[limit.interval_s * 1000, limit.burst, self._max_wait_ms]
            )
        except redis.RedisError as exc:
            log.warning("rate limit unavailable; job deferred", extra={"channel": channel, "error": str(exc)})
            slot = Slot(self._outage_wait_s, False)
        else:
            slot = Slot(int(wait_ms) / 1000, bool(reserved))
        if slot.wait_s > 0:
            metrics.THROTTLED_JOBS.labels(channel, "waited" if slot.reserved else "deferred").inc()
            metrics.THROTTLED_SECONDS.labels(channel).inc(slot.wait_s)
            metrics.THROTTLE_WAIT.labels(channel).observe(slot.wait_s)
        return slot


class Throttle:
    """The batch's gate before a send: which channel a job goes out on, and whether it may go now."""

    def __init__(self, limiter: RateLimiter | None, channel_of: Callable[[pb.AutomationJob], str]) -> None:
        self._limiter = limiter
        self._channel_of = channel_of

    def before_send(self, job: pb.AutomationJob) -> Slot:
        return GO if self._limiter is None else self._limiter.acquire(self._channel_of(job))


def _bucket_key(channel: str, sender: str) -> str:
    """The bucket's Redis key; the sender (a phone number, an address) only as a digest."""
    digest = hashlib.sha256(sender.encode()).hexdigest()[:16]
    return f"{RATE_LIMIT_KEY_PREFIX}{channel}:{digest}"
