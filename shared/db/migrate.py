"""Apply the Alembic migrations to the configured database: ``automation-migrate``.

Runs as a Kubernetes Job before the services roll out, and from ``make run`` / test fixtures.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``."""
    from shared.db.engine import make_engine  # creates the SQLite folder if needed

    make_engine(url).dispose()
    command.upgrade(alembic_config(url), revision)


def main() -> None:
    from shared.config import Settings
    from shared.logs import configure_logging

    settings = Settings.from_environment()
    configure_logging(settings.log_level)
    upgrade(settings.sqlalchemy_url)
    logging.getLogger(__name__).info("database migrated to head")


if __name__ == "__main__":
    main()
