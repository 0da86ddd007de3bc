"""Lanes (executor_service/lanes.py): which task is the batch's last one open."""

from __future__ import annotations

from executor_service.lanes import Lanes


def test_last_is_true_only_while_the_callers_task_is_the_only_one_not_finished():
    lanes = Lanes(["a", "b", "c"])
    assert lanes.take() == "a"
    assert not lanes.last()  # b and c are still to run
    lanes.finish()
    assert lanes.take() == "b"
    lanes.park("b", 60.0)  # parked, not finished: it still runs after c
    assert lanes.take() == "c"
    assert not lanes.last()
    lanes.finish()
    assert lanes.last()  # only b is open now
