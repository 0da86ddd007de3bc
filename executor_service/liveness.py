"""Liveness of the executor: is the consume loop still making progress? (``/healthz``)

Readiness (``/readyz``) says whether the executor should get work: false while Redis or the database is
down or the schema is not migrated. Liveness says whether the process should be restarted: false only
when nothing has moved for ``stall_s`` (AUTOMATION_LIVENESS_STALL_S). Progress is reported (``beat``) by

- the consume loop, once per turn (it polled and handled a batch, or polled and found nothing);
- the outage pause: every poll while Redis or the database is down is a turn of the loop too;
- each finished channel send (success or failure), so a long but healthy batch, e.g. a slow webhook
  taking longer than ``stall_s`` in total while its lanes keep completing jobs, stays live;
- the wait for the schema before consuming starts.

A send that never returns, a deadlock or a hung library call stops all of them: once ``stall_s`` passed,
``/healthz`` answers 503 and the first such probe logs the stacks of the executor's threads (where it hangs).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable

log = logging.getLogger(__name__)

_STACK_THREADS = ("consume-loop", "job")  # the loop and the lanes (batch.py)


class Liveness:
    """Time since the last reported progress, against a stall limit. ``beat`` is cheap and thread-safe."""

    def __init__(self, stall_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if stall_s <= 0:
            raise ValueError(f"stall_s must be positive, got {stall_s}")
        self.stall_s = stall_s
        self._clock = clock
        self._last = clock()
        self._reported_last: float | None = None  # the beat whose stall was logged

    def beat(self) -> None:
        """Progress was made (a float assignment: atomic under the GIL, no lock needed)."""
        self._last = self._clock()

    def idle_for_s(self) -> float:
        return max(0.0, self._clock() - self._last)

    def alive(self) -> bool:
        """False once no progress was reported for ``stall_s``; logs the stall once per stall."""
        last = self._last
        idle_s = max(0.0, self._clock() - last)
        if idle_s < self.stall_s:
            return True
        if self._reported_last != last:
            self._reported_last = last
            log.error(
                "consume loop made no progress; liveness failing",
                extra={"idle_s": round(idle_s, 1), "stall_s": self.stall_s, "threads": thread_stacks()},
            )
        return False


def thread_stacks(prefixes: tuple[str, ...] = _STACK_THREADS) -> dict[str, str]:
    """The current stack of each thread whose name starts with one of ``prefixes`` (code only, no values)."""
    frames = sys._current_frames()
    stacks = {}
    for thread in threading.enumerate():
        frame = frames.get(thread.ident) if thread.ident is not None else None
        if frame is not None and thread.name.startswith(prefixes):
            stacks[thread.name] = "".join(traceback.format_stack(frame, limit=12))
    return stacks
