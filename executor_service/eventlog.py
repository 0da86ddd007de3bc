"""Writes EventLog rows: a batch's rows in one transaction, behind the database's one-success guard.

On PostgreSQL the rows go in with ``COPY ... FROM STDIN`` (psycopg), elsewhere with one Core
``executemany``. COPY skips the per-row parameter binding of an INSERT: measured for 500 rows, 8–14 ms
of client CPU instead of 25–30 ms, which the executor (one Python process) gets back for running jobs.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from typing import Any

import psycopg
from sqlalchemy import JSON, insert, select
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
            except (IntegrityError, psycopg.IntegrityError):
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
        with self._sessions.begin() as session:
            connection = session.connection()
            if connection.dialect.name == "postgresql":
                _copy(connection.connection.driver_connection, rows)
            else:
                # Core executemany (multi-row INSERT ... VALUES), not the ORM unit of work.
                connection.execute(insert(EventLog.__table__), rows)


_JSON_COLUMNS = frozenset(c.name for c in EventLog.__table__.columns if isinstance(c.type, JSON))


def _copy(driver_connection: psycopg.Connection, rows: list[dict[str, Any]]) -> None:
    """``COPY event_log (<the rows' keys>) FROM STDIN`` inside the session's transaction; JSON columns
    are encoded here as SQLAlchemy's JSON type encodes them (``json.dumps``; None becomes JSON ``null``)."""
    columns = list(rows[0])
    encode = [name in _JSON_COLUMNS for name in columns]
    statement = f"COPY {EventLog.__tablename__} ({', '.join(columns)}) FROM STDIN"
    with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            values = [row[name] for name in columns]
            copy.write_row([json.dumps(v) if e else v for v, e in zip(values, encode, strict=True)])
