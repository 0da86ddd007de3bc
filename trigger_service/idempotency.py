"""The trigger's idempotency table in Redis: idempotency key -> the job accepted for it.

A call first *claims* the key with a pending lease (``SET NX PX``). When the broker
acknowledges the job the claim becomes an accepted record (kept ``idempotency_ttl_s``);
when the write fails the claim is deleted, so a failed produce never burns the key.
The lease outlives the producer's delivery timeout, so a claim left by a crashed
trigger frees itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import redis

from shared.constants import IDEMPOTENCY_KEY_PREFIX
from shared.errors import IdempotencyStoreUnavailable
from shared.kafka import Delivery

# Compare-and-set on the claim we hold: KEYS[1]=key, ARGV[1]=our pending value,
# ARGV[2]=new value ('' deletes), ARGV[3]=ttl ms.
_RESOLVE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1
"""

# The same for many keys at once: KEYS=keys; ARGV[2i-1]=pending value, ARGV[2i]=new value ('' deletes);
# ARGV[last]=ttl ms. One script call, not a pipeline of per-key calls.
_RESOLVE_MANY = """
local ttl = ARGV[#ARGV]
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[2 * i - 1] then
    local new = ARGV[2 * i]
    if new == '' then redis.call('DEL', key) else redis.call('SET', key, new, 'PX', ttl) end
  end
end
return #KEYS
"""

# KEYS=keys; ARGV[i]=our pending value for KEYS[i]; ARGV[last]=lease ms. Per key: '' when claimed now,
# else the value already there.
_CLAIM_MANY = """
local lease = ARGV[#ARGV]
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[i], 'NX', 'PX', lease) then
    out[i] = ''
  else
    out[i] = redis.call('GET', key)
  end
end
return out
"""


@dataclass(frozen=True)
class Record:
    """What the table holds for a key."""

    state: str  # "pending" | "accepted"
    job_id: str
    delivery: Delivery | None = None

    def dumps(self) -> str:
        d = self.delivery
        payload = {"state": self.state, "job_id": self.job_id}
        if d is not None:
            payload.update(topic=d.topic, partition=d.partition, offset=d.offset)
        return json.dumps(payload, separators=(",", ":"))

    @classmethod
    def loads(cls, raw: bytes) -> Record:
        p = json.loads(raw)
        delivery = Delivery(p["topic"], p["partition"], p["offset"]) if "topic" in p else None
        return cls(p["state"], p["job_id"], delivery)


class IdempotencyStore:
    def __init__(self, client: redis.Redis, *, lease_ms: int, accepted_ttl_s: int) -> None:
        self._redis = client
        self._lease_ms = lease_ms
        self._accepted_ttl_ms = accepted_ttl_s * 1000
        self._resolve = client.register_script(_RESOLVE)
        self._resolve_many = client.register_script(_RESOLVE_MANY)
        self._claim_many = client.register_script(_CLAIM_MANY)

    @staticmethod
    def _key(idempotency_key: str) -> str:
        return IDEMPOTENCY_KEY_PREFIX + idempotency_key

    def claim(self, idempotency_key: str, job_id: str) -> Record | None:
        """Claim the key for ``job_id``; None when claimed, else the record already there."""
        pending = Record("pending", job_id).dumps()
        key = self._key(idempotency_key)
        try:
            while True:
                if self._redis.set(key, pending, nx=True, px=self._lease_ms):
                    return None
                raw = self._redis.get(key)
                if raw is not None:  # else the holder released it between SET and GET: claim again
                    return Record.loads(raw)
        except redis.RedisError as exc:
            raise IdempotencyStoreUnavailable(str(exc)) from exc

    def accept(self, idempotency_key: str, job_id: str, delivery: Delivery) -> bool:
        """Turn our claim into an accepted record; False if the claim was no longer ours."""
        accepted = Record("accepted", job_id, delivery).dumps()
        return self._cas(idempotency_key, job_id, accepted, self._accepted_ttl_ms)

    def release(self, idempotency_key: str, job_id: str) -> bool:
        """Drop our claim so the key can be used again."""
        return self._cas(idempotency_key, job_id, "", 0)

    def _cas(self, idempotency_key: str, job_id: str, new_value: str, ttl_ms: int) -> bool:
        pending = Record("pending", job_id).dumps()
        try:
            return bool(self._resolve(keys=[self._key(idempotency_key)], args=[pending, new_value, ttl_ms]))
        except redis.RedisError as exc:
            raise IdempotencyStoreUnavailable(str(exc)) from exc

    def claim_many(self, jobs: Mapping[str, str]) -> dict[str, Record | None]:
        """``claim()`` for many keys (key -> job id), in one script call (atomic per key: the value
        returned is the one that made the SET NX fail)."""
        if not jobs:
            return {}
        values = [Record("pending", job_id).dumps() for job_id in jobs.values()]
        try:
            found = self._claim_many(keys=[self._key(k) for k in jobs], args=[*values, self._lease_ms])
        except redis.RedisError as exc:
            raise IdempotencyStoreUnavailable(str(exc)) from exc
        return {k: Record.loads(v) if v else None for k, v in zip(jobs, found, strict=True)}

    def settle_many(self, outcomes: Mapping[str, tuple[str, Delivery | None]]) -> None:
        """Accept (delivery given) or release (None) many claims, key -> (job id, delivery): one call."""
        if not outcomes:
            return
        args: list[str | int] = []
        for job_id, delivery in outcomes.values():
            accepted = "" if delivery is None else Record("accepted", job_id, delivery).dumps()
            args += [Record("pending", job_id).dumps(), accepted]
        try:
            self._resolve_many(keys=[self._key(k) for k in outcomes], args=[*args, self._accepted_ttl_ms])
        except redis.RedisError as exc:
            raise IdempotencyStoreUnavailable(str(exc)) from exc
