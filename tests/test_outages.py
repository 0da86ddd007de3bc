"""Redis and the database going away mid-run: consumption pauses, readiness drops, nothing is lost
and nothing is sent twice. Faults are injected into real servers the test owns."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from pydantic import SecretStr
from sqlalchemy import create_engine, make_url, text

from devtools.embedded import start_valkey
from tests.support.jobs import make_job, produce_jobs
from tests.support.pipeline import eventlog_rows, running_executor, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.chaos]
OUTAGE_S = 5.0


def assert_each_sent_once(http_receiver, jobs, database_url):
    sent = [r.body["job_id"] for r in http_receiver.requests]
    assert sorted(sent) == sorted(j.job_id for j in jobs), "every job delivered exactly once"
    rows = eventlog_rows(database_url)
    assert sorted(r.job_id for r in rows if r.status == "succeeded") == sorted(j.job_id for j in jobs)


def watch_readiness(loop, stop: threading.Event) -> list[bool]:
    seen: list[bool] = []

    def watch():
        while not stop.is_set():
            seen.append(loop.ready)
            time.sleep(0.05)

    threading.Thread(target=watch, daemon=True).start()
    return seen


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_database_unavailable_for_5s(settings, http_receiver, postgres_admin_url):
    name = make_url(settings.sqlalchemy_url).database
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    before = [make_job(f"b-{i % 20}") for i in range(100)]
    during = [make_job(f"b-{i % 20}") for i in range(100)]
    produce_jobs(settings, before)
    with running_executor(settings) as loop:
        wait_until(
            lambda: len(eventlog_rows(settings.sqlalchemy_url)) == 100, timeout_s=30, what="first 100 rows"
        )
        stop_watch = threading.Event()
        readiness = watch_readiness(loop, stop_watch)
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
            )
        produce_jobs(settings, during)
        time.sleep(OUTAGE_S)
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        wait_until(lambda: len(eventlog_rows(settings.sqlalchemy_url)) == 200, timeout_s=30, what="all rows")
        wait_until(lambda: loop.ready, timeout_s=5, what="ready again")
        stop_watch.set()
    admin.dispose()
    assert False in readiness, "readiness must be false during the outage"
    assert_each_sent_once(http_receiver, before + during, settings.sqlalchemy_url)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_redis_stopped_for_5s_then_back_empty(settings, http_receiver, tmp_path):
    server = start_valkey(log_path=tmp_path / "valkey.log")
    port = int(server.address.rsplit(":", 1)[1].split("/")[0])
    settings = settings.model_copy(update={"redis_url": SecretStr(server.address)})
    before = [make_job(f"b-{i % 20}") for i in range(100)]
    during = [make_job(f"b-{i % 20}") for i in range(100)]
    produce_jobs(settings, before)
    try:
        with running_executor(settings) as loop:
            wait_until(
                lambda: len(eventlog_rows(settings.sqlalchemy_url)) == 100, timeout_s=30, what="first rows"
            )
            stop_watch = threading.Event()
            readiness = watch_readiness(loop, stop_watch)
            server.kill()
            produce_jobs(settings, during)
            time.sleep(OUTAGE_S)
            server = start_valkey(port=port, log_path=tmp_path / "valkey2.log")  # back, and empty (flushed)
            wait_until(
                lambda: len(eventlog_rows(settings.sqlalchemy_url)) == 200, timeout_s=30, what="all rows"
            )
            redis.Redis.from_url(server.address).flushall()  # and flushed again mid-run
            more = [make_job(f"b-{i % 20}") for i in range(50)]
            produce_jobs(settings, more)
            wait_until(
                lambda: len(eventlog_rows(settings.sqlalchemy_url)) == 250, timeout_s=30, what="more rows"
            )
            stop_watch.set()
    finally:
        server.stop()
    assert False in readiness, "readiness must be false during the outage"
    assert_each_sent_once(http_receiver, before + during + more, settings.sqlalchemy_url)


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_flushed_redis_cannot_cause_a_second_send(settings, http_receiver, redis_db_url):
    """Redis loses everything, then every job is redelivered: the database's record of each success
    stops a second send, and the guard keeps one succeeded row per key."""
    jobs = [make_job(f"b-{i % 5}") for i in range(30)]
    produce_jobs(settings, jobs)
    with running_executor(settings):
        wait_until(lambda: len(eventlog_rows(settings.sqlalchemy_url)) == 30, timeout_s=30, what="30 rows")
    redis.Redis.from_url(redis_db_url).flushdb()
    again = settings.model_copy(update={"consumer_group": settings.consumer_group + "-again"})
    with running_executor(again):  # a new group: everything is delivered again
        wait_until(lambda: len(eventlog_rows(settings.sqlalchemy_url)) == 60, timeout_s=30, what="60 rows")
    assert_each_sent_once(http_receiver, jobs, settings.sqlalchemy_url)
    statuses = sorted(r.status for r in eventlog_rows(settings.sqlalchemy_url))
    assert statuses == ["skipped_duplicate"] * 30 + ["succeeded"] * 30
