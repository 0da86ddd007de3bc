"""Writes EventLog rows, the only module that does: a batch's rows in one transaction, behind the
database's one-success guard (``EventLogWriter``), or rows inside a caller's transaction with their new
ids (``insert_returning_ids``, for cancel, which selects and writes in one transaction).

On PostgreSQL the rows go in with ``COPY ... FROM STDIN`` (psycopg), elsewhere with one Core
``executemany``; COPY skips the per-row parameter binding of an INSERT (ARCHITECTURE.md,
"Throughput and latency").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from operator import attrgetter

import psycopg
from sqlalchemy import ARRAY, JSON, Engine, String, any_, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared import json_text
from shared.db.event_row import COLUMNS, EventRow
from shared.db.event_status import EventStatus
from shared.db.models import EVENT_LOG_TABLE, EventLog

log = logging.getLogger(__name__)


class EventLogWriter:
    """``observe_s`` gets each successful write's duration, ``on_error`` is called when one fails
    (the executor's metrics; the trigger passes neither)."""

    def __init__(
        self,
        engine: Engine,
        *,
        observe_s: Callable[[float], None] | None = None,
        on_error: Callable[[], None] | None = None,
    ) -> None:
        # Core connections, not ORM sessions: a batch's two statements need no unit of work, and a
        # Session around each cost ~40-90 µs of CPU per batch, what a small batch pays per job.
        self._engine = engine
        self._observe_s = observe_s
        self._on_error = on_error

    def succeeded_keys(self, keys: Iterable[str]) -> set[str]:
        """The idempotency keys that already have a succeeded row (one query)."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return set()
        with self._engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                # The keys as one array parameter: the same statement every time (compiled once), where
                # IN (...) renders and parses one placeholder per key; autocommit: a lone SELECT needs no
                # BEGIN and ROLLBACK round trips. Both count: it runs before a batch's jobs (batch.py).
                connection.execution_options(isolation_level="AUTOCOMMIT")
                return set(connection.scalars(_SUCCEEDED_ANY, {"keys": keys}))
            query = select(EventLog.idempotency_key).where(
                EventLog.status == EventStatus.SUCCEEDED, EventLog.idempotency_key.in_(keys)
            )
            return set(connection.scalars(query))

    def write(self, rows: Sequence[EventRow]) -> list[EventRow]:
        """Insert ``rows`` atomically and return them as written; raises on failure, nothing half-written.

        A success row whose key already succeeded (a race the unique index caught) is stored as
        ``skipped_duplicate`` instead: the database never holds two successes for one key.
        """
        rows = list(rows)
        if not rows:
            return rows
        started = time.perf_counter()
        try:
            try:
                self._insert(rows)
            except (IntegrityError, psycopg.IntegrityError):
                already = self.succeeded_keys(
                    r.idempotency_key for r in rows if r.status == EventStatus.SUCCEEDED
                )
                log.warning("second success refused by the database guard", extra={"keys": len(already)})
                rows = [_demoted(row, already) for row in rows]
                self._insert(rows)
        except Exception:
            if self._on_error is not None:
                self._on_error()
            raise
        if self._observe_s is not None:
            self._observe_s(time.perf_counter() - started)
        return rows

    def _insert(self, rows: list[EventRow]) -> None:
        with self._engine.begin() as connection:
            driver_connection = connection.connection.driver_connection
            if isinstance(driver_connection, psycopg.Connection):  # PostgreSQL through psycopg 3
                _copy(driver_connection, rows)
            else:
                # Core executemany (multi-row INSERT ... VALUES), not the ORM unit of work.
                connection.execute(insert(EVENT_LOG_TABLE), [row.values() for row in rows])


def insert_returning_ids(session: Session, rows: Sequence[EventRow]) -> list[int]:
    """Insert ``rows`` inside ``session``'s transaction (committed or rolled back with it) and return
    their new ids in the order of ``rows``: one ``INSERT ... RETURNING id`` (SQLite and PostgreSQL)."""
    if not rows:
        return []
    statement = insert(EVENT_LOG_TABLE).returning(EVENT_LOG_TABLE.c.id, sort_by_parameter_order=True)
    result = session.connection().execute(statement, [row.values() for row in rows])
    return list(result.scalars())


def _demoted(row: EventRow, already: set[str]) -> EventRow:
    if row.status == EventStatus.SUCCEEDED and row.idempotency_key in already:
        return replace(row, status=EventStatus.SKIPPED_DUPLICATE)
    return row


_SUCCEEDED_ANY = select(EventLog.idempotency_key).where(
    EventLog.status == EventStatus.SUCCEEDED,
    EventLog.idempotency_key == any_(bindparam("keys", type_=ARRAY(String))),
)
_JSON_COLUMNS = frozenset(c.name for c in EVENT_LOG_TABLE.columns if isinstance(c.type, JSON))
_JSON_AT = tuple(i for i, name in enumerate(COLUMNS) if name in _JSON_COLUMNS)  # their places in a row
_VALUES = attrgetter(*COLUMNS)  # a row's values in COLUMNS order
_COPY = f"COPY {EventLog.__tablename__} ({', '.join(COLUMNS)}) FROM STDIN"


def _copy(driver_connection: psycopg.Connection, rows: list[EventRow]) -> None:
    """``COPY event_log (<every column but id>) FROM STDIN`` inside the session's transaction; JSON
    columns are encoded here to the values SQLAlchemy's JSON type stores (None is ``null``), by orjson
    (shared/json_text.py)."""
    with driver_connection.cursor() as cursor, cursor.copy(_COPY) as copy:
        for row in rows:
            values = list(_VALUES(row))
            for i in _JSON_AT:
                values[i] = json_text.dumps(values[i])
            copy.write_row(values)
