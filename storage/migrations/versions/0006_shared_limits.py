"""limits every process shares: members' command windows and the platforms' send slots

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-06 12:00:00

member_windows holds each member's commands in one chat over the current minute (the per-member
rate limit), send_slots the times of the bot's latest sends per platform limit (its overall
one and each group's). Both were kept in one process's memory, so with several processes on one
database each counted only what it saw. send_slots is used on PostgreSQL only; SQLite keeps the
column as text.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "member_windows",
        sa.Column("platform", sa.String(16), primary_key=True),
        sa.Column("chat_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.create_index("ix_member_windows_started", "member_windows", ["started_at"])
    op.create_table(
        "send_slots",
        sa.Column("key", sa.String(96), primary_key=True),
        sa.Column("slots", postgresql.ARRAY(sa.DateTime(timezone=True))
                  .with_variant(sa.Text(), "sqlite"), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("send_slots")
    op.drop_index("ix_member_windows_started", table_name="member_windows")
    op.drop_table("member_windows")
