"""The executor's dedup table in Redis, one entry per idempotency key:

- ``lease``: a worker is running the job (``SET NX PX``, ``dedup_lease_s``). The worker renews it while the
  job's batch is in hand (lease_keeper.py); it expires soon after the worker dies, so a crashed worker's
  jobs run again within about ``dedup_lease_s``;
- ``sent``: the channel delivered it, the EventLog row may not be committed yet (keeps the outputs, so a
  redelivery records the success instead of sending again);
- ``done``: the success row committed; kept ``dedup_ttl_s``.

A lease is released (deleted, only if still ours) when an attempt fails, so the retry can take it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis

from shared import json_text
from shared.constants import DEDUP_KEY_PREFIX
from shared.redis_client import load_script

# Each operation is one script over all the batch's keys (the dedup_*.lua files here): one round trip
# and one command, where a pipeline would cost a command per key. The keys of one call must live on one
# node (plain Redis or Sentinel; on Redis Cluster give the keys a hash tag).


class Marker(StrEnum):
    """The state of a key's entry (see the module docstring)."""

    LEASE = "lease"
    SENT = "sent"
    DONE = "done"


@dataclass(frozen=True)
class Entry:
    state: Marker
    job_id: str
    worker: str = ""
    outputs: dict[str, Any] | None = None

    def dumps(self) -> str:
        payload: dict[str, Any] = {"state": self.state, "job_id": self.job_id}
        if self.worker:
            payload["worker"] = self.worker
        if self.outputs is not None:
            payload["outputs"] = self.outputs
        return json_text.dumps(payload)

    @classmethod
    def loads(cls, raw: bytes) -> Entry:
        p = json.loads(raw)
        return cls(Marker(p["state"]), p["job_id"], p.get("worker", ""), p.get("outputs"))


class DedupTable:
    def __init__(self, client: redis.Redis, *, worker: str, lease_s: float, ttl_s: int) -> None:
        self._worker = worker
        self._lease_ms = max(1, int(lease_s * 1000))
        self._ttl_s = ttl_s
        self._claim = load_script(client, __package__, "dedup_claim.lua")
        self._set_all_script = load_script(client, __package__, "dedup_set_all.lua")
        self._release = load_script(client, __package__, "dedup_release.lua")
        self._renew = load_script(client, __package__, "dedup_renew.lua")

    @property
    def lease_s(self) -> float:
        return self._lease_ms / 1000

    def _lease(self) -> str:
        return Entry(Marker.LEASE, "", self._worker).dumps()

    def claim(self, keys: Iterable[str]) -> dict[str, Entry | None]:
        """Take a lease on each key (one round trip).

        Returns key -> None when the lease is ours (taken now, or held by this worker already), else
        the entry that holds the key (another worker's lease, or a sent/done marker).
        """
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        held = self._claim(keys=[DEDUP_KEY_PREFIX + k for k in keys], args=[self._lease(), self._lease_ms])
        result: dict[str, Entry | None] = {}
        for key, raw in zip(keys, held, strict=True):
            if not raw:
                result[key] = None
            elif raw == b"?":  # vanished between SET and GET: someone just released it; claim next batch
                result[key] = Entry(Marker.LEASE, "", "someone")
            else:
                result[key] = Entry.loads(raw)
        return result

    def mark_sent_many(self, sent: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
        """Record deliveries right after they happened (before their EventLog rows commit): (key, job id,
        outputs) each, in one round trip."""
        self._set_all(
            {key: Entry(Marker.SENT, job_id, outputs=outputs).dumps() for key, job_id, outputs in sent}
        )

    def mark_done(self, jobs: Mapping[str, str]) -> None:
        """Mark each key done by its job id (one round trip)."""
        self._set_all({key: Entry(Marker.DONE, job_id).dumps() for key, job_id in jobs.items()})

    def _set_all(self, values: Mapping[str, str]) -> None:
        if values:
            keys = [DEDUP_KEY_PREFIX + k for k in values]
            self._set_all_script(keys=keys, args=[*values.values(), self._ttl_s])

    def release(self, keys: Iterable[str]) -> None:
        """Drop our leases on these keys so a later attempt can take them (others' entries stay);
        one round trip."""
        keys = list(dict.fromkeys(keys))
        if keys:
            self._release(keys=[DEDUP_KEY_PREFIX + k for k in keys], args=[self._lease()])

    def renew(self, keys: Iterable[str]) -> int:
        """Extend our leases on these keys to a full ``lease_s`` again (one round trip); keys that moved
        on (sent, done, released, another worker's) are left alone. Returns how many were ours."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return 0
        return int(
            self._renew(keys=[DEDUP_KEY_PREFIX + k for k in keys], args=[self._lease(), self._lease_ms])
        )
