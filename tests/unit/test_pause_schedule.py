"""The consume loop's pause bookkeeping and the tier park rule (executor_service/pause_schedule.py)."""

from confluent_kafka import KafkaError

from executor_service.pause_schedule import PauseSchedule, park_s, read_to_end

A, B = ("jobs.retry.2s", 0), ("jobs.delay.4s", 1)


def test_a_tier_above_the_shortest_is_parked_for_its_own_length() -> None:
    assert park_s(4, [1, 4, 16], 0.25) == 4.0
    assert park_s(16, [16, 1, 4], 0.25) == 16.0


def test_the_shortest_tier_is_parked_only_briefly_because_it_takes_shorter_waits_too() -> None:
    assert park_s(1, [1, 4, 16], 0.25) == 0.25
    assert park_s(2, [2], 0.25) == 0.25
    assert park_s(1, [1, 4], 5.0) == 1.0  # never longer than the tier itself


def test_a_pause_ends_at_its_time_and_only_once() -> None:
    s = PauseSchedule()
    assert s.pause(A, 10.0) is True
    assert A in s and len(s) == 1
    assert s.due(9.9) == []
    assert s.next_in_s(9.0) == 1.0
    assert s.due(10.0) == [A]
    assert A not in s and s.due(20.0) == [] and s.next_in_s(20.0) is None


def test_the_earlier_resume_time_wins() -> None:
    s = PauseSchedule()
    s.pause(A, 10.0)
    assert s.pause(A, 30.0) is False  # later: kept at 10
    assert s.due(10.0) == [A]
    s.pause(B, 30.0)
    assert s.pause(B, 5.0) is False  # earlier: moved up, already paused at the consumer
    assert s.next_in_s(0.0) == 5.0
    assert s.due(5.0) == [B]
    assert s.due(30.0) == []  # the replaced entry does not resume it a second time


def test_a_revoked_partition_is_forgotten_and_a_new_pause_after_it_counts_alone() -> None:
    s = PauseSchedule()
    s.pause(A, 10.0)
    s.forget([A])
    assert A not in s and s.due(10.0) == [] and s.next_in_s(0.0) is None
    s.pause(A, 10.0)
    s.forget([A])
    assert s.pause(A, 50.0) is True  # assigned again and paused again: the old time does not resume it
    assert s.due(10.0) == []
    assert s.due(50.0) == [A]


class _Msg:
    """What read_to_end reads of a consumed message or event."""

    def __init__(self, topic: str | None, partition: int | None, offset: int | None, code: int | None = None):
        self._t, self._p, self._o = topic, partition, offset
        self._err = None if code is None else KafkaError(code)

    def error(self):
        return self._err

    def topic(self):
        return self._t

    def partition(self):
        return self._p

    def offset(self):
        return self._o


EOF_ = KafkaError._PARTITION_EOF


def test_read_to_end_names_the_partitions_whose_last_event_of_the_fetch_is_their_end() -> None:
    fetched = [
        _Msg("jobs", 0, 7),
        _Msg("jobs", 0, 8, EOF_),  # read to its end after offset 7
        _Msg("jobs.retry.4s", 1, 3, EOF_),
        _Msg("jobs.retry.4s", 1, 3),  # written after that end: in hand, so no end
        _Msg("jobs.delay.16s", 2, 0, EOF_),
        _Msg(None, None, None, KafkaError._TRANSPORT),  # a client-wide error names no partition
    ]
    assert read_to_end(fetched) == {("jobs", 0): 8, ("jobs.delay.16s", 2): 0}  # type: ignore[arg-type]
    assert read_to_end([_Msg("jobs", 0, 1)]) == {}  # type: ignore[list-item]
