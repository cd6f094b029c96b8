"""The change feed of the live stream: each person's task changes, numbered in commit
order, and each person's latest number.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 14:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task_changes",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("owner_id", "position", name=op.f("pk_task_changes")),
    )
    op.create_index("ix_task_changes_created_at", "task_changes", ["created_at"], unique=False)
    op.create_table(
        "task_change_heads",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("owner_id", name=op.f("pk_task_change_heads")),
    )


def downgrade() -> None:
    op.drop_table("task_change_heads")
    op.drop_index("ix_task_changes_created_at", table_name="task_changes")
    op.drop_table("task_changes")
