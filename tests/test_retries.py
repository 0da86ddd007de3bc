"""Retries through the retry tier topics, dead letters, and poison messages — on real processes."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from devtools.embedded import free_port
from shared.codec import decode_job, encode_job
from shared.constants import IDLE_AFTER_S
from shared.kafka import JobProducer, producer_config
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.topics import dead_letter_topic, delay_topic, retry_topic
from tests.support.jobs import committed_lag, make_job, produce_jobs, read_all
from tests.support.pipeline import eventlog_rows, running_executor, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.chaos,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]
TRACEPARENT = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def rows_ending_in(settings, job: pb.AutomationJob, status: str) -> list:
    """Wait for the job's EventLog rows to end in ``status``; return them all."""

    def probe():
        rows = eventlog_rows(settings.sqlalchemy_url, job_id=job.job_id)
        return rows if rows and rows[-1].status == status else None

    return wait_until(probe, timeout_s=30, what=f"a {status} row")


def test_an_idle_executor_parks_its_partitions_and_still_takes_a_job_and_releases_its_retry_on_time(
    settings, http_receiver
):
    """Lazy fetch: every tier but the shortest, read to its end, stays paused while idle, and the jobs
    topic is parked briefly; a job arriving then is taken, and its retry, written to the (briefly
    parked) shortest tier, is released neither early nor late."""
    http_receiver.respond_with([500, 200])
    longer = {retry_topic(settings.jobs_topic, t) for t in sorted(settings.retry_tiers_s)[1:]} | {
        delay_topic(settings.jobs_topic, t) for t in sorted(settings.delay_tiers_s)[1:]
    }
    with running_executor(settings) as loop:
        wait_until(lambda: longer <= {t for t, _ in loop.paused}, timeout_s=20, what="the tiers parked")
        # Quiet for over 1 s, so the jobs partitions are parked briefly too (asserted in
        # test_after_a_burst_…); the job below must still be taken.
        time.sleep(1.5)
        job = make_job()
        produce_jobs(settings, [job])
        rows = rows_ending_in(settings, job, "succeeded")
        assert longer <= {t for t, _ in loop.paused}, "a retry on the 2 s tier wakes no other tier"
    assert [(r.status, r.attempt) for r in rows] == [("retry_scheduled", 1), ("succeeded", 2)]
    sent = http_receiver.requests
    assert 2.0 <= sent[1].received_at - sent[0].received_at <= 2.0 * 1.1 + 0.5


def test_two_failures_then_success_retries_after_2s_and_4s(settings, http_receiver):
    http_receiver.respond_with([500, 503, 200])
    job = make_job()
    produce_jobs(settings, [job])
    with running_executor(settings):
        rows = rows_ending_in(settings, job, "succeeded")
    assert [(r.status, r.attempt) for r in rows] == [
        ("retry_scheduled", 1),
        ("retry_scheduled", 2),
        ("succeeded", 3),
    ]
    assert "HTTP 500" in rows[0].error and "HTTP 503" in rows[1].error and rows[2].error is None
    sent = http_receiver.requests
    assert [r.status for r in sent] == [500, 503, 200], "exactly one successful delivery"
    first_delay = sent[1].received_at - sent[0].received_at
    second_delay = sent[2].received_at - sent[1].received_at
    # never early; at most max(10 %, 500 ms) late (jitter adds up to 10 % on top of the schedule)
    assert 2.0 <= first_delay <= 2.0 * 1.1 + 0.5, first_delay
    assert 4.0 <= second_delay <= 4.0 * 1.1 + 0.5, second_delay
    assert {r.kafka_topic for r in rows[1:]} == {
        settings.jobs_topic + ".retry.2s",
        settings.jobs_topic + ".retry.4s",
    }


def test_the_main_topic_keeps_flowing_while_a_retry_waits(settings, http_receiver):
    http_receiver.respond_with([500, 200])  # the first request fails, every later one succeeds
    waiting = make_job()
    produce_jobs(settings, [waiting])
    with running_executor(settings):
        http_receiver.wait_for(1, timeout_s=20)
        others = [make_job(f"b-other-{i}") for i in range(20)] + [make_job(waiting.request.booking.id)]
        produce_jobs(settings, others)
        rows_ending_in(settings, waiting, "succeeded")
    order = [r.body["job_id"] for r in http_receiver.requests]
    retried_at = order.index(waiting.job_id, 1)
    assert set(order[1:retried_at]) == {j.job_id for j in others}, "all others went out before the retry"
    assert len(order) == 1 + len(others) + 1, "one failure, each other job once, one successful retry"


def test_always_500_dead_letters_after_three_attempts_with_headers(settings, http_receiver):
    http_receiver.respond_with([500])
    job = make_job()
    produce_jobs(settings, [job], headers=[("traceparent", TRACEPARENT)])
    with running_executor(settings):
        rows = rows_ending_in(settings, job, "dead_lettered")
        [dead] = read_all(settings.kafka_bootstrap_servers, dead_letter_topic(settings.jobs_topic), 1)
    assert [(r.status, r.attempt) for r in rows] == [
        ("retry_scheduled", 1),
        ("retry_scheduled", 2),
        ("dead_lettered", 3),
    ]
    assert len(http_receiver.requests) == 3
    headers = dict(dead.headers())
    first = rows[0]
    assert headers["original-topic"] == settings.jobs_topic.encode()
    assert headers["original-partition"] == str(first.kafka_partition).encode()
    assert headers["original-offset"] == str(first.kafka_offset).encode()
    assert headers["original-key"] == job.request.booking.id.encode() == dead.key()
    assert headers["attempts"] == b"3"
    assert headers["error-class"] == b"http_5xx"
    assert b"HTTP 500" in headers["error-message"] and len(headers["error-message"]) <= 512
    first_failure = datetime.fromisoformat(headers["first-failure-at"].decode())
    utc = [r.started_at.replace(tzinfo=UTC) for r in rows]  # SQLite hands back naive UTC
    assert utc[0] <= first_failure < utc[1], "first-failure-at is the first attempt's failure"
    assert headers["traceparent"] == TRACEPARENT
    assert decode_job(dead.value()).job_id == job.job_id


