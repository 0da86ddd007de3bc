"""The consume loop's pause bookkeeping and the tier park rule (executor_service/pause_schedule.py)."""

from executor_service.pause_schedule import PauseSchedule, park_s

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
