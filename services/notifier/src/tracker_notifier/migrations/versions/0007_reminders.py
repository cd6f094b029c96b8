"""Reminders: the projection of each task's reminder, and the count of skipped ones.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reminders",
        sa.Column("task_id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("due_date", sa.Date()),
        sa.Column("due_time", sa.String(5)),
        sa.Column("remind_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("task_updated_at", sa.DateTime(timezone=True)),
        sa.Column("fire_at", sa.DateTime(timezone=True)),
        sa.Column("fired_for", sa.DateTime(timezone=True)),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_reminders_user_id", "reminders", ["user_id"])
    op.create_index(
        "ix_reminders_due",
        "reminders",
        ["fire_at"],
        postgresql_where=sa.text("fire_at IS NOT NULL"),
    )
    op.create_index(
        "ix_reminders_deleted",
        "reminders",
        ["deleted_at"],
        postgresql_where=sa.text("deleted_at IS NOT NULL"),
    )
    op.create_table(
        "reminder_skips",
        sa.Column("reason", sa.String(16), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )


def downgrade() -> None:
    op.drop_table("reminder_skips")
    op.drop_table("reminders")
