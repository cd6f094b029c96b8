"""Index sent and failed deliveries by age, for the retention that deletes them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 20:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_finished",
        "deliveries",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('sent', 'failed')"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_deliveries_finished",
        table_name="deliveries",
        postgresql_where=sa.text("status IN ('sent', 'failed')"),
    )
