"""At most one succeeded row per idempotency key: the database's guard against a second success,
even when the Redis dedup table was flushed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_SUCCEEDED = sa.text("status = 'succeeded'")


def upgrade() -> None:
    op.create_index(
        "uq_event_log_succeeded_key",
        "event_log",
        ["idempotency_key"],
        unique=True,
        postgresql_where=_SUCCEEDED,
        sqlite_where=_SUCCEEDED,
    )


def downgrade() -> None:
    op.drop_index("uq_event_log_succeeded_key", table_name="event_log")
