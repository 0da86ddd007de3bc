"""Per assigned partition: how far it was handled, and the messages held aside for another try.

A message whose job could not finish — its key leased by another worker (a live one, or a dead one whose
lease has not expired yet), or its onward publish not acknowledged — is *held*: kept in memory and run
again, alone, ``retry_s`` later, together with whatever the next fetch brings. The partition is never
rewound for it, so the messages behind it, already done, are not consumed, run or recorded again.
What may be committed for a partition is the lowest held offset, else the offset after the last message
handled: a crash or a rebalance redelivers the held message (and what followed it) to whoever owns the
partition next, which is where the "a redelivery may be recorded once" bound comes from.

Only partitions assigned to this consumer are tracked; a revoked partition's state is forgotten (its new
owner starts from the committed offset). Pure logic: messages are anything with ``topic()``,
``partition()`` and ``offset()``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, Protocol, TypeVar

TP = tuple[str, int]


class Positioned(Protocol):
    def topic(self) -> str | None: ...

    def partition(self) -> int | None: ...

    def offset(self) -> int | None: ...


def _tp(m: Positioned) -> TP:
    return (m.topic() or "", m.partition() or 0)


M = TypeVar("M", bound=Positioned)


class PartitionLedger(Generic[M]):
    def __init__(self, *, retry_s: float, max_held_per_partition: int) -> None:
        self._retry_s = retry_s
        self._max_held = max_held_per_partition
        self._owned: set[TP] = set()
        self._next: dict[TP, int] = {}  # offset after the last message handled
        self._held: dict[TP, dict[int, M]] = {}
        self._retry_at: float | None = None  # monotonic time the held messages are tried again

    def assign(self, tps: Iterable[TP]) -> None:
        """Partitions newly assigned: start from what the group committed (nothing known yet)."""
        for tp in tps:
            self._forget(tp)
            self._owned.add(tp)

    def revoke(self, tps: Iterable[TP]) -> None:
        """Partitions taken away: their held messages go to the new owner (through the committed offset)."""
        for tp in tps:
            self._forget(tp)
            self._owned.discard(tp)

    def _forget(self, tp: TP) -> None:
        self._next.pop(tp, None)
        self._held.pop(tp, None)
        if not self._held:
            self._retry_at = None

    @property
    def held_count(self) -> int:
        return sum(len(held) for held in self._held.values())

    def retry_in_s(self, now: float) -> float | None:
        """Seconds until the held messages are due for another try (None: nothing held)."""
        return None if self._retry_at is None else max(0.0, self._retry_at - now)

    def take_due(self, now: float) -> list[M]:
        """The held messages, in offset order per partition, if their retry is due (they are no longer
        held: hand the ones that still cannot finish back to :meth:`settle`)."""
        if self._retry_at is None or now < self._retry_at:
            return []
        due = [m for tp in sorted(self._held) for _, m in sorted(self._held[tp].items())]
        self._held.clear()
        self._retry_at = None
        return due

    def settle(self, handled: Iterable[M], unfinished: Iterable[M], now: float) -> dict[TP, int]:
        """Record a finished batch: ``handled`` are all its messages, ``unfinished`` those to hold for
        another try. Returns the offset to store for each owned partition the batch touched."""
        touched: set[TP] = set()
        for m in handled:
            tp = _tp(m)
            if tp in self._owned:
                self._next[tp] = max(self._next.get(tp, 0), (m.offset() or 0) + 1)
                touched.add(tp)
        for m in unfinished:
            tp = _tp(m)
            if tp in self._owned:
                self._held.setdefault(tp, {})[m.offset() or 0] = m
                touched.add(tp)
                if self._retry_at is None:
                    self._retry_at = now + self._retry_s
        return {tp: self.position(tp) for tp in touched}

    def position(self, tp: TP) -> int:
        """What may be committed: the lowest held offset, else the offset after the last one handled."""
        held = self._held.get(tp)
        return min(held) if held else self._next.get(tp, 0)

    def next_offset(self, tp: TP) -> int:
        """Where consumption of ``tp`` goes on (after the last message handled)."""
        return self._next.get(tp, 0)

    def crowded(self) -> list[TP]:
        """Partitions holding ``max_held_per_partition`` messages or more: pause them (and seek to
        :meth:`next_offset`) until their held messages are through, to bound memory."""
        return [tp for tp, held in self._held.items() if len(held) >= self._max_held]
