"""Deliveries record when their latest attempt began, so that a tick can find the ones a
dead worker left ``sending``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 19:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("attempted_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("deliveries", "attempted_at")
