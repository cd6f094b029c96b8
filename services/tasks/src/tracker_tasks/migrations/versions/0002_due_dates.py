"""Due dates, due times and reminder instants on tasks, and the index of open dated tasks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 09:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_DATED = sa.text("status = 'open' AND due_date IS NOT NULL")


def upgrade() -> None:
    op.add_column("tasks", sa.Column("due_date", sa.Date(), nullable=True))
    op.add_column("tasks", sa.Column("due_time", sa.Time(timezone=False), nullable=True))
    op.add_column("tasks", sa.Column("reminder_at", sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(
        op.f("ck_tasks_due_time_needs_date"),
        "tasks",
        "due_time IS NULL OR due_date IS NOT NULL",
    )
    op.create_index(
        "ix_tasks_owner_open_due",
        "tasks",
        ["owner_id", "due_date", "due_time", "id"],
        unique=False,
        postgresql_where=OPEN_DATED,
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_owner_open_due", table_name="tasks", postgresql_where=OPEN_DATED)
    op.drop_constraint(op.f("ck_tasks_due_time_needs_date"), "tasks", type_="check")
    op.drop_column("tasks", "reminder_at")
    op.drop_column("tasks", "due_time")
    op.drop_column("tasks", "due_date")
