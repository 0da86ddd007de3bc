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
from enum import StrEnum
from json.encoder import encode_basestring_ascii

import redis

from shared import json_text
from shared.constants import IDEMPOTENCY_KEY_PREFIX
from shared.errors import IdempotencyStoreUnavailable
from shared.kafka import Delivery
from shared.redis_client import load_script

# json.dumps's own string encoder (ensure_ascii): a JSON string literal, quotes included.
_quoted = encode_basestring_ascii


class ClaimState(StrEnum):
    """A key's state in the table (stored as its value: the JSON stays as it was)."""

    PENDING = "pending"  # claimed by a call whose produce is not answered yet
    ACCEPTED = "accepted"  # the broker acknowledged the job


@dataclass(frozen=True)
class Record:
    """What the table holds for a key."""

    state: ClaimState
    job_id: str
    delivery: Delivery | None = None

    def dumps(self) -> str:
        """The stored JSON, exactly as ``json.dumps({"state", "job_id"[, "topic", "partition",
        "offset"]}, separators=(",", ":"))`` writes it (the settle script compares it byte for byte),
        formatted directly: three records per job, json.dumps took ~3 µs each."""
        head = f'{{"state":"{self.state.value}","job_id":{_quoted(self.job_id)}'
        d = self.delivery
        if d is None:
            return head + "}"
        return f'{head},"topic":{_quoted(d.topic)},"partition":{int(d.partition)},"offset":{int(d.offset)}}}'

    @classmethod
    def loads(cls, raw: bytes | str) -> Record:
        p = json.loads(raw)
        delivery = Delivery(p["topic"], p["partition"], p["offset"]) if "topic" in p else None
        return cls(ClaimState(p["state"]), p["job_id"], delivery)


class IdempotencyStore:
    def __init__(self, client: redis.Redis, *, lease_ms: int, accepted_ttl_s: int) -> None:
        self._lease_ms = lease_ms
        self._accepted_ttl_ms = accepted_ttl_s * 1000
        self._claim_many = load_script(client, __package__, "idempotency_claim_many.lua")
        self._settle_many = load_script(client, __package__, "idempotency_settle_many.lua")

    @staticmethod
    def _key(idempotency_key: str) -> str:
        return IDEMPOTENCY_KEY_PREFIX + idempotency_key

    def claim_many(self, jobs: Mapping[str, str]) -> dict[str, Record | None]:
        """Claim each key (key -> job id) with a pending lease, in one script call: key -> None when
        claimed now, else the record already there (atomic per key: the one that made the SET NX fail)."""
        if not jobs:
            return {}
        values = json_text.dumps([Record(ClaimState.PENDING, job_id).dumps() for job_id in jobs.values()])
        try:
            found = self._claim_many(keys=[self._key(k) for k in jobs], args=[values, self._lease_ms])
        except redis.RedisError as exc:
            raise IdempotencyStoreUnavailable(str(exc)) from exc
        return {k: Record.loads(v) if v else None for k, v in zip(jobs, found, strict=True)}

    def settle_many(self, outcomes: Mapping[str, tuple[str, Delivery | None]]) -> None:
        """Accept (delivery given) or release (None) many claims, key -> (job id, delivery): one call."""
        if not outcomes:
            return
        values: list[str] = []
        for job_id, delivery in outcomes.values():
            accepted = "" if delivery is None else Record(ClaimState.ACCEPTED, job_id, delivery).dumps()
            values += [Record(ClaimState.PENDING, job_id).dumps(), accepted]
        try:
            self._settle_many(
                keys=[self._key(k) for k in outcomes], args=[json_text.dumps(values), self._accepted_ttl_ms]
            )
        except redis.RedisError as exc:
            raise IdempotencyStoreUnavailable(str(exc)) from exc
