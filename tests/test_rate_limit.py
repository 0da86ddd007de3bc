"""Channel rate limits against a real Redis: the shared GCRA bucket (rate_limit.lua) and its client,
and the lanes that park a booking waiting for its slot."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from prometheus_client import REGISTRY

from executor_service.lanes import Lanes
from executor_service.rate_limit import GO, RateLimiter, Slot
from shared.automation_settings import RateLimit
from shared.constants import RATE_LIMIT_KEY_PREFIX

SENDERS = {"sms": "+14155550100", "email": "hello@example.com"}


@pytest.fixture
def client(redis_db_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_db_url) as c:
        yield c


def limiter(client: redis.Redis, max_wait_s: float = 2.0, **limits: RateLimit) -> RateLimiter:
    return RateLimiter(client, limits, SENDERS, max_wait_s=max_wait_s, outage_wait_s=1.0)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_full_bucket_sends_a_burst_then_one_slot_per_interval(client) -> None:
    sms = limiter(client, sms=RateLimit(max=10, per_s=1.0, burst=3))
    slots = [sms.acquire("sms") for _ in range(6)]
    assert all(s.reserved for s in slots)
    assert [s.wait_s for s in slots[:3]] == [0.0, 0.0, 0.0]
    # then one slot every 100 ms, each reserved for its caller (calls a few ms apart on one Redis clock)
    for k, slot in enumerate(slots[3:], start=1):
        assert abs(slot.wait_s - 0.1 * k) < 0.03, slots


def test_unlimited_channel_goes_at_once_without_touching_redis(client) -> None:
    sms = limiter(client, sms=RateLimit(1, 1.0, 1))
    assert [sms.acquire("webhook") for _ in range(5)] == [GO] * 5
    assert client.keys("*") == []


def test_executors_share_one_bucket_and_never_exceed_it(redis_db_url: str) -> None:
    """Six limiters on six connections (six executors) in threads: the slots they are given, taken
    together, keep to max + burst in every window of one period."""
    rate, calls = RateLimit(max=20, per_s=1.0, burst=4), 15
    send_at: list[float] = []
    lock = threading.Lock()

    def executor() -> None:
        with redis.Redis.from_url(redis_db_url) as c:
            mine = limiter(c, max_wait_s=10.0, sms=rate)
            for _ in range(calls):
                slot = mine.acquire("sms")
                assert slot.reserved
                with lock:
                    send_at.append(time.time() + slot.wait_s)

    threads = [threading.Thread(target=executor) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    send_at.sort()
    assert len(send_at) == 6 * calls
    busiest = max(sum(1 for t in send_at if start <= t < start + rate.per_s) for start in send_at)
    print(f"busiest 1 s window: {busiest} sends (limit {rate.max} + burst {rate.burst})")
    assert busiest <= rate.max + rate.burst
    # steady state: after the burst, the 90 slots span at least (90 - burst - 1) intervals
    assert send_at[-1] - send_at[0] >= (len(send_at) - rate.burst - 1) * rate.interval_s - 0.02


def test_a_far_slot_is_not_reserved_and_deferred_jobs_return_spread_out(client) -> None:
    sms = limiter(client, max_wait_s=0.5, sms=RateLimit(max=1, per_s=1.0, burst=1))
    before = sample("automation_throttled_jobs_total", channel="sms", action="deferred")
    assert sms.acquire("sms") == GO
    later = [sms.acquire("sms") for _ in range(3)]
    assert not any(s.reserved for s in later)
    # nothing reserved: each comes back one interval after the previous one, from the first free slot on
    for k, slot in enumerate(later, start=1):
        assert abs(slot.wait_s - k) < 0.03, later
    assert sample("automation_throttled_jobs_total", channel="sms", action="deferred") - before == 3
    # the deferrals took no slot: the next caller still gets the slot one interval after the first send
    time.sleep(0.6)
    slot = sms.acquire("sms")
    assert slot.reserved and 0.3 < slot.wait_s <= 0.5


def test_each_sender_has_its_own_bucket_named_by_a_digest(client) -> None:
    rate = RateLimit(1, 60.0, 1)
    first = RateLimiter(client, {"sms": rate}, {"sms": "+14155550100"}, max_wait_s=1, outage_wait_s=1)
    other = RateLimiter(client, {"sms": rate}, {"sms": "+14155550199"}, max_wait_s=1, outage_wait_s=1)
    assert first.acquire("sms") == GO
    assert other.acquire("sms") == GO  # another from-number: another bucket
    assert not first.acquire("sms").reserved
    keys = sorted(k.decode() for k in client.keys("*"))
    assert len(keys) == 2 and all(k.startswith(RATE_LIMIT_KEY_PREFIX + "sms:") for k in keys)
    assert not any("555" in k for k in keys)  # no phone number in Redis keys


def test_bucket_expires_once_full_and_a_flush_restarts_it_full(client) -> None:
    sms = limiter(client, sms=RateLimit(max=2, per_s=1.0, burst=2))
    waits = [sms.acquire("sms").wait_s for _ in range(3)]
    assert waits[:2] == [0.0, 0.0] and 0.47 < waits[2] <= 0.5, waits
    (key,) = client.keys("*")
    # three sends 0.5 s apart: full again 1.5 s from now; gone 1 s after that
    assert 2000 < client.pttl(key) <= 1500 + 1000
    client.flushdb()
    assert [sms.acquire("sms").wait_s for _ in range(2)] == [0.0, 0.0]  # a flushed bucket is a full one


def test_redis_unreachable_defers_the_job_without_sending() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    with redis.Redis(port=port, socket_connect_timeout=0.5, retry=None) as dead:
        sms = RateLimiter(dead, {"sms": RateLimit(1, 1.0, 1)}, SENDERS, max_wait_s=1, outage_wait_s=4.0)
        assert sms.acquire("sms") == Slot(4.0, reserved=False)
        assert sms.acquire("email") == GO  # an unlimited channel does not need Redis


def test_lanes_run_other_groups_while_one_is_parked() -> None:
    lanes = Lanes(["a", "b", "c"])
    assert lanes.take() == "a"
    lanes.park("a", 0.3)  # "a" waits for its slot: the same worker goes on with the others
    order = [lanes.take(), lanes.take()]
    lanes.finish()
    lanes.finish()
    started = time.monotonic()
    assert lanes.take() == "a"  # only parked work left: take() waits until it is due
    assert time.monotonic() - started > 0.2
    lanes.finish()
    assert order == ["b", "c"]
    assert lanes.take() is None


def test_a_failing_worker_stops_the_others() -> None:
    lanes = Lanes(["a", "b"])
    lanes.take()
    lanes.park("a", 30.0)
    lanes.take()
    seen: list[object] = []
    waiter = threading.Thread(target=lambda: seen.append(lanes.take()))
    waiter.start()  # waits for "a"'s slot, 30 s away
    with pytest.raises(RuntimeError), lanes.worker():
        raise RuntimeError("redis down")
    waiter.join(timeout=5)
    assert not waiter.is_alive() and seen == [None]
