"""DedupTable against a real Redis: leases, sent/done markers, release, expiry, outages."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from executor_service.dedup import DedupTable, Entry
from shared.constants import DEDUP_KEY_PREFIX

TTL_S = 600
LEASE_S = 30.0


@pytest.fixture
def client(redis_db_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_db_url) as c:
        yield c


def table(client: redis.Redis, worker: str = "w1", lease_s: float = LEASE_S) -> DedupTable:
    return DedupTable(client, worker=worker, lease_s=lease_s, ttl_s=TTL_S)


def test_claim_takes_a_lease_on_fresh_keys(client):
    assert table(client).claim(["k1", "k2", "k1"]) == {"k1": None, "k2": None}
    raw = json.loads(client.get(DEDUP_KEY_PREFIX + "k1"))
    assert raw == {"state": "lease", "job_id": "", "worker": "w1"}
    assert LEASE_S * 1000 - 2000 <= client.pttl(DEDUP_KEY_PREFIX + "k1") <= LEASE_S * 1000


def test_another_workers_lease_blocks_and_our_own_does_not(client):
    table(client, "w1").claim(["k"])
    assert table(client, "w1").claim(["k"]) == {"k": None}  # e.g. a rewound message of ours
    holder = table(client, "w2").claim(["k"])["k"]
    assert holder == Entry("lease", "", "w1")


def test_a_crashed_workers_lease_expires(client):
    table(client, "w1", lease_s=0.2).claim(["k"])
    assert table(client, "w2").claim(["k"])["k"] is not None
    deadline = time.monotonic() + 2
    while table(client, "w2").claim(["k"])["k"] is not None:
        assert time.monotonic() < deadline, "lease never expired"
        time.sleep(0.05)


def test_sent_then_done_markers_are_returned_to_claimers(client):
    t = table(client)
    t.claim(["k"])
    t.mark_sent_many([("k", "job-1", {"body": "hi"})])
    assert table(client, "w2").claim(["k"])["k"] == Entry("sent", "job-1", outputs={"body": "hi"})
    t.mark_done({"k": "job-1"})
    assert table(client, "w2").claim(["k"])["k"] == Entry("done", "job-1")
    assert table(client, "w1").claim(["k"])["k"] == Entry("done", "job-1"), (
        "done is done, even for its worker"
    )
    assert TTL_S - 5 <= client.ttl(DEDUP_KEY_PREFIX + "k") <= TTL_S


def test_release_drops_only_our_lease(client):
    table(client, "w1").claim(["mine", "done"])
    table(client, "w2").claim(["theirs"])
    table(client, "w1").mark_done({"done": "job-1"})
    table(client, "w1").release(["mine", "theirs", "done", "absent"])
    assert client.get(DEDUP_KEY_PREFIX + "mine") is None
    assert json.loads(client.get(DEDUP_KEY_PREFIX + "theirs"))["worker"] == "w2"
    assert json.loads(client.get(DEDUP_KEY_PREFIX + "done"))["state"] == "done"


def test_renew_extends_only_our_leases(client):
    """A renewal never turns a sent/done marker back into a lease, nor extends another worker's lease."""
    mine = table(client, "w1", lease_s=1.0)
    mine.claim(["leased", "sent", "done"])
    table(client, "w2", lease_s=1.0).claim(["theirs"])
    mine.mark_sent_many([("sent", "job-s", {})])
    mine.mark_done({"done": "job-d"})
    ttl_before = {k: client.pttl(DEDUP_KEY_PREFIX + k) for k in ("sent", "done", "theirs")}
    long_lived = table(client, "w1", lease_s=60.0)
    assert long_lived.renew(["leased", "sent", "done", "theirs", "absent"]) == 1
    assert 59_000 <= client.pttl(DEDUP_KEY_PREFIX + "leased") <= 60_000
    assert json.loads(client.get(DEDUP_KEY_PREFIX + "sent"))["state"] == "sent"
    assert json.loads(client.get(DEDUP_KEY_PREFIX + "done"))["state"] == "done"
    for key, before in ttl_before.items():
        assert client.pttl(DEDUP_KEY_PREFIX + key) <= before, f"{key} was extended"
    assert client.get(DEDUP_KEY_PREFIX + "absent") is None, "renew never creates a lease"
    assert long_lived.renew([]) == 0


def test_keys_are_namespaced(client):
    client.set("k1", "not a dedup entry")
    assert table(client).claim(["k1"]) == {"k1": None}


@pytest.fixture
def unreachable() -> Iterator[redis.Redis]:
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
    yield client
    client.close()


def test_redis_down_is_an_error_never_not_seen(unreachable):
    with pytest.raises(redis.ConnectionError):
        table(unreachable).claim(["k"])
    assert table(unreachable).claim([]) == {}  # nothing to ask: no round trip
    table(unreachable).mark_done({})
