"""The consume loop's paused partitions, at the consumer: which to pause, when to resume them.

A retry/delay message not due yet pauses its partition, rewound to it, until it is due; a partition read to
its end is *parked* (pause_schedule.py says for how long); a partition holding a full batch set aside is
paused for a while (consumer_loop.py). Every pause has its resume time in one :class:`PauseSchedule`.
Parking pauses and seeks to the end: nothing in hand is fetched again, and the offsets stored stay those of
durable work.

librdkafka reports a partition's end once (until the next seek). A jobs partition read to its end while
messages still came is remembered here and parked once the loop turns quiet; otherwise it would be fetched
every ``fetch.wait.max.ms`` for as long as the executor idles. A wake-up call from the trigger
(shared/doorbell.py) ends every idle park at once (:meth:`Parking.wake_idle`): the first job after a
quiet spell need not wait for the park's end.

A resume seeks the partition again, to where it was paused: with every partition paused, librdkafka's
fetcher sleeps up to ~1 s and a resume alone is noticed only then; a seek wakes it (a retry due in 2 s
would otherwise go out up to 1 s late). The seek moves nothing: a paused partition fetches nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping

from confluent_kafka import Consumer, Message, TopicPartition

from executor_service import metrics
from executor_service.pause_schedule import TP, PauseSchedule, read_to_end
from shared.codec import read_envelope
from shared.constants import IDLE_AFTER_S
from shared.kafka_message import header_pairs, offset_of, partition_of, topic_of


class Parking:
    def __init__(self, consumer: Consumer, *, tier_park_s: Mapping[str, float], idle_park_s: float) -> None:
        """``tier_park_s``: the retry/delay tier topics, each with how long a partition of it read to its
        end goes unfetched. ``idle_park_s``: how long a jobs partition read to its end is parked once no
        message came for ``IDLE_AFTER_S`` (0: never)."""
        self._consumer = consumer
        self._tier_park_s = dict(tier_park_s)
        self._idle_park_s = idle_park_s
        self._active_at = time.monotonic()  # the last message, or the last wake-up call
        self._paused = PauseSchedule()
        self._offsets: dict[TP, int] = {}  # each paused partition's offset (its last seek)
        self._ended: dict[TP, int] = {}  # jobs partitions read to their end while messages still came
        self._idle: set[TP] = set()  # jobs partitions paused for no reason but the idle park

    def hold_back_not_due(self, batch: list[Message]) -> list[Message]:
        """Drop retry/delay messages not due yet (and what follows them in their partition); pause and
        rewind."""
        now_ms = time.time() * 1000
        cut: dict[TP, float] = {}
        kept = []
        for m in batch:
            tp = (topic_of(m), partition_of(m))
            if tp in cut:
                continue
            due = read_envelope(header_pairs(m)).due_at_ms if tp[0] in self._tier_park_s else None
            if due is not None and due > now_ms:
                cut[tp] = due
                self.pause_until(tp, offset_of(m), (due - now_ms) / 1000)
                continue
            if due is not None:
                metrics.RETRY_RELEASE_LATENESS.observe((now_ms - due) / 1000)
            kept.append(m)
        return kept

    def park_read_to_end(self, messages: list[Message]) -> None:
        """Park each partition read to its end: a tier partition (unless paused for a message not due)
        until a message written to it from now on could be due; a jobs partition only once the loop has
        been quiet, briefly (one read to its end before that is parked then)."""
        now = time.monotonic()
        for m in messages:
            if m.error() is None:
                self._active_at = now
                self._ended.pop((topic_of(m), partition_of(m)), None)
        quiet = now - self._active_at >= IDLE_AFTER_S
        for tp, offset in read_to_end(messages).items():
            tier_park_s = self._tier_park_s.get(tp[0])
            if tier_park_s is not None:
                if tp not in self._paused:
                    self.pause_until(tp, offset, self._on_grid(now, tier_park_s))
            elif self._idle_park_s:
                self._ended[tp] = offset
        if quiet and self._ended:
            for tp, offset in self._ended.items():
                if tp not in self._paused:
                    self.pause_until(tp, offset, self._on_grid(now, self._idle_park_s))
                    self._idle.add(tp)
            self._ended.clear()

    @property
    def idle_parked(self) -> bool:
        """True while some jobs partition is parked because the loop is idle."""
        return bool(self._idle)

    def wake_idle(self) -> None:
        """End the idle park of every jobs partition now (a wake-up call: shared/doorbell.py), and park
        none again for ``IDLE_AFTER_S``, as after a message: the trigger rings at most every
        ``WAKE_RING_INTERVAL_S``, and a job it did not ring for may come to this executor while the one it
        rang for went to another. A partition paused for another reason keeps its pause."""
        now = time.monotonic()
        self._active_at = now
        if self._idle:
            for tp in self._idle:
                self._paused.pause(tp, now)  # the earlier end wins
            self._idle.clear()
            self.resume_due()

    def _on_grid(self, now: float, park_s: float) -> float:
        """``park_s``, stretched to end on a multiple of the idle park: partitions parked a few
        milliseconds apart resume together, in one loop turn and one fetch, not one each.

        An idle jobs partition resumed on the grid reads its end again one fetch wait later and parks
        from there: its next end is two grid steps on, so it is fetched every 2 * idle park. Ending on
        the nearest multiple instead (every grid step) halves the first job's wait after a quiet spell
        (p50 99 -> 45 ms, max ~200 -> ~96 ms) but, on Tansu, raised the idle stack from 0.04 to
        0.07-0.10 core (bench/README.md, "Fifth round")."""
        grid_s = self._idle_park_s
        if not grid_s:
            return park_s
        return math.ceil((now + park_s) / grid_s - 1e-6) * grid_s - now

    def pause_until(self, tp: TP, offset: int, delay_s: float) -> None:
        partition = TopicPartition(tp[0], tp[1], offset)
        self._consumer.pause([partition])
        self._consumer.seek(partition)
        self._offsets[tp] = offset
        self._idle.discard(tp)  # paused for this reason now (the earlier end of both is kept)
        self._paused.pause(tp, time.monotonic() + delay_s)
        metrics.PAUSED_PARTITIONS.set(len(self._paused))

    def resume_due(self) -> None:
        due = [
            TopicPartition(tp[0], tp[1], self._offsets.pop(tp)) for tp in self._paused.due(time.monotonic())
        ]
        if due:
            self._idle.difference_update((p.topic, p.partition) for p in due)
            self._consumer.resume(due)
            for partition in due:  # wakes the fetcher (module docstring)
                self._consumer.seek(partition)
        metrics.PAUSED_PARTITIONS.set(len(self._paused))

    def next_in_s(self, now: float) -> float | None:
        """Seconds until the next pause ends (None: nothing paused)."""
        return self._paused.next_in_s(now)

    def forget(self, tps: Iterable[TP]) -> None:
        """Revoked partitions (librdkafka keeps their pause: the loop resumes them when assigned)."""
        for tp in (tps := list(tps)):
            self._offsets.pop(tp, None)
            self._ended.pop(tp, None)
            self._idle.discard(tp)
        self._paused.forget(tps)

    def partitions(self) -> frozenset[TP]:
        return self._paused.partitions()

    def __contains__(self, tp: object) -> bool:
        return tp in self._paused
