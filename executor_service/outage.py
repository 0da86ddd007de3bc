"""The consume loop's outage pause: while Redis or the database fails, every assigned partition is paused,
the group membership is kept alive by polling, and readiness is false; the step is tried again with a
growing backoff, and consumption resumes once it succeeds."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Container
from typing import TypeVar

from confluent_kafka import Consumer, TopicPartition

from executor_service import metrics
from shared.kafka_message import offset_of, partition_of, topic_of
from shared.logs import FailureLog

log = logging.getLogger(__name__)
_failures = FailureLog(log)

_OUTAGE_BACKOFF_S = (0.5, 1.0, 2.0, 5.0)
T = TypeVar("T")
_TP = tuple[str, int]


class OutagePause:
    def __init__(
        self,
        consumer: Consumer,
        *,
        paused: Container[_TP],
        batch_max: int,
        progress: Callable[[], object],
    ) -> None:
        """``paused``: the partitions the loop keeps paused for its own reasons (not resumed after an
        outage); ``progress`` is called per poll (liveness.py)."""
        self._consumer = consumer
        self._paused = paused
        self._batch_max = batch_max
        self._progress = progress
        self.healthy = True

    def until_ok(self, step: Callable[[], T], stop: threading.Event) -> T | None:
        """Run ``step`` until it succeeds; while it fails (Redis or the database is down), every
        assigned partition is paused, the group membership is kept alive by polling, and readiness
        is false. Returns None if ``stop`` is set first."""
        attempt, outage_started = 0, None
        while True:
            try:
                result = step()
            except Exception:
                if outage_started is None:
                    outage_started = time.monotonic()
                    self.healthy = False
                    metrics.READY.set(0)
                    self._consumer.pause(self._consumer.assignment())
                delay = _OUTAGE_BACKOFF_S[min(attempt, len(_OUTAGE_BACKOFF_S) - 1)]
                _failures.warning("backend unavailable; consumption paused", retry_in_s=delay)
                attempt += 1
                if self._idle(delay, stop):
                    return None
                continue
            if outage_started is not None:
                metrics.OUTAGE_PAUSED_SECONDS.inc(time.monotonic() - outage_started)
                resumable = [
                    tp for tp in self._consumer.assignment() if (tp.topic, tp.partition) not in self._paused
                ]
                self._consumer.resume(resumable)
                self.healthy = True
                metrics.READY.set(1)
                log.info("backend back; consumption resumed")
            return result

    def _idle(self, delay_s: float, stop: threading.Event) -> bool:
        """Poll (serving rebalances) for ``delay_s`` without taking work; True if ``stop`` was set.

        Partitions assigned meanwhile are not paused yet: whatever they deliver is rewound and paused.
        """
        deadline = time.monotonic() + delay_s
        while not stop.is_set() and time.monotonic() < deadline:
            self._progress()
            arrived: dict[_TP, int] = {}
            for m in self._consumer.consume(num_messages=self._batch_max, timeout=0.2):
                if m.error() is None:
                    arrived.setdefault((topic_of(m), partition_of(m)), offset_of(m))
            for (topic, partition), offset in arrived.items():
                tp = TopicPartition(topic, partition, offset)
                self._consumer.pause([tp])
                self._consumer.seek(tp)
            if arrived:
                self._consumer.pause(self._consumer.assignment())
        return stop.is_set()
