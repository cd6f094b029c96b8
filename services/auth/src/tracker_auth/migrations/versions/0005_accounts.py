"""Accounts a person can live with: confirmed addresses, reminder preference, addresses
compared casefolded, confirmation and reset links, the refresh grace, and rate limits for
more than logins.

- ``users.email_verified``: accounts that exist now count as confirmed (nobody's digest
  stops silently); new registrations start unconfirmed.
- ``users.email_key``: the address casefolded in Python (``emails.email_key``), unique,
  replacing the unique ``lower(email)`` index, whose ``lower`` is not Python's.
- ``account_tokens``: digests of mailed links.
- ``refresh_tokens.successor_sealed``: see ``tokens.seal_successor``.
- ``login_throttles`` becomes ``rate_limits`` (``failures`` becomes ``hits``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PURPOSE = sa.Enum("verify", "reset", name="account_token_purpose")


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column(
            "reminders_enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False
        ),
    )
    # Existing rows take true; the default for new rows is false.
    op.add_column(
        "users",
        sa.Column("email_verified", sa.Boolean(), server_default=sa.text("true"), nullable=False),
    )
    op.alter_column("users", "email_verified", server_default=sa.text("false"))
    _add_email_key()

    op.create_table(
        "account_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", PURPOSE, nullable=False),
        sa.Column("token_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_account_tokens_user_id_users"),
            ondelete="CASCADE",
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_tokens")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_account_tokens_token_digest")),
    )
    op.create_index(
        op.f("ix_account_tokens_expires_at"), "account_tokens", ["expires_at"], unique=False
    )
    op.create_index(
        "ix_account_tokens_user_id_purpose", "account_tokens", ["user_id", "purpose"], unique=False
    )

    op.add_column(
        "refresh_tokens", sa.Column("successor_sealed", sa.LargeBinary(length=32), nullable=True)
    )

    op.rename_table("login_throttles", "rate_limits")
    op.alter_column("rate_limits", "failures", new_column_name="hits")
    op.execute("ALTER TABLE rate_limits RENAME CONSTRAINT pk_login_throttles TO pk_rate_limits")
    op.execute(
        "ALTER INDEX ix_login_throttles_window_started_at "
        "RENAME TO ix_rate_limits_window_started_at"
    )


def _add_email_key() -> None:
    op.add_column("users", sa.Column("email_key", sa.String(length=254), nullable=True))
    connection = op.get_bind()
    users = sa.table("users", sa.column("id", sa.Uuid()), sa.column("email", sa.String()))
    keys: dict[str, object] = {}
    for user_id, email in connection.execute(sa.select(users.c.id, users.c.email)):
        key = email.casefold()
        if key in keys:
            raise RuntimeError(
                f"users {keys[key]} and {user_id} have addresses that differ only in case; "
                "merge or rename one of them, then migrate again"
            )
        keys[key] = user_id
        connection.execute(
            sa.text("UPDATE users SET email_key = :key WHERE id = :id"), {"key": key, "id": user_id}
        )
    op.alter_column("users", "email_key", nullable=False)
    op.drop_index("uq_users_email_lower", table_name="users")
    op.create_unique_constraint(op.f("uq_users_email_key"), "users", ["email_key"])


def downgrade() -> None:
    op.execute(
        "ALTER INDEX ix_rate_limits_window_started_at "
        "RENAME TO ix_login_throttles_window_started_at"
    )
    op.execute("ALTER TABLE rate_limits RENAME CONSTRAINT pk_rate_limits TO pk_login_throttles")
    op.alter_column("rate_limits", "hits", new_column_name="failures")
    op.rename_table("rate_limits", "login_throttles")
    op.drop_column("refresh_tokens", "successor_sealed")
    op.drop_index("ix_account_tokens_user_id_purpose", table_name="account_tokens")
    op.drop_index(op.f("ix_account_tokens_expires_at"), table_name="account_tokens")
    op.drop_table("account_tokens")
    PURPOSE.drop(op.get_bind())
    op.drop_constraint(op.f("uq_users_email_key"), "users", type_="unique")
    op.create_index(
        "uq_users_email_lower", "users", [sa.literal_column("lower(email)")], unique=True
    )
    op.drop_column("users", "email_key")
    op.drop_column("users", "email_verified")
    op.drop_column("users", "reminders_enabled")
