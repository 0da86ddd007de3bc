"""LeaseKeeper against a real Redis: a live worker's leases never lapse while its batch is in hand
(however long it takes), and they lapse within one lease length once it stops renewing (it died)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from executor_service.dedup import DedupTable
from executor_service.lease_keeper import LeaseKeeper
from shared.constants import DEDUP_KEY_PREFIX

LEASE_S = 0.6  # renewed every 0.2 s


@pytest.fixture
def client(redis_db_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_db_url) as c:
        yield c


def worker(client: redis.Redis, name: str) -> DedupTable:
    return DedupTable(client, worker=name, lease_s=LEASE_S, ttl_s=600)


def free_keys(other: DedupTable, keys: list[str]) -> list[str]:
    """Keys ``other`` could take now (its claim wins them: only call when the test is failing anyway)."""
    return [k for k, holder in other.claim(keys).items() if holder is None]


def test_leases_outlive_a_batch_many_times_longer_than_the_lease(client):
    keys = [f"k{i}" for i in range(200)]
    mine, other = worker(client, "alive"), worker(client, "other")
    keeper = LeaseKeeper(mine)
    assert keeper.interval_s == pytest.approx(LEASE_S / 3)
    try:
        assert set(mine.claim(keys).values()) == {None}
        keeper.add(keys)
        deadline = time.monotonic() + 5 * LEASE_S  # a batch five lease lengths long
        while time.monotonic() < deadline:
            assert min(client.pttl(DEDUP_KEY_PREFIX + k) for k in keys) > 0
            time.sleep(0.05)
        assert free_keys(other, keys) == [], "a live worker's lease was lost to expiry"
        assert keeper.renewals >= 10 and keeper.failures == 0
    finally:
        keeper.close()


def test_leases_lapse_within_a_lease_length_once_renewals_stop(client):
    keys = ["a", "b", "c"]
    mine, other = worker(client, "dying"), worker(client, "survivor")
    keeper = LeaseKeeper(mine)
    mine.claim(keys)
    keeper.add(keys)
    time.sleep(2 * LEASE_S)
    keeper.close()  # the worker died: nobody renews
    stopped = time.monotonic()
    while free_keys(other, ["a"]) != ["a"]:
        assert time.monotonic() - stopped < LEASE_S + 0.5, "the dead worker's lease outlived its length"
        time.sleep(0.02)
    assert sorted(free_keys(other, keys)) == keys  # "a" is already the survivor's


def test_dropped_keys_are_no_longer_renewed_and_markers_are_left_alone(client):
    mine = worker(client, "w1")
    keeper = LeaseKeeper(mine)
    try:
        mine.claim(["done", "released", "next"])
        first = keeper.add(["done", "released"])
        mine.mark_done({"done": "job-1"})
        mine.release(["released"])
        time.sleep(2 * keeper.interval_s)
        assert client.get(DEDUP_KEY_PREFIX + "released") is None, "a released lease came back"
        assert client.ttl(DEDUP_KEY_PREFIX + "done") > 500, "the done marker kept its TTL"
        keeper.drop(first)
        keeper.drop(keeper.add(["next"]))  # the next batch, ended
        time.sleep(LEASE_S + 0.3)
        assert client.get(DEDUP_KEY_PREFIX + "next") is None, "a dropped key was still renewed"
        assert keeper.held == ()
    finally:
        keeper.close()


def test_two_batches_in_hand_are_renewed_and_dropped_each_on_its_own(client):
    """The pipelined loop holds two batches at once: the one being made durable and the next one."""
    mine = worker(client, "w1")
    keeper = LeaseKeeper(mine)
    try:
        mine.claim(["durable-soon", "shared", "next"])
        first = keeper.add(["durable-soon", "shared"])
        keeper.add(["next", "shared"])
        keeper.drop(first)  # the first batch is marked done; the next one is still running
        assert set(keeper.held) == {"next", "shared"}
        time.sleep(LEASE_S + 0.3)
        assert client.get(DEDUP_KEY_PREFIX + "durable-soon") is None, "a dropped batch's key was renewed"
        assert client.pttl(DEDUP_KEY_PREFIX + "next") > 0, "the batch still in hand lost its lease"
        assert client.pttl(DEDUP_KEY_PREFIX + "shared") > 0, "a key the other batch holds lost its lease"
    finally:
        keeper.close()
