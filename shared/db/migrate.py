"""Apply the Alembic migrations to the configured database: ``automation-migrate``.

Runs as an init container of every trigger pod (deploy/k8s/base/trigger.yaml), and from ``make run`` /
test fixtures. On PostgreSQL concurrent runs (replicas starting together) take turns on an advisory lock:
the first upgrades, the others then find the schema at head and do nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# pg_advisory_lock key held while migrating (any fixed bigint; "automate" in ASCII).
MIGRATION_LOCK_KEY = 0x6175746F6D617465


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``."""
    from sqlalchemy import text

    from shared.db.engine import make_engine  # creates the SQLite folder if needed

    engine = make_engine(url)
    try:
        if engine.dialect.name != "postgresql":
            command.upgrade(alembic_config(url), revision)
            return
        # A session lock on a connection of its own, kept while Alembic migrates on another.
        with engine.connect() as lock:
            lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            lock.commit()
            try:
                command.upgrade(alembic_config(url), revision)
            finally:
                lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                lock.commit()
    finally:
        engine.dispose()


def main() -> None:
    from shared.config import Settings
    from shared.logs import configure_logging

    settings = Settings.from_environment()
    configure_logging(settings.log_level)
    upgrade(settings.sqlalchemy_url)
    logging.getLogger(__name__).info("database migrated to head")


if __name__ == "__main__":
    main()
