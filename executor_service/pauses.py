"""Pauses on the executor: due jobs of a paused type or channel (or every job) wait in a delay topic.

``PauseWatch`` reads the pauses in force (shared/pauses.py; the database is the source of truth, so a
pause survives restarts and a Redis flush) every ``pause_refresh_s`` on a thread of its own and keeps
them in memory: no query per job or batch. A batch asks it only when its copy is older than
``3 × pause_refresh_s`` (the thread failed): then it reads at once, and a database that does not answer
fails the batch before any job ran (the consume loop's outage path: nothing runs unknowingly).

``PauseGate`` takes the due jobs a pause holds out of the batch before their keys are leased
(``split``), and writes each, unchanged but for ``paused_at`` (set once), to the delay tier
``pause_recheck_s`` (``hold``): taken again after that tier, still as attempt N, and held again while
paused. So no attempt is used, nothing is dead-lettered or skipped, the partition keeps flowing for
other jobs, and a delay partition releases what it holds in the order it was deferred. After a resume a
held job runs within ``pause_recheck_s + pause_refresh_s`` (plus a batch). The first hold of a job writes
one ``paused`` EventLog row (re-checks write none); jobs not due yet are not touched until they are due.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import Message
from sqlalchemy.orm import Session, sessionmaker

from executor_service import metrics
from executor_service.onward import OnwardPublisher
from executor_service.outcome import Pending
from executor_service.runner import JobRun, RunOutcome, event_row
from shared.automation_settings import AutomationSettings
from shared.db.event_status import EventStatus
from shared.names import AUTOMATION_TYPE_NAMES, recipient_name, type_name
from shared.pauses import (
    PAUSABLE_CHANNELS,
    SCOPE_ALL,
    SCOPE_CHANNEL,
    SCOPE_KINDS,
    SCOPE_TYPE,
    PauseSet,
    Scope,
    read_pauses,
)
from shared.proto.automation.v1 import automation_pb2 as pb

log = logging.getLogger(__name__)

_Item = tuple[pb.AutomationJob, Message]
_STALE_REFRESHES = 3  # a copy older than this many refresh periods is read again before it is used
_KNOWN_SCOPES: tuple[Scope, ...] = (
    (SCOPE_ALL, ""),
    *((SCOPE_TYPE, name) for name in sorted(AUTOMATION_TYPE_NAMES.values())),
    *((SCOPE_CHANNEL, name) for name in PAUSABLE_CHANNELS),
)

for _type in AUTOMATION_TYPE_NAMES.values():  # exported at 0 from the start (bounded: 6 types × 3 kinds)
    for _kind in SCOPE_KINDS:
        metrics.PAUSE_DEFERRALS.labels(_type, _kind)


class PausesUnknown(RuntimeError):
    """The pauses in force could not be read; the batch is retried (consume loop's outage path)."""


class PauseWatch:
    """The pauses in force, read from the database every ``refresh_s`` by a daemon thread."""

    def __init__(self, sessions: sessionmaker[Session], refresh_s: float) -> None:
        self._sessions = sessions
        self._refresh_s = refresh_s
        self._lock = threading.Lock()
        self._current = PauseSet()
        self._read_at: float | None = None  # monotonic time of the last successful read
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def current(self) -> PauseSet:
        """The pauses in force (at most ``3 × refresh_s`` old); raises PausesUnknown if unreadable."""
        self.start()
        with self._lock:
            read_at, current = self._read_at, self._current
        if read_at is None or time.monotonic() - read_at > _STALE_REFRESHES * self._refresh_s:
            try:
                return self.refresh()
            except Exception as exc:
                raise PausesUnknown("the pauses in force could not be read from the database") from exc
        return current

    def refresh(self) -> PauseSet:
        """Read the pauses now (raises on a database error); updates the metrics."""
        with self._sessions() as session:
            records = read_pauses(session)
        found = PauseSet.of((r.scope, r.value) for r in records)
        with self._lock:
            changed = found != self._current
            self._current, self._read_at = found, time.monotonic()
        if changed and found.scopes:
            log.warning("pauses in force", extra={"pauses": sorted(f"{k}:{v}" for k, v in found.scopes)})
        elif changed:
            log.info("no pause in force; everything flows")
        for scope in _KNOWN_SCOPES:
            metrics.PAUSED.labels(*scope).set(1 if scope in found.scopes else 0)
        started = {(r.scope, r.value): r.paused_at for r in records}
        for scope in _KNOWN_SCOPES:
            if scope in started:
                at = started[scope]
                at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # SQLite drops the zone
                metrics.PAUSE_STARTED.labels(*scope).set(at.timestamp())
            else:
                with contextlib.suppress(KeyError):
                    metrics.PAUSE_STARTED.remove(*scope)
        return found

    def start(self) -> None:
        """Start the refresh thread (once; the consume loop's thread calls it every turn)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="pause-watch", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._refresh_s):
            try:
                self.refresh()
                self._failing = False
            except Exception:
                if not self._failing:  # one line per failure streak; batches read again when stale
                    log.warning("could not read the pauses in force; retrying", exc_info=True)
                self._failing = True

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


@dataclass(frozen=True)
class Held:
    job: pb.AutomationJob
    msg: Message
    scope: Scope  # the pause that holds it


class PauseGate:
    def __init__(
        self,
        watch: PauseWatch,
        automations: AutomationSettings,
        onward: OnwardPublisher,
        *,
        default_channel: str,
        recheck_s: int,
        redact_contacts: bool = False,
    ) -> None:
        self._watch = watch
        self._automations = automations
        self._onward = onward
        self._default_channel = default_channel
        self._recheck_s = recheck_s
        self._redact_contacts = redact_contacts

    def split(self, groups: dict[bytes, list[_Item]]) -> tuple[dict[bytes, list[_Item]], list[Held]]:
        """The batch's due jobs that no pause holds (by booking, in order), and those held."""
        pauses = self._watch.current()
        if not pauses:
            return groups, []
        flowing: dict[bytes, list[_Item]] = {}
        held: list[Held] = []
        for key, items in groups.items():
            for job, msg in items:
                scope = pauses.holding(type_name(job.request.automation_type), self._channel(job))
                if scope is None:
                    flowing.setdefault(key, []).append((job, msg))
                else:
                    held.append(Held(job, msg, scope))
        return flowing, held

    def hold(self, held: Held) -> Pending:
        """Write a held job to the re-check delay tier; its first hold also writes a ``paused`` row."""
        job, first = held.job, not held.job.HasField("paused_at")
        if first:
            job = pb.AutomationJob()
            job.CopyFrom(held.job)
            job.paused_at.FromDatetime(datetime.now(UTC))
        topic, publish = self._onward.held(job, held.msg, self._recheck_s)
        kind, value = held.scope
        metrics.PAUSE_DEFERRALS.labels(type_name(job.request.automation_type), kind).inc()
        row = None
        if first:
            outputs = {"paused_by": f"{kind}:{value}" if value else kind, "recheck_topic": topic}
            run = JobRun(job, held.msg, datetime.now(UTC), RunOutcome.PAUSED, outputs=outputs)
            row = event_row(run, EventStatus.PAUSED, redact_contacts=self._redact_contacts)
        return Pending(held.msg, publish, row)

    def _channel(self, job: pb.AutomationJob) -> str | None:
        request = job.request
        spec = self._automations.recipient(
            type_name(request.automation_type), recipient_name(request.recipient)
        )
        if spec is None:
            return None
        return self._default_channel if spec.channel == "default" else spec.channel

    def close(self) -> None:
        self._watch.close()
