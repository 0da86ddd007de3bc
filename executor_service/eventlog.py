"""Writes EventLog rows: a batch's rows in one transaction, behind the database's one-success guard."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from executor_service import metrics
from shared.db.models import EventLog, EventStatus

log = logging.getLogger(__name__)


class EventLogWriter:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def succeeded_keys(self, keys: Iterable[str]) -> set[str]:
        """The idempotency keys that already have a succeeded row (one query)."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return set()
        query = select(EventLog.idempotency_key).where(
            EventLog.status == EventStatus.SUCCEEDED, EventLog.idempotency_key.in_(keys)
        )
        with self._sessions() as session:
            return set(session.scalars(query))

    def write(self, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows`` atomically; raises on failure, nothing half-written.

        A success row whose key already succeeded (a race the unique index caught) is stored as
        ``skipped_duplicate`` instead: the database never holds two successes for one key.
        """
        if not rows:
            return
        started = time.perf_counter()
        try:
            try:
                self._insert(rows)
            except IntegrityError:
                already = self.succeeded_keys(
                    r["idempotency_key"] for r in rows if r["status"] == EventStatus.SUCCEEDED
                )
                log.warning("second success refused by the database guard", extra={"keys": len(already)})
                for row in rows:
                    if row["status"] == EventStatus.SUCCEEDED and row["idempotency_key"] in already:
                        row["status"] = EventStatus.SKIPPED_DUPLICATE
                self._insert(rows)
        except Exception:
            metrics.EVENTLOG_WRITE_ERRORS.inc()
            raise
        metrics.EVENTLOG_WRITE_DURATION.observe(time.perf_counter() - started)

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        # Core executemany (multi-row INSERT ... VALUES), not the ORM unit of work: a batch is one
        # statement per 1,000 rows.
        with self._sessions.begin() as session:
            session.connection().execute(insert(EventLog.__table__), rows)
