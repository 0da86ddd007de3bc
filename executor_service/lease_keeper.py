"""Keeps this worker's leases alive while their jobs are in hand.

A lease (dedup.py) is short (``dedup_lease_s``, 15 s by default) so that the keys of a worker that died
free up soon: its jobs run elsewhere within about one lease length. A live worker must never lose a
lease to expiry, however long its batch takes (a slow channel, a database outage while the batch is
persisted), so a thread of its own — not the batch loop, which may be blocked in a send — renews the
leases of the batches in hand every ``lease_s / DEDUP_LEASE_RENEWALS_PER_LEASE`` seconds, from the moment
they are claimed until the batch's keys are marked done or released. Two batches can be in hand at once
(one being run while the previous one is made durable: consumer_loop.py), so each batch's keys are added
and dropped on their own (``add()``/``drop()``). A renewal touches only keys that
still hold this worker's lease (a `sent` or `done` marker, or another worker's lease, is left alone).
If a renewal fails (Redis unreachable) the next one tries again and still comes in time; a lease lapses
only when Redis stays out of reach for most of a lease length, as for a worker cut off from Redis.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterable

import redis

from executor_service.dedup import DedupTable
from shared.constants import DEDUP_LEASE_RENEWALS_PER_LEASE

log = logging.getLogger(__name__)


class LeaseKeeper:
    def __init__(self, dedup: DedupTable, *, interval_s: float | None = None) -> None:
        self._dedup = dedup
        self.interval_s = interval_s or dedup.lease_s / DEDUP_LEASE_RENEWALS_PER_LEASE
        self._batches: dict[int, tuple[str, ...]] = {}  # ticket -> the keys of one batch in hand
        self._tickets = itertools.count(1)
        self._keys: tuple[str, ...] = ()  # every key held (what the next renewal covers)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.renewals = 0  # renewal round trips that succeeded (for tests and tools)
        self.failures = 0  # renewal round trips Redis refused

    def add(self, keys: Iterable[str]) -> int:
        """Renew our leases on ``keys`` from now on, until :meth:`drop` of the ticket returned."""
        ticket = next(self._tickets)
        with self._lock:
            self._batches[ticket] = tuple(dict.fromkeys(keys))
            self._keys = tuple(dict.fromkeys(k for keys in self._batches.values() for k in keys))
            if self._thread is None and self._keys:
                self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
                self._thread.start()
        return ticket

    def drop(self, ticket: int) -> None:
        """That batch ended: its keys are done or released; stop renewing them (unless another batch
        in hand holds them too)."""
        with self._lock:
            self._batches.pop(ticket, None)
            self._keys = tuple(dict.fromkeys(k for keys in self._batches.values() for k in keys))

    @property
    def held(self) -> tuple[str, ...]:
        return self._keys

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            keys = self._keys
            if not keys:
                continue
            try:
                self._dedup.renew(keys)
            except redis.RedisError as exc:
                self.failures += 1
                log.warning("could not renew leases", extra={"keys": len(keys), "error": type(exc).__name__})
            else:
                self.renewals += 1

    def close(self) -> None:
        """Stop renewing (the leases still held expire within ``lease_s``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