def test_http_400_dead_letters_without_retry(settings, http_receiver):
    http_receiver.respond_with([400])
    job = make_job()
    produce_jobs(settings, [job])
    with running_executor(settings):
        rows = wait_until(lambda: eventlog_rows(settings.sqlalchemy_url, job_id=job.job_id), what="a row")
        [dead] = read_all(settings.kafka_bootstrap_servers, dead_letter_topic(settings.jobs_topic), 1)
        time.sleep(1.0)  # nothing further may happen
    assert [(r.status, r.attempt) for r in eventlog_rows(settings.sqlalchemy_url, job_id=job.job_id)] == [
        ("dead_lettered", 1)
    ]
    assert len(http_receiver.requests) == 1
    headers = dict(dead.headers())
    assert (headers["attempts"], headers["error-class"]) == (b"1", b"http_4xx")
    assert rows[0].error.endswith("HTTP 400")


def test_one_poison_pill_among_1000_jobs(settings, http_receiver):
    jobs: list[pb.AutomationJob | bytes] = [make_job(f"b-{i % 50}") for i in range(999)]
    jobs.insert(500, b"\x08\xff\xff\xff garbage, not an AutomationJob")
    produce_jobs(settings, jobs)
    with running_executor(settings):
        http_receiver.wait_for(999, timeout_s=60)
        wait_until(lambda: committed_lag(settings) == 0, timeout_s=30, interval_s=0.5, what="lag 0")
        [dead] = read_all(settings.kafka_bootstrap_servers, dead_letter_topic(settings.jobs_topic), 1)
    rows = eventlog_rows(settings.sqlalchemy_url)
    assert len(rows) == 999 and {r.status for r in rows} == {"succeeded"}
    assert len({r.body["job_id"] for r in http_receiver.requests}) == 999 == len(http_receiver.requests)
    assert dead.value() == jobs[500]
    assert dict(dead.headers())["error-class"] == b"poison"


def test_failed_onward_publish_keeps_the_offset_and_loses_nothing(settings, http_receiver):
    """The retry topic cannot be written (its broker is gone): the source offset is not committed and
    the job is consumed again; once publishing works, it retries and succeeds."""
    http_receiver.respond_with([500])
    job = make_job()
    produce_jobs(settings, [job])
    dead_broker = JobProducer(producer_config(f"127.0.0.1:{free_port()}", delivery_timeout_ms=1000))
    with running_executor(settings, producer=dead_broker):
        http_receiver.wait_for(3, timeout_s=30)  # consumed again and again: never moved past
    assert eventlog_rows(settings.sqlalchemy_url, job_id=job.job_id) == [], "no row for a non-durable outcome"
    assert committed_lag(settings) == 1, "the offset was not committed past the job"

    http_receiver.respond_with([200])
    with running_executor(settings):
        rows = rows_ending_in(settings, job, "succeeded")
    assert [r.status for r in rows] == ["succeeded"]


def test_after_a_burst_every_jobs_partition_is_parked_once_quiet_and_a_new_job_is_still_taken_at_once(
    settings, http_receiver
):
    """A jobs partition read to its end while jobs still came (librdkafka says so once) is parked too
    once the loop turns quiet: an executor idling after traffic fetches it 10 times a second, not every
    ``fetch.wait.max.ms`` forever. A job arriving then is taken at the end of that park (the resume wakes
    librdkafka's fetcher, which otherwise sleeps up to ~1 s while every partition is paused)."""
    http_receiver.respond_with([200])
    jobs_partitions = {(settings.jobs_topic, p) for p in range(3)}
    producer = JobProducer(producer_config(settings.kafka_bootstrap_servers, delivery_timeout_ms=10000))

    def send(job: pb.AutomationJob) -> None:
        producer.produce(settings.jobs_topic, *encode_job(job)).result(timeout=10)

    with running_executor(settings) as loop:
        for i in range(40):  # every partition reads to its end between these, while jobs still come
            send(make_job(f"b-burst-{i}"))
            time.sleep(0.03)
        http_receiver.wait_for(40, timeout_s=20)
        time.sleep(IDLE_AFTER_S + 0.5)
        seen: set[tuple[str, int]] = set()
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            seen |= jobs_partitions & loop.paused
            time.sleep(0.005)
        assert seen == jobs_partitions, "every jobs partition is parked while idle"
        took = []
        for i in range(6):
            time.sleep(IDLE_AFTER_S + 0.3)  # parked again
            sent = time.monotonic()
            send(make_job(f"b-after-{i}"))
            http_receiver.wait_for(41 + i, timeout_s=10)
            took.append(time.monotonic() - sent)
    producer.close(5)
    # Woken, each is ~0.1 s (the park) plus the send; unwoken, librdkafka's fetcher sleeps up to ~1 s, so
    # each is spread over 0.1-1.1 s and five of six under 0.3 s happens by chance < 0.2 % of the time.
    # One outlier is allowed: a loaded CI machine once took 0.65 s for one of them (never seen in 60 quiet
    # or loaded runs here).
    assert sum(t < 0.3 for t in took) >= 5, f"produce -> delivered after a quiet spell, s: {took}"
    assert max(took) < 2.0, f"none waits for more than a fetcher's sleep, s: {took}"
