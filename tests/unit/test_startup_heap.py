"""A service freezes its start-up heap: full collections while jobs flow no longer traverse it."""

from __future__ import annotations

import gc

from shared.heap import freeze_startup_heap


def test_objects_alive_at_start_up_are_frozen_and_still_usable():
    built_at_start_up = [{"n": i} for i in range(1_000)]
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() >= len(built_at_start_up)
        gc.collect()  # a full collection leaves them alone, and they stay what they were
        assert built_at_start_up[999] == {"n": 999}
        garbage = [[]]
        garbage[0].append(garbage)  # a cycle made later is still collected
        del garbage
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
