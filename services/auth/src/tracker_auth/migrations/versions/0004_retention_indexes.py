"""Index what the retention deletes by: a session's end and a failure window's start.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 20:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_sessions_expires_at"), "sessions", ["expires_at"], unique=False)
    op.create_index(
        op.f("ix_login_throttles_window_started_at"),
        "login_throttles",
        ["window_started_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_login_throttles_window_started_at"), table_name="login_throttles")
    op.drop_index(op.f("ix_sessions_expires_at"), table_name="sessions")
