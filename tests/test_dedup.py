"""executor_service.dedup.DedupTable against a real Redis."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from executor_service.dedup import DedupTable
from shared.constants import DEDUP_KEY_PREFIX

TTL_S = 600


@pytest.fixture
def client(redis_db_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_db_url) as c:
        yield c


@pytest.fixture
def table(client: redis.Redis) -> DedupTable:
    return DedupTable(client, ttl_s=TTL_S)


def test_unknown_keys_are_not_done(table: DedupTable) -> None:
    assert table.done_keys(["k1", "k2", "k3"]) == set()


def test_mark_done_then_done_keys_returns_exactly_those(table: DedupTable, client: redis.Redis) -> None:
    table.mark_done({"k1": "job-1", "k2": "job-2"})
    assert table.done_keys(["k1", "k2", "k3"]) == {"k1", "k2"}
    assert table.done_keys(["k3"]) == set()
    assert client.get(DEDUP_KEY_PREFIX + "k1") == b"job-1"
    assert client.get(DEDUP_KEY_PREFIX + "k2") == b"job-2"
    assert client.exists(DEDUP_KEY_PREFIX + "k3") == 0


def test_marks_expire_after_ttl_s(table: DedupTable, client: redis.Redis) -> None:
    table.mark_done({"k1": "job-1", "k2": "job-2"})
    for key in ("k1", "k2"):
        assert TTL_S - 5 <= client.ttl(DEDUP_KEY_PREFIX + key) <= TTL_S


def test_marking_again_overwrites_and_refreshes(client: redis.Redis) -> None:
    DedupTable(client, ttl_s=5).mark_done({"k1": "job-1"})
    DedupTable(client, ttl_s=TTL_S).mark_done({"k1": "job-9"})
    assert client.get(DEDUP_KEY_PREFIX + "k1") == b"job-9"
    assert client.ttl(DEDUP_KEY_PREFIX + "k1") > 5


def test_duplicate_keys_in_input_are_fine(table: DedupTable) -> None:
    table.mark_done({"k1": "job-1"})
    assert table.done_keys(["k1", "k1", "k2", "k1", "k2"]) == {"k1"}


def test_done_keys_accepts_any_iterable(table: DedupTable) -> None:
    table.mark_done({"k1": "job-1", "k3": "job-3"})
    assert table.done_keys(k for k in ["k1", "k2", "k3"]) == {"k1", "k3"}


def test_keys_are_namespaced(table: DedupTable, client: redis.Redis) -> None:
    client.set("k1", "not a dedup mark")
    assert table.done_keys(["k1"]) == set()


@pytest.fixture
def unreachable_table() -> Iterator[DedupTable]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = redis.Redis(
        host="127.0.0.1",
        port=port,
        socket_timeout=0.2,
        socket_connect_timeout=0.2,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        yield DedupTable(client, ttl_s=TTL_S)
    finally:
        client.close()


def test_empty_input_makes_no_round_trip(unreachable_table: DedupTable) -> None:
    assert unreachable_table.done_keys([]) == set()
    assert unreachable_table.done_keys(iter(())) == set()
    assert unreachable_table.mark_done({}) is None
    # ...whereas anything else needs the server, which is not there.
    with pytest.raises(redis.ConnectionError):
        unreachable_table.done_keys(["k1"])
    with pytest.raises(redis.ConnectionError):
        unreachable_table.mark_done({"k1": "job-1"})
