"""Parking (executor_service/parking.py) against a recording consumer and a fake clock: which partitions
are paused, where they are sought to, and when they resume."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from confluent_kafka import KafkaError

from executor_service import parking as parking_module
from executor_service.parking import Parking
from shared.constants import IDLE_AFTER_S
from tests.support.fake_message import FakeMessage

IDLE_PARK_S = 0.1
TIER = "jobs.retry.4s"


@dataclass(frozen=True)
class EndOf(FakeMessage):
    """librdkafka's partition-EOF event: the offset after the partition's last message."""

    def error(self) -> KafkaError:  # type: ignore[override]
        return KafkaError(KafkaError._PARTITION_EOF)


class RecordingConsumer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int, int]] = []

    def _record(self, what: str, partitions) -> None:
        self.calls += [(what, p.topic, p.partition, p.offset) for p in partitions]

    def pause(self, partitions) -> None:
        self._record("pause", partitions)

    def resume(self, partitions) -> None:
        self._record("resume", partitions)

    def seek(self, partition) -> None:
        self._record("seek", [partition])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(parking_module, "time", clock)
    return clock


def make(clock: Clock) -> tuple[Parking, RecordingConsumer]:
    consumer = RecordingConsumer()
    return Parking(consumer, tier_park_s={TIER: 4.0}, idle_park_s=IDLE_PARK_S), consumer  # type: ignore[arg-type]


def test_a_jobs_partition_read_to_its_end_while_jobs_come_is_parked_once_the_loop_turns_quiet(clock):
    parking, consumer = make(clock)
    parking.park_read_to_end([FakeMessage(41, p=1), EndOf(42, p=1), FakeMessage(7, p=2)])
    assert consumer.calls == [] and ("jobs", 1) not in parking, "jobs still come: nothing parked yet"
    clock.now += IDLE_AFTER_S / 2
    parking.park_read_to_end([])
    assert consumer.calls == []
    clock.now += IDLE_AFTER_S / 2
    parking.park_read_to_end([])  # quiet now: no EOF comes again, the one remembered is parked
    assert consumer.calls == [("pause", "jobs", 1, 42), ("seek", "jobs", 1, 42)]
    assert parking.partitions() == {("jobs", 1)}


def test_a_message_after_the_end_forgets_it_and_a_later_end_wins(clock):
    parking, consumer = make(clock)
    parking.park_read_to_end([EndOf(10, p=0), EndOf(5, p=1)])
    parking.park_read_to_end([FakeMessage(10, p=0)])  # partition 0 goes on: its end at 10 is no end
    parking.park_read_to_end([FakeMessage(5, p=1), EndOf(6, p=1)])
    clock.now += IDLE_AFTER_S
    parking.park_read_to_end([])
    assert consumer.calls == [("pause", "jobs", 1, 6), ("seek", "jobs", 1, 6)]


def test_a_resume_seeks_where_the_partition_was_paused_and_parks_end_on_a_common_grid(clock):
    parking, consumer = make(clock)
    clock.now += IDLE_AFTER_S + 0.02
    parking.park_read_to_end([EndOf(3, p=0)])
    clock.now += 0.013
    parking.park_read_to_end([EndOf(9, p=1), EndOf(2, t=TIER)])
    resume_at = 1001.2  # the first multiple of the park after either one's end
    assert parking.next_in_s(clock.now) == pytest.approx(resume_at - clock.now)
    consumer.calls.clear()
    clock.now = resume_at - 0.001
    parking.resume_due()
    assert consumer.calls == []
    clock.now = resume_at
    parking.resume_due()  # both jobs partitions in one turn; the tier (4 s) stays parked
    assert consumer.calls == [
        ("resume", "jobs", 0, 3),
        ("resume", "jobs", 1, 9),
        ("seek", "jobs", 0, 3),
        ("seek", "jobs", 1, 9),
    ]
    assert parking.partitions() == {(TIER, 0)}


def test_a_revoked_partition_is_forgotten_with_its_remembered_end(clock):
    parking, consumer = make(clock)
    parking.park_read_to_end([EndOf(4, p=0), EndOf(2, t=TIER)])
    parking.forget([("jobs", 0), (TIER, 0)])
    clock.now += IDLE_AFTER_S
    parking.park_read_to_end([])
    clock.now += 10
    consumer.calls.clear()
    parking.resume_due()
    assert consumer.calls == [] and parking.partitions() == frozenset()


def test_a_wake_up_call_ends_every_idle_park_now_and_no_other_pause(clock):
    parking, consumer = make(clock)
    parking.park_read_to_end([EndOf(3, p=0), EndOf(9, p=1), EndOf(4, p=2), EndOf(2, t=TIER)])
    clock.now += IDLE_AFTER_S
    parking.park_read_to_end([])  # quiet: the three jobs partitions are parked
    assert parking.idle_parked
    parking.pause_until(("jobs", 2), 4, 1.0)  # and jobs 2 for another reason too (a crowded ledger)
    consumer.calls.clear()
    parking.wake_idle()
    assert consumer.calls == [
        ("resume", "jobs", 0, 3),
        ("resume", "jobs", 1, 9),
        ("seek", "jobs", 0, 3),
        ("seek", "jobs", 1, 9),
    ]
    assert parking.partitions() == {("jobs", 2), (TIER, 0)}, "the tier and the other pause are kept"
    assert not parking.idle_parked
    consumer.calls.clear()
    parking.wake_idle()  # nothing idle-parked: nothing to do
    park_end = 1001.1  # the earlier of jobs 2's two ends is kept: its park's, on the grid
    clock.now = park_end - 0.01
    parking.resume_due()
    assert consumer.calls == [], "jobs 2 resumes at its park's end, not at the call"
    clock.now = park_end
    parking.resume_due()
    assert consumer.calls == [("resume", "jobs", 2, 4), ("seek", "jobs", 2, 4)]


def test_after_a_wake_up_call_no_jobs_partition_is_parked_for_a_quiet_second(clock):
    """The ring may have been for a job another executor took: this one stays awake for the job the
    trigger rings for no more (its rings are rate-limited), as it would after a message."""
    parking, consumer = make(clock)
    clock.now += IDLE_AFTER_S
    parking.park_read_to_end([EndOf(3, p=0)])
    assert parking.idle_parked
    parking.wake_idle()
    consumer.calls.clear()
    clock.now += 0.01
    parking.park_read_to_end([EndOf(3, p=0)])  # read to its end again, nothing came
    clock.now += IDLE_AFTER_S - 0.02
    parking.park_read_to_end([])
    assert consumer.calls == [] and not parking.idle_parked, "not parked within a second of the ring"
    clock.now += 0.01
    parking.park_read_to_end([])
    assert consumer.calls == [("pause", "jobs", 0, 3), ("seek", "jobs", 0, 3)]
    assert parking.idle_parked
