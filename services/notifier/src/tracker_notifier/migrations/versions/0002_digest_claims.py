"""Digest claims: at most one digest per user and local day; an index to find due users.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 21:26:02.709164
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "digest_claims",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column(
            "claimed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["recipients.user_id"],
            name=op.f("fk_digest_claims_user_id_recipients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "day", name=op.f("pk_digest_claims")),
    )
    op.create_index(
        op.f("ix_digest_claims_claimed_at"), "digest_claims", ["claimed_at"], unique=False
    )
    op.create_index(
        "ix_recipients_digest",
        "recipients",
        ["timezone", "user_id"],
        unique=False,
        postgresql_where=sa.text("digest_enabled"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_recipients_digest", table_name="recipients", postgresql_where=sa.text("digest_enabled")
    )
    op.drop_index(op.f("ix_digest_claims_claimed_at"), table_name="digest_claims")
    op.drop_table("digest_claims")
