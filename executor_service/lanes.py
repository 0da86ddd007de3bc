"""Hands a batch's bookings to its worker threads (batch.py). Each booking's jobs run in order on one
thread at a time; a booking waiting for a rate-limit slot (rate_limit.py) is *parked*: its thread takes
another booking meanwhile, and the first free thread picks it up again once the slot is due. So a wait
on one channel never holds a thread that another channel's jobs could use."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class Lanes(Generic[T]):
    def __init__(self, tasks: Iterable[T]) -> None:
        self._ready: deque[T] = deque(tasks)
        self._parked: list[tuple[float, int, T]] = []  # heap of (monotonic due time, tie-break, task)
        self._seq = itertools.count()
        self._open = len(self._ready)  # tasks not finished yet (ready, parked or running)
        self._cond = threading.Condition()

    def take(self) -> T | None:
        """The next task: a parked one now due first, else a fresh one; waits while only parked tasks
        remain; None once every task finished (or a worker failed)."""
        with self._cond:
            while True:
                now = time.monotonic()
                if self._parked and self._parked[0][0] <= now:
                    return heapq.heappop(self._parked)[2]
                if self._ready:
                    return self._ready.popleft()
                if self._open <= 0:
                    return None
                self._cond.wait(self._parked[0][0] - now if self._parked else None)

    def park(self, task: T, wait_s: float) -> None:
        """Give ``task`` back, to be taken again in ``wait_s`` seconds."""
        with self._cond:
            heapq.heappush(self._parked, (time.monotonic() + wait_s, next(self._seq), task))
            self._cond.notify()

    def last(self) -> bool:
        """True when the caller's task is the only one not finished (nothing else runs after it)."""
        with self._cond:
            return self._open == 1

    def finish(self) -> None:
        """One task is done."""
        with self._cond:
            self._open -= 1
            if self._open <= 0:
                self._cond.notify_all()

    @contextmanager
    def worker(self) -> Iterator[None]:
        """A worker's scope: if it raises, the others stop taking tasks (the batch fails as a whole)."""
        try:
            yield
        except BaseException:
            with self._cond:
                self._open, self._ready, self._parked = 0, deque(), []
                self._cond.notify_all()
            raise
