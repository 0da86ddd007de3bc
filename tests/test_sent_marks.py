"""SentRecorder against a real Redis: group commit of sent markers, and the bound on unrecorded sends."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis

from devtools.embedded import free_port
from executor_service.app import build_loop
from executor_service.dedup import DedupTable
from executor_service.sent_marks import SentRecorder


@pytest.fixture
def client(redis_db_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_db_url) as c:
        yield c


def table(client: redis.Redis) -> DedupTable:
    return DedupTable(client, worker="w1", lease_s=30, ttl_s=600)


def test_recorded_deliveries_become_sent_markers_with_their_outputs(client):
    dedup = table(client)
    recorder = SentRecorder(dedup, max_unrecorded=100)
    for i in range(50):
        recorder.reserve()
        recorder.record(f"k{i}", f"job-{i}", {"body": f"hello {i}"})
    assert recorder.wait_written(timeout_s=5)
    recorder.close()
    claimed = dedup.claim([f"k{i}" for i in range(50)])
    assert {e.state for e in claimed.values()} == {"sent"}
    assert claimed["k7"].job_id == "job-7" and claimed["k7"].outputs == {"body": "hello 7"}
    assert recorder.failed == 0


def test_the_batchs_last_marker_is_written_on_the_senders_thread_before_record_returns(client):
    """``now=True`` (the batch's last send): no writer thread, the marker is in Redis and its slot free
    when ``record`` returns."""
    dedup = table(client)
    recorder = SentRecorder(dedup, max_unrecorded=1)
    recorder.reserve()
    writers_before = {t.name for t in threading.enumerate() if t.name.startswith("sent-marks")}
    recorder.record("last", "job-last", {"body": "bye"}, now=True)
    assert dedup.claim(["last"])["last"].state == "sent"
    assert recorder.wait_written(timeout_s=0)  # nothing left to wait for
    assert {t.name for t in threading.enumerate() if t.name.startswith("sent-marks")} == writers_before
    recorder.reserve()  # the one slot was freed by the write itself
    recorder.unreserve()
    recorder.close()


def test_at_most_max_unrecorded_sends_wait_for_their_marker(client):
    """With Redis stalled, a 4th reservation blocks until a marker of the first 3 is written."""
    recorder = SentRecorder(table(client), max_unrecorded=3)
    client.execute_command("CLIENT", "PAUSE", 600, "WRITE")  # markers cannot be written for 0.6 s
    for i in range(3):
        recorder.reserve()
        recorder.record(f"k{i}", f"job-{i}", {})
    fourth = threading.Event()

    def reserve_fourth() -> None:
        recorder.reserve()
        fourth.set()

    started = time.monotonic()
    threading.Thread(target=reserve_fourth, daemon=True).start()
    assert not fourth.wait(0.3), "a 4th send went ahead while 3 were unrecorded"
    assert fourth.wait(5), "the slot was never freed after Redis came back"
    assert time.monotonic() - started >= 0.5
    recorder.unreserve()
    recorder.close()


def test_a_failed_marker_write_frees_its_slot_and_is_counted():
    dead = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.2)
    recorder = SentRecorder(table(dead), max_unrecorded=1)
    recorder.reserve()
    recorder.record("k", "job", {})
    assert recorder.wait_written(timeout_s=10)
    assert recorder.failed == 1
    recorder.reserve()  # the slot came back: this does not block
    recorder.unreserve()
    recorder.close()


@pytest.mark.parametrize(("configured", "expected"), [(0, 5), (64, 64)])
def test_the_executor_bounds_unrecorded_sends_by_its_setting(settings, configured, expected):
    """AUTOMATION_MAX_UNRECORDED_SENDS: 0 means one per lane (EXECUTOR_CONCURRENCY, 5 by default)."""
    loop = build_loop(settings.model_copy(update={"max_unrecorded_sends": configured}))
    try:
        assert settings.executor_concurrency == 5
        assert loop.processor.max_unrecorded_sends == expected
    finally:
        loop.processor.close()
