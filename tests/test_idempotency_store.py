"""trigger_service.idempotency.IdempotencyStore against a real Redis, through the calls enqueue makes:
``claim_many`` and ``settle_many`` (accept with a delivery, release with None)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from shared.constants import IDEMPOTENCY_KEY_PREFIX
from shared.errors import IdempotencyStoreUnavailable
from shared.kafka import Delivery
from trigger_service.idempotency import ClaimState, IdempotencyStore, Record

KEY = "bookingConfirmation:client:bk-1:1"
DELIVERY = Delivery("automation.jobs", 2, 41)
LEASE_MS = 30_000
ACCEPTED_TTL_S = 3600


@pytest.fixture
def client(redis_db_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_db_url) as c:
        yield c


@pytest.fixture
def store(client: redis.Redis) -> IdempotencyStore:
    return IdempotencyStore(client, lease_ms=LEASE_MS, accepted_ttl_s=ACCEPTED_TTL_S)


def claim(store: IdempotencyStore, job_id: str, key: str = KEY) -> Record | None:
    return store.claim_many({key: job_id})[key]


def accept(store: IdempotencyStore, job_id: str, delivery: Delivery = DELIVERY, key: str = KEY) -> None:
    store.settle_many({key: (job_id, delivery)})


def release(store: IdempotencyStore, job_id: str, key: str = KEY) -> None:
    store.settle_many({key: (job_id, None)})


def stored(client: redis.Redis, key: str = KEY) -> dict | None:
    raw = client.get(IDEMPOTENCY_KEY_PREFIX + key)
    return None if raw is None else json.loads(raw)


def test_claim_of_a_fresh_key_returns_none_and_leaves_a_pending_lease(
    store: IdempotencyStore, client: redis.Redis
) -> None:
    assert claim(store, "job-1") is None
    assert stored(client) == {"state": "pending", "job_id": "job-1"}
    assert 0 < client.pttl(IDEMPOTENCY_KEY_PREFIX + KEY) <= LEASE_MS


def test_second_claim_returns_the_pending_record_of_the_first(store: IdempotencyStore) -> None:
    assert claim(store, "job-1") is None
    assert claim(store, "job-2") == Record(ClaimState.PENDING, "job-1", None)
    assert claim(store, "job-1") == Record(ClaimState.PENDING, "job-1", None)  # even for the same job id


def test_keys_are_independent(store: IdempotencyStore) -> None:
    assert claim(store, "job-1") is None
    assert claim(store, "job-2", KEY + "-other") is None


def test_accept_turns_the_claim_into_an_accepted_record(store: IdempotencyStore, client: redis.Redis) -> None:
    assert claim(store, "job-1") is None
    accept(store, "job-1", DELIVERY)
    assert claim(store, "job-2") == Record(ClaimState.ACCEPTED, "job-1", DELIVERY)
    assert stored(client) == {
        "state": "accepted",
        "job_id": "job-1",
        "topic": "automation.jobs",
        "partition": 2,
        "offset": 41,
    }


def test_accepted_record_cannot_be_released_or_accepted_again(store: IdempotencyStore) -> None:
    assert claim(store, "job-1") is None
    accept(store, "job-1", DELIVERY)
    release(store, "job-1")
    accept(store, "job-1", Delivery("automation.jobs", 0, 7))
    assert claim(store, "job-2") == Record(ClaimState.ACCEPTED, "job-1", DELIVERY)


def test_release_frees_the_key(store: IdempotencyStore, client: redis.Redis) -> None:
    assert claim(store, "job-1") is None
    release(store, "job-1")
    assert client.exists(IDEMPOTENCY_KEY_PREFIX + KEY) == 0
    assert claim(store, "job-2") is None
    assert claim(store, "job-3") == Record(ClaimState.PENDING, "job-2", None)


def test_accept_and_release_by_another_job_change_nothing(
    store: IdempotencyStore, client: redis.Redis
) -> None:
    assert claim(store, "job-1") is None
    redis_key = IDEMPOTENCY_KEY_PREFIX + KEY
    before, ttl_before = client.get(redis_key), client.pttl(redis_key)
    accept(store, "job-2", DELIVERY)
    release(store, "job-2")
    assert client.get(redis_key) == before
    assert 0 < client.pttl(redis_key) <= ttl_before  # the lease was not renewed nor removed
    assert claim(store, "job-3") == Record(ClaimState.PENDING, "job-1", None)


def test_accept_and_release_of_an_unclaimed_key_change_nothing(
    store: IdempotencyStore, client: redis.Redis
) -> None:
    accept(store, "job-1", DELIVERY)
    release(store, "job-1")
    assert client.exists(IDEMPOTENCY_KEY_PREFIX + KEY) == 0


def test_pending_claim_expires_after_its_lease(client: redis.Redis) -> None:
    store = IdempotencyStore(client, lease_ms=200, accepted_ttl_s=ACCEPTED_TTL_S)
    started = time.monotonic()
    assert claim(store, "job-1") is None
    assert claim(store, "job-2") == Record(ClaimState.PENDING, "job-1", None)
    while (existing := claim(store, "job-2")) is not None:
        assert existing == Record(ClaimState.PENDING, "job-1", None)
        assert time.monotonic() - started < 2, "the pending lease did not expire"
        time.sleep(0.02)
    assert time.monotonic() - started >= 0.15
    assert stored(client) == {"state": "pending", "job_id": "job-2"}
    # The crashed holder can no longer resolve the claim it lost.
    accept(store, "job-1", DELIVERY)
    assert stored(client) == {"state": "pending", "job_id": "job-2"}
    release(store, "job-1")
    assert stored(client) == {"state": "pending", "job_id": "job-2"}
    accept(store, "job-2", DELIVERY)
    assert claim(store, "job-3") == Record(ClaimState.ACCEPTED, "job-2", DELIVERY)


def test_one_call_claims_and_settles_many_keys_each_on_its_own(
    store: IdempotencyStore, client: redis.Redis
) -> None:
    assert claim(store, "job-0", "taken") is None
    assert store.claim_many({"a": "job-a", "taken": "job-t", "b": "job-b"}) == {
        "a": None,
        "taken": Record(ClaimState.PENDING, "job-0", None),
        "b": None,
    }
    store.settle_many({"a": ("job-a", DELIVERY), "taken": ("job-t", DELIVERY), "b": ("job-b", None)})
    assert stored(client, "a") == {"state": "accepted", "job_id": "job-a", **_where(DELIVERY)}
    assert stored(client, "taken") == {"state": "pending", "job_id": "job-0"}, "not ours to settle"
    assert stored(client, "b") is None


def _where(delivery: Delivery) -> dict:
    return {"topic": delivery.topic, "partition": delivery.partition, "offset": delivery.offset}


def test_accepted_record_lives_accepted_ttl_s(store: IdempotencyStore, client: redis.Redis) -> None:
    assert claim(store, "job-1") is None
    accept(store, "job-1", DELIVERY)
    ttl = client.ttl(IDEMPOTENCY_KEY_PREFIX + KEY)
    assert ACCEPTED_TTL_S - 5 <= ttl <= ACCEPTED_TTL_S
    assert ttl > LEASE_MS // 1000  # longer than the lease it replaced


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def unreachable_store() -> Iterator[IdempotencyStore]:
    # No retries: redis-py's default retry policy backs off for seconds before giving up.
    client = redis.Redis(
        host="127.0.0.1",
        port=closed_port(),
        socket_timeout=0.2,
        socket_connect_timeout=0.2,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        yield IdempotencyStore(client, lease_ms=LEASE_MS, accepted_ttl_s=ACCEPTED_TTL_S)
    finally:
        client.close()


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda s: claim(s, "job-1"), id="claim"),
        pytest.param(lambda s: accept(s, "job-1"), id="accept"),
        pytest.param(lambda s: release(s, "job-1"), id="release"),
    ],
)
def test_unreachable_redis_raises_store_unavailable(unreachable_store: IdempotencyStore, call) -> None:
    started = time.monotonic()
    with pytest.raises(IdempotencyStoreUnavailable) as excinfo:
        call(unreachable_store)
    assert isinstance(excinfo.value.__cause__, redis.RedisError)
    assert time.monotonic() - started < 1
