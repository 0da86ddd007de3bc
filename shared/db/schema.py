"""Is the database's schema the one this code needs? The services never change the schema
(``automation-migrate`` does, shared/db/migrate.py); they read its Alembic revision and wait for it.

- ``current``: at the code's head revision.
- ``missing``: no revision (an empty database) and ``behind``: a revision the code knows, older than its
  head. Not usable: the executor does not consume, the trigger's operator RPCs answer UNAVAILABLE.
- ``newer``: a revision the code does not know (a newer release migrated, then this one was rolled back).
  Migrations are additive (new nullable columns, new indexes), so it is usable when the database still
  has every table, column and index of this code's models and every column the code does not know
  accepts NULL or has a default (rows this code writes without it still insert). Otherwise
  ``incompatible``: refused like ``missing``, with what is wrong.
- ``unreachable``: the database did not answer (the caller retries).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from shared import constants
from shared.db.migrate import alembic_config
from shared.db.models import Base

log = logging.getLogger(__name__)

CURRENT, MISSING, BEHIND, NEWER, INCOMPATIBLE, UNREACHABLE = (
    "current",
    "missing",
    "behind",
    "newer",
    "incompatible",
    "unreachable",
)
NO_REVISION = "none"
# PostgreSQL: undefined_table, undefined_column; SQLite says it in words.
_UNDEFINED_SQLSTATES = frozenset({"42P01", "42703"})
_SQLITE_UNDEFINED = ("no such table", "no such column", "has no column named")


@dataclass(frozen=True)
class SchemaStatus:
    state: str
    current: str  # the database's revision(s), comma-separated; NO_REVISION when missing; "?" if unreachable
    head: str  # the revision this code needs
    detail: str = ""  # what is incompatible, or why the database did not answer

    @property
    def usable(self) -> bool:
        return self.state in (CURRENT, NEWER)

    def describe(self) -> str:
        """One line for logs and UNAVAILABLE answers (no URL, no credentials)."""
        if self.state == CURRENT:
            return f"database schema at {self.head}"
        if self.state == NEWER:
            return f"database schema at {self.current}, newer than this code's {self.head} and compatible"
        if self.state == UNREACHABLE:
            return f"database unreachable ({self.detail}); schema needed: {self.head}"
        if self.state == INCOMPATIBLE:
            return (
                f"database schema at {self.current} is newer than this code's {self.head} and not compatible "
                f"({self.detail}): deploy the release that migrated it"
            )
        return f"database schema at {self.current}, needs {self.head}: run automation-migrate"


@functools.cache
def code_revisions() -> tuple[str, frozenset[str]]:
    """The code's head revision and every revision it knows (from shared/db/migrations)."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_current_head()
    assert head is not None, "migrations have a single head"
    return head, frozenset(r.revision for r in script.walk_revisions())


def check_schema(engine: Engine) -> SchemaStatus:
    """The database's schema compared with the code's (one short connection)."""
    head, known = code_revisions()
    try:
        with engine.connect() as conn:
            revisions = sorted(MigrationContext.configure(conn).get_current_heads())
            if not revisions:
                return SchemaStatus(MISSING, NO_REVISION, head)
            current = ",".join(revisions)
            if head in revisions:
                return SchemaStatus(CURRENT, current, head)
            if all(r in known for r in revisions):
                return SchemaStatus(BEHIND, current, head)
            problems = model_mismatches(conn)
    except SQLAlchemyError as exc:
        return SchemaStatus(UNREACHABLE, "?", head, type(exc.__cause__ or exc).__name__)
    if problems:
        return SchemaStatus(INCOMPATIBLE, current, head, "; ".join(problems))
    return SchemaStatus(NEWER, current, head)


def model_mismatches(conn: Connection) -> list[str]:
    """What this code's models need that the database lacks, or has in a form the code cannot write."""
    inspector = inspect(conn)
    problems = []
    for table in Base.metadata.sorted_tables:
        if not inspector.has_table(table.name):
            problems.append(f"table {table.name} is missing")
            continue
        columns = {c["name"]: c for c in inspector.get_columns(table.name)}
        problems += [
            f"column {table.name}.{c.name} is missing" for c in table.columns if c.name not in columns
        ]
        unknown = [c for name, c in columns.items() if name not in table.columns]
        problems += [
            f"column {table.name}.{c['name']} is NOT NULL without a default"
            for c in unknown
            if not c["nullable"] and c.get("default") is None and c.get("autoincrement") is not True
        ]
        indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        indexes |= {u["name"] for u in inspector.get_unique_constraints(table.name)}
        problems += [f"index {i.name} is missing" for i in table.indexes if i.name not in indexes]
    return problems


def wait_for_schema(
    engine: Engine,
    stop: threading.Event,
    *,
    progress: Callable[[], object] = lambda: None,
    check_every_s: float = constants.SCHEMA_CHECK_INTERVAL_S,
    log_every_s: float = constants.SCHEMA_LOG_INTERVAL_S,
) -> SchemaStatus | None:
    """Check until the schema is usable and return its status; None if ``stop`` was set first. While
    waiting, a line every ``log_every_s`` names the database's and the needed revision; ``progress`` is
    called after each check (waiting is what the process should be doing: liveness.py)."""
    logged_at = None
    while True:
        status = check_schema(engine)
        progress()
        if status.usable:
            if status.state == NEWER or logged_at is not None:  # say so when it was not (or is unusual)
                level = logging.WARNING if status.state == NEWER else logging.INFO
                log.log(level, "database schema usable: %s", status.describe(), extra=_fields(status))
            return status
        now = time.monotonic()
        if logged_at is None or now - logged_at >= log_every_s:
            logged_at = now
            level = logging.ERROR if status.state == INCOMPATIBLE else logging.WARNING
            log.log(level, "waiting for the database schema: %s", status.describe(), extra=_fields(status))
        if stop.wait(check_every_s):
            return None


def _fields(status: SchemaStatus) -> dict[str, str]:
    return {"schema_state": status.state, "schema_revision": status.current, "schema_needed": status.head}


def watch_schema(engine: Engine, stop: threading.Event) -> threading.Thread:
    """``wait_for_schema`` in a daemon thread (the trigger: it serves meanwhile; the lines tell why its
    operator RPCs answer UNAVAILABLE); the engine is disposed of when it ends."""

    def watch() -> None:
        try:
            wait_for_schema(engine, stop)
        finally:
            engine.dispose()

    thread = threading.Thread(target=watch, name="schema-watch", daemon=True)
    thread.start()
    return thread


def is_missing_schema(exc: BaseException) -> bool:
    """True if a database error says a table or column is not there (the schema is not migrated)."""
    if not isinstance(exc, DBAPIError):
        return False
    if getattr(exc.orig, "sqlstate", None) in _UNDEFINED_SQLSTATES:
        return True
    return any(words in str(exc.orig) for words in _SQLITE_UNDEFINED)
