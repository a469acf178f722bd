"""replies kept with the event they answer

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 12:00:00

A platform event's replies are committed in the event's own transaction and deleted once they
went out, so an event redelivered after a crash between the commit and the replies gets
them (once), and one redelivered after they went gets nothing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "replies",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(96), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("holder", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("platform", "event_id"),
    )


def downgrade() -> None:
    op.drop_table("replies")
