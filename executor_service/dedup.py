"""The executor's dedup table in Redis, one entry per idempotency key:

- ``lease``: a worker is running the job (``SET NX PX``; expires, so a crashed worker's jobs run again);
- ``sent``: the channel delivered it, the EventLog row may not be committed yet (keeps the outputs, so a
  redelivery records the success instead of sending again);
- ``done``: the success row committed; kept ``dedup_ttl_s``.

A lease is released (deleted, only if still ours) when an attempt fails, so the retry can take it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from shared.constants import DEDUP_KEY_PREFIX

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Entry:
    state: str  # "lease" | "sent" | "done"
    job_id: str
    worker: str = ""
    outputs: dict[str, Any] | None = None

    def dumps(self) -> str:
        payload: dict[str, Any] = {"state": self.state, "job_id": self.job_id}
        if self.worker:
            payload["worker"] = self.worker
        if self.outputs is not None:
            payload["outputs"] = self.outputs
        return json.dumps(payload, separators=(",", ":"))

    @classmethod
    def loads(cls, raw: bytes) -> Entry:
        try:
            p = json.loads(raw)
            return cls(p["state"], p["job_id"], p.get("worker", ""), p.get("outputs"))
        except (ValueError, KeyError, TypeError):
            return cls("done", raw.decode(errors="replace"))  # an older plain marker: treat as done


class DedupTable:
    def __init__(self, client: redis.Redis, *, worker: str, lease_s: float, ttl_s: int) -> None:
        self._redis = client
        self._worker = worker
        self._lease_ms = max(1, int(lease_s * 1000))
        self._ttl_s = ttl_s
        self._release = client.register_script(_RELEASE)

    def _lease(self) -> str:
        return Entry("lease", "", self._worker).dumps()

    def claim(self, keys: Iterable[str]) -> dict[str, Entry | None]:
        """Take a lease on each key, in two pipelined round trips.

        Returns key -> None when the lease is ours (taken now, or held by this worker already), else
        the entry that holds the key (another worker's lease, or a sent/done marker).
        """
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            pipe.set(DEDUP_KEY_PREFIX + key, self._lease(), nx=True, px=self._lease_ms)
        taken = pipe.execute()
        held = [key for key, ok in zip(keys, taken, strict=True) if not ok]
        values = self._redis.mget([DEDUP_KEY_PREFIX + k for k in held]) if held else []
        result: dict[str, Entry | None] = {key: None for key, ok in zip(keys, taken, strict=True) if ok}
        for key, raw in zip(held, values, strict=True):
            entry = Entry.loads(raw) if raw is not None else None  # vanished meanwhile: claim next batch
            if entry is None:
                result[key] = Entry("lease", "", "someone")
            elif entry.state == "lease" and entry.worker == self._worker:
                result[key] = None
            else:
                result[key] = entry
        return result

    def mark_sent(self, key: str, job_id: str, outputs: dict[str, Any]) -> None:
        """Record a delivery right after it happened (before the EventLog row commits)."""
        self._redis.set(
            DEDUP_KEY_PREFIX + key, Entry("sent", job_id, outputs=outputs).dumps(), ex=self._ttl_s
        )

    def mark_done(self, jobs: Mapping[str, str]) -> None:
        """Mark each key done by its job id (one pipelined round trip)."""
        if not jobs:
            return
        pipe = self._redis.pipeline(transaction=False)
        for key, job_id in jobs.items():
            pipe.set(DEDUP_KEY_PREFIX + key, Entry("done", job_id).dumps(), ex=self._ttl_s)
        pipe.execute()

    def release(self, keys: Iterable[str]) -> None:
        """Drop our leases on these keys so a later attempt can take them (others' entries stay)."""
        for key in dict.fromkeys(keys):
            self._release(keys=[DEDUP_KEY_PREFIX + key], args=[self._lease()])

    def done_keys(self, keys: Iterable[str]) -> set[str]:
        """Keys whose entry is a sent or done marker (for tests and tools)."""
        keys = list(dict.fromkeys(keys))
        values = self._redis.mget([DEDUP_KEY_PREFIX + k for k in keys]) if keys else []
        return {
            k for k, v in zip(keys, values, strict=True) if v is not None and Entry.loads(v).state != "lease"
        }
