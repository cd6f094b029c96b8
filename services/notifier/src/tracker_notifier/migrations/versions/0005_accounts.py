"""Recipients say whether they confirmed their address and want reminders; deleted
accounts leave only their id, for a while, so that a stale event cannot bring them back.

The recipients already stored count as confirmed: they registered before addresses were
confirmed, and their digest must not stop silently.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 08:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "recipients",
        sa.Column("reminders_enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    # Filled in as true for every existing row, then without a default: new rows say it.
    op.add_column(
        "recipients",
        sa.Column("email_verified", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.alter_column("recipients", "email_verified", server_default=None)
    op.drop_index(
        "ix_recipients_digest",
        table_name="recipients",
        postgresql_where=sa.text("digest_enabled"),
    )
    op.create_index(
        "ix_recipients_digest",
        "recipients",
        ["timezone", "user_id"],
        unique=False,
        postgresql_where=sa.text("digest_enabled AND email_verified"),
    )
    op.create_table(
        "erased_users",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "erased_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_erased_users")),
    )
    op.create_index(op.f("ix_erased_users_erased_at"), "erased_users", ["erased_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_erased_users_erased_at"), table_name="erased_users")
    op.drop_table("erased_users")
    op.drop_index(
        "ix_recipients_digest",
        table_name="recipients",
        postgresql_where=sa.text("digest_enabled AND email_verified"),
    )
    op.create_index(
        "ix_recipients_digest",
        "recipients",
        ["timezone", "user_id"],
        unique=False,
        postgresql_where=sa.text("digest_enabled"),
    )
    op.drop_column("recipients", "email_verified")
    op.drop_column("recipients", "reminders_enabled")
