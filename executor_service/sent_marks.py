"""Records deliveries in the dedup table right after they happen, without a Redis round trip per job.

Job threads hand each delivery to ``SentRecorder.record()`` and go on; a background thread (two, so that
two writes may be in flight) writes whatever has queued up meanwhile in one round trip (group commit,
shared/batcher.py), so the markers of all lanes share round trips; the batch's last send writes its own
(nothing is left to share it, and a lone job's batch then needs no thread hand-off). A send first
``reserve()``s one of ``max_unrecorded`` slots, freed when its marker is written: a crash can repeat at
most that many sends (the executor uses its concurrency, the same bound as a synchronous write per job).
The batch waits for its markers (``wait_written()``) before it makes its outcome durable.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis

from executor_service.dedup import DedupTable
from shared import failpoints
from shared.batcher import Batcher

log = logging.getLogger(__name__)

_Mark = tuple[str, str, dict[str, Any]]


class SentRecorder:
    def __init__(
        self, dedup: DedupTable, *, max_unrecorded: int, max_pipeline: int = 1000, writers: int = 2
    ) -> None:
        self._dedup = dedup
        self.max_unrecorded = max_unrecorded
        self._slots = threading.BoundedSemaphore(max_unrecorded)
        # two writes in flight: a marker waits for its own round trip, not also for the one before it
        self._batcher: Batcher[_Mark] = Batcher(
            self._write, max_items=max_pipeline, name="sent-marks", threads=writers
        )
        self._written = threading.Condition()
        self._recorded = 0  # markers handed over so far
        self._done = 0  # markers written (or failed) so far
        self.failed = 0  # markers Redis refused (their rows still record the deliveries)

    def reserve(self) -> None:
        """Before a send: wait until fewer than ``max_unrecorded`` deliveries await their marker."""
        self._slots.acquire()

    def unreserve(self) -> None:
        """The reserved send did not happen (the job failed before delivering)."""
        self._slots.release()

    def record(self, key: str, job_id: str, outputs: dict[str, Any], *, now: bool = False) -> None:
        """Queue a ``sent`` marker (for a send that ``reserve()``d its slot); ``now``: write it on this
        thread instead (the batch's last send: no other marker could share its round trip, and the batch
        waits for it anyway, so the hand-off to a writer and back would only add two thread wake-ups)."""
        with self._written:
            self._recorded += 1
        if now:
            self._write([(key, job_id, outputs)])
        else:
            self._batcher.put((key, job_id, outputs))

    def wait_written(self, timeout_s: float | None = None) -> bool:
        """Until every marker recorded so far is written (or failed); False on timeout."""
        with self._written:
            target = self._recorded
            return self._written.wait_for(lambda: self._done >= target, timeout=timeout_s)

    def _write(self, marks: list[_Mark]) -> None:
        try:
            self._dedup.mark_sent_many(marks)
        except redis.RedisError:
            # The row commit (and the database's one-success guard) still records these; if Redis
            # stays down, the batch's persist() fails and waits for it.
            log.warning("could not record deliveries in Redis", extra={"jobs": len(marks)})
            with self._written:
                self.failed += len(marks)
        else:
            failpoints.reached("after_sent_mark")
        self._slots.release(len(marks))
        with self._written:
            self._done += len(marks)
            self._written.notify_all()

    def close(self) -> None:
        self._batcher.close(timeout_s=5.0)
