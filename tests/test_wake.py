"""The trigger's wake-up call (shared/doorbell.py) on real Redis, Kafka and gRPC: a quiet executor takes a
job at once when the trigger rings, the bell rings at most once per interval and never fails a call, and
the executor's listener comes back after its connection is killed."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import redis

from devtools.embedded import free_port
from executor_service import app, parking
from shared.doorbell import Doorbell, DoorbellListener, wake_channel
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.redis_client import make_redis
from tests.support.jobs import make_job, produce_jobs
from tests.support.pipeline import running_executor, running_trigger, wait_rows, wait_until
from tests.support.sample import sample_request

LONG_PARK_S = 30.0  # an idle jobs partition is parked this long here (the default is 0.1 s)


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_parked_executor_takes_a_job_at_once_when_the_trigger_rings_and_only_then(
    settings, http_receiver, monkeypatch
):
    """With parks of 30 s, a job produced straight to the topic (nobody rings) waits; a job enqueued
    through the trigger rings, and the executor resumes its parked jobs partitions: both are delivered."""
    monkeypatch.setattr(app, "IDLE_JOBS_PARK_S", LONG_PARK_S)
    http_receiver.respond_with([200])
    jobs_partitions = {(settings.jobs_topic, p) for p in range(3)}
    with running_trigger(settings) as (stub, _), running_executor(settings) as loop:

        def parked() -> bool:
            return jobs_partitions <= loop.paused

        wait_until(parked, timeout_s=10, interval_s=0.01, what="the jobs topic parked")
        produce_jobs(settings, [make_job()])  # parked for >= 30 s from now: not taken without a ring
        time.sleep(1.5)
        assert http_receiver.requests == [], "a job nobody rang for waits for the park's end"
        request = sample_request(f"b-{uuid.uuid4().hex[:10]}", pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION)
        answered = time.monotonic()
        stub.EnqueueAutomation(request, timeout=10)
        http_receiver.wait_for(2, timeout_s=10)
        took_s = time.monotonic() - answered
    assert took_s < 3.0, f"both delivered {took_s:.2f} s after the call, not at the park's end (>= 28 s)"


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_ring_keeps_a_parked_executor_awake_for_a_job_that_comes_without_one(
    settings, http_receiver, monkeypatch
):
    """The trigger rings at most every 50 ms; with several executors the ring may be for a job another one
    takes, and the next job, not rung for, comes here. Here: a ring with no job behind it, then, 1.5 s
    later, a job produced straight to the topic (nobody rings): it is taken at once, not at the end of a
    30 s park. (The quiet spell before a park is 4 s here: after a resume librdkafka reports a partition's
    end again within ~1 s, and a park taken then must be over by the time the job comes.)"""
    monkeypatch.setattr(app, "IDLE_JOBS_PARK_S", LONG_PARK_S)
    monkeypatch.setattr(parking, "IDLE_AFTER_S", 4.0)
    http_receiver.respond_with([200])
    jobs_partitions = {(settings.jobs_topic, p) for p in range(3)}
    client = make_redis(settings.redis_url.get_secret_value(), timeout_s=2.0)
    bell = Doorbell(client, wake_channel(settings.jobs_topic), interval_s=0.0)
    try:
        with running_executor(settings) as loop:
            wait_until(lambda: jobs_partitions <= loop.paused, 15, 0.01, "the jobs topic parked")
            bell.ring()
            wait_until(lambda: not jobs_partitions & loop.paused, 5, 0.005, "the parks ended by the ring")
            time.sleep(1.5)  # without the rule: parked again by now, for 30 s
            assert not jobs_partitions & loop.paused, "parked again within 1.5 s of a ring"
            produced = time.monotonic()
            produce_jobs(settings, [make_job()])
            http_receiver.wait_for(1, timeout_s=10)
            took_s = time.monotonic() - produced
    finally:
        client.close()
    assert took_s < 1.5, f"delivered {took_s:.2f} s after it was produced: the executor had parked again"


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_replayed_dead_letter_rings_too(settings, http_receiver, monkeypatch):
    """ReplayDeadLetters produces to the jobs topic as an enqueue does, so it rings as well: with parks of
    30 s, the replayed job is delivered at once, not at the park's end."""
    monkeypatch.setattr(app, "IDLE_JOBS_PARK_S", LONG_PARK_S)
    http_receiver.respond_with([400, 200])  # the first send is refused for good: a dead letter
    jobs_partitions = {(settings.jobs_topic, p) for p in range(3)}
    request = sample_request(f"b-{uuid.uuid4().hex[:10]}", pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION)
    with running_trigger(settings) as (stub, _), running_executor(settings) as loop:
        stub.EnqueueAutomation(request, timeout=10)
        wait_rows(settings.sqlalchemy_url, 1, status="dead_lettered")
        wait_until(lambda: jobs_partitions <= loop.paused, 15, 0.01, "the jobs topic parked again")
        answered = time.monotonic()
        replayed = stub.ReplayDeadLetters(pb.ReplayDeadLettersRequest(), timeout=30)
        http_receiver.wait_for(2, timeout_s=10)
        took_s = time.monotonic() - answered
    assert len(replayed.replayed) == 1
    assert [r.status for r in http_receiver.requests] == [400, 200]
    assert took_s < 3.0, f"the replay delivered {took_s:.2f} s after the call, not at once"


def _heard(pubsub: redis.client.PubSub, within_s: float) -> int:
    count, deadline = 0, time.monotonic() + within_s
    while (left := deadline - time.monotonic()) > 0:
        if pubsub.get_message(timeout=left) is not None:
            count += 1
    return count


def test_the_bell_rings_at_most_once_per_interval_and_a_down_redis_fails_nothing(redis_db_url):
    client = make_redis(redis_db_url, timeout_s=1.0)
    channel = wake_channel(f"jobs-{uuid.uuid4().hex}")
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    try:
        bell = Doorbell(client, channel, interval_s=0.5)
        for _ in range(5):
            bell.ring()
        assert _heard(pubsub, 0.3) == 1, "five rings within the interval: one message"
        time.sleep(0.3)
        bell.ring()
        assert _heard(pubsub, 0.3) == 1, "the interval over: the next ring goes out"
    finally:
        pubsub.close()
        client.close()
    down = Doorbell(make_redis(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.2), channel)
    down.ring()  # nothing raised: a lost ring costs latency, never a call


def test_the_listener_hears_rings_again_after_its_connection_is_killed(redis_db_url):
    name = f"wake-{uuid.uuid4().hex[:12]}"
    listening = redis.Redis.from_url(redis_db_url, client_name=name, socket_timeout=2.0)
    admin = make_redis(redis_db_url, timeout_s=2.0)
    channel = wake_channel(f"jobs-{uuid.uuid4().hex}")
    wake = threading.Event()
    listener = DoorbellListener(listening, channel, wake)
    bell = Doorbell(admin, channel, interval_s=0.0)

    def rung() -> bool:
        bell.ring()
        return wake.wait(0.2)

    def connection_id() -> int | None:
        ids = [c["id"] for c in admin.client_list(_type="pubsub") if c.get("name") == name]
        return int(ids[0]) if ids else None

    listener.start()
    try:
        wait_until(rung, timeout_s=10, interval_s=0.0, what="the first ring heard")
        first = connection_id()
        assert first is not None
        admin.client_kill_filter(_id=first)
        wake.clear()
        wait_until(rung, timeout_s=10, interval_s=0.0, what="a ring heard after the kill")
        again = connection_id()
        assert again is not None and again != first, "heard on a new connection"
    finally:
        listener.stop()
        listening.close()
        admin.close()
