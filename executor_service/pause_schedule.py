"""Which assigned partitions the consume loop keeps paused, and until when (monotonic seconds).

Three reasons pause a partition, all with a resume time:
- its first message is not due yet (a retry or delay tier): paused until that message is due;
- it holds a full batch of messages set aside (partition_ledger.py): paused for a while to bound memory;
- it is a tier partition read to its end (*parked*): nothing can be due on it before the tier's wait
  floor has passed, so it is not fetched again until then (:func:`park_s`). Fetching the tiers lazily is
  what keeps an idle executor from asking the broker for ~100 partitions every ``fetch.wait.max.ms``;
- a jobs partition read to its end once no message came for ``IDLE_AFTER_S`` is parked too, until the
  next multiple of ``IDLE_JOBS_PARK_S`` at least that far away: an idle executor then fetches 5 times a
  second (every 200 ms: shared/constants.py says why), not once per ``fetch.wait.max.ms``. The first
  job after a quiet spell waits for at most that cycle, or much less when the trigger rings
  (shared/doorbell.py); the jobs of a steady flow never wait for it (nothing is parked while messages
  come).

A pause is forgotten when its partition is revoked; librdkafka keeps it, so the consume loop resumes
every partition it is assigned (a partition assigned again starts unpaused, is read to its end and parked
again). Pure logic, no consumer.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

from confluent_kafka import KafkaError, Message

from shared.kafka_message import offset_of, partition_of, topic_of

TP = tuple[str, int]


def park_s(tier_s: int, tiers_s: Sequence[int], shortest_park_s: float) -> float:
    """How long a tier partition read to its end may go unfetched: the least wait a message written
    to it later can have. A wait goes to the longest tier not longer than it, so every tier but the
    shortest holds waits >= its own length; the shortest also takes the waits shorter than itself, so
    it is looked at every ``shortest_park_s`` (capped at its length)."""
    return float(tier_s) if tier_s > min(tiers_s) else min(float(tier_s), shortest_park_s)


def read_to_end(messages: Iterable[Message]) -> dict[TP, int]:
    """The partitions a fetch read to their end (librdkafka's partition-EOF event), with the offset
    after their last message. An end followed by more messages of its partition in the same fetch is
    no end: those messages are in hand."""
    last: dict[TP, Message] = {}
    for m in messages:
        err = m.error()
        if err is None or err.code() == KafkaError._PARTITION_EOF:  # other errors may name no partition
            last[(topic_of(m), partition_of(m))] = m
    return {tp: offset_of(m) for tp, m in last.items() if m.error() is not None}


class PauseSchedule:
    def __init__(self) -> None:
        self._until: dict[TP, float] = {}
        self._heap: list[tuple[float, TP]] = []  # may hold stale entries; _until is the truth

    def pause(self, tp: TP, until: float) -> bool:
        """Keep ``tp`` paused until ``until``; True if it was not paused before (pause it at the
        consumer). An earlier resume time already set is kept: it is the one that is safe."""
        current = self._until.get(tp)
        if current is not None and current <= until:
            return False
        self._until[tp] = until
        heapq.heappush(self._heap, (until, tp))
        return current is None

    def due(self, now: float) -> list[TP]:
        """The partitions whose pause is over (forgotten here: resume them at the consumer)."""
        out = []
        while self._heap and self._heap[0][0] <= now:
            until, tp = heapq.heappop(self._heap)
            if self._until.get(tp) == until:
                del self._until[tp]
                out.append(tp)
        return out

    def next_in_s(self, now: float) -> float | None:
        """Seconds until the next pause ends (None: nothing paused)."""
        while self._heap and self._until.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)  # stale
        return max(0.0, self._heap[0][0] - now) if self._heap else None

    def forget(self, tps: Iterable[TP]) -> None:
        for tp in tps:
            self._until.pop(tp, None)

    def partitions(self) -> frozenset[TP]:
        return frozenset(self._until)

    def __contains__(self, tp: object) -> bool:
        return tp in self._until

    def __len__(self) -> int:
        return len(self._until)
