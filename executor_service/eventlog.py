"""Writes EventLog rows: a batch's rows in one transaction."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from executor_service import metrics
from shared.db.models import EventLog


class EventLogWriter:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def write(self, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows`` (EventLog column dicts) atomically; raises on failure, nothing half-written."""
        if not rows:
            return
        started = time.perf_counter()
        try:
            with self._sessions.begin() as session:
                session.execute(insert(EventLog), rows)
        except Exception:
            metrics.EVENTLOG_WRITE_ERRORS.inc()
            raise
        metrics.EVENTLOG_WRITE_DURATION.observe(time.perf_counter() - started)
