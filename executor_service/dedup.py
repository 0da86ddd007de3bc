"""The executor's dedup table in Redis: idempotency key -> done marker, kept ``dedup_ttl_s``.

A key is marked done only after the EventLog row of its successful run committed, so a
redelivered job whose key is marked is skipped instead of sent again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import redis

from shared.constants import DEDUP_KEY_PREFIX


class DedupTable:
    def __init__(self, client: redis.Redis, *, ttl_s: int) -> None:
        self._redis = client
        self._ttl_s = ttl_s

    def done_keys(self, idempotency_keys: Iterable[str]) -> set[str]:
        """The subset of keys already marked done (one round trip)."""
        keys = list(dict.fromkeys(idempotency_keys))
        if not keys:
            return set()
        values = self._redis.mget([DEDUP_KEY_PREFIX + k for k in keys])
        return {k for k, v in zip(keys, values, strict=True) if v is not None}

    def mark_done(self, jobs: Mapping[str, str]) -> None:
        """Mark each idempotency key done by its job id (one pipelined round trip)."""
        if not jobs:
            return
        pipe = self._redis.pipeline(transaction=False)
        for key, job_id in jobs.items():
            pipe.set(DEDUP_KEY_PREFIX + key, job_id, ex=self._ttl_s)
        pipe.execute()
