"""A queue drained by one background thread in batches (group commit).

Producers ``put()`` items and go on; the thread (started by the first ``put()``) takes the first item
waiting plus every other one already queued, up to ``max_items``, and hands them to ``handle`` as one
list, so items that arrive while a batch is being handled form the next one (with ``threads`` > 1,
several batches are handled at once, in no particular order). ``close()`` lets the items already put be
handled, then stops the threads. Used for the trigger's unary enqueues
(trigger_service/coalescer.py) and the executor's ``sent`` markers (executor_service/sent_marks.py).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class _Stop:
    pass


_STOP = _Stop()


class Batcher(Generic[T]):
    def __init__(
        self, handle: Callable[[list[T]], None], *, max_items: int, name: str, threads: int = 1
    ) -> None:
        """``threads`` > 1: that many batches may be handled at once (each thread takes what queued
        while the others were busy): a round trip need not wait for the one before it to come back."""
        self._handle = handle
        self._max_items = max_items
        self._name = name
        self._threads_wanted = threads
        self._queue: queue.SimpleQueue[T | _Stop] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def put(self, item: T) -> None:
        """Queue ``item`` for the next batch; raises RuntimeError once closed."""
        if not self._threads:
            with self._lock:
                if self._closed:
                    raise RuntimeError(f"{self._name} is closed")
                if not self._threads:
                    self._threads = [
                        threading.Thread(target=self._run, name=self._name, daemon=True)
                        for _ in range(self._threads_wanted)
                    ]
                    for thread in self._threads:
                        thread.start()
        self._queue.put(item)

    def close(self, timeout_s: float | None = None) -> None:
        """Handle what was put so far, then stop the threads (waiting up to ``timeout_s`` for each)."""
        with self._lock:
            self._closed = True
            threads, self._threads = self._threads, []
        for _ in threads:
            self._queue.put(_STOP)  # each thread stops at the first one it takes
        for thread in threads:
            thread.join(timeout_s)

    def _run(self) -> None:
        while not isinstance(first := self._queue.get(), _Stop):
            batch, stopping = [first], False
            while len(batch) < self._max_items:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, _Stop):
                    stopping = True
                    break
                batch.append(item)
            self._handle(batch)
            if stopping:
                return
