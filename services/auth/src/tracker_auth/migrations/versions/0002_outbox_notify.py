"""Wake the outbox relay on every insert (LISTEN/NOTIFY).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 20:00:00
"""

from collections.abc import Sequence

from alembic import op

from tracker_runtime.outbox import drop_notify_trigger_ddl, notify_trigger_ddl

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in notify_trigger_ddl():
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_notify_trigger_ddl():
        op.execute(statement)
