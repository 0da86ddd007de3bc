"""Operations: the failure class, replay link and W3C traceparent of a run, and indexes for listing
dead letters and pruning by age.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("event_log") as batch:
        batch.add_column(sa.Column("error_class", sa.String(64), nullable=True))
        batch.add_column(sa.Column("replay_of", sa.String(64), nullable=True))
        batch.add_column(sa.Column("traceparent", sa.String(55), nullable=True))
    op.create_index("ix_event_log_status_id", "event_log", ["status", "id"])
    op.create_index("ix_event_log_finished_at", "event_log", ["finished_at"])


def downgrade() -> None:
    op.drop_index("ix_event_log_finished_at", table_name="event_log")
    op.drop_index("ix_event_log_status_id", table_name="event_log")
    with op.batch_alter_table("event_log") as batch:
        batch.drop_column("traceparent")
        batch.drop_column("replay_of")
        batch.drop_column("error_class")
