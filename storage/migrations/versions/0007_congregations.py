"""congregations: crews side by side, their stewards, lobbies, people looking and knocks

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 12:00:00

New tables only; no existing table changes. A crew is in at most one congregation (its id is
the key of congregation_crews). A lobby is one chat per platform; a person's lobby words live in
lobby_looking only while they look.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, storage.models.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "congregations",
        sa.Column("id", BIG, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "congregation_crews",
        sa.Column("crew_id", BIG, nullable=False),
        sa.Column("congregation_id", BIG, nullable=False),
        sa.Column("server", sa.String(length=64), nullable=False),
        _time("joined_at"),
        sa.ForeignKeyConstraint(["crew_id"], ["crews.id"]),
        sa.ForeignKeyConstraint(["congregation_id"], ["congregations.id"]),
        sa.PrimaryKeyConstraint("crew_id"),
    )
    op.create_index("ix_congregation_crews_congregation", "congregation_crews",
                    ["congregation_id"])
    op.create_table(
        "congregation_stewards",
        sa.Column("id", BIG, nullable=False),
        sa.Column("congregation_id", BIG, nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["congregation_id"], ["congregations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("congregation_id", "platform", "user_id"),
    )
    op.create_table(
        "lobbies",
        sa.Column("id", BIG, nullable=False),
        sa.Column("congregation_id", BIG, nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["congregation_id"], ["congregations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "chat_id"),
        sa.UniqueConstraint("congregation_id", "platform"),
    )
    op.create_table(
        "lobby_looking",
        sa.Column("id", BIG, nullable=False),
        sa.Column("congregation_id", BIG, nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("words", sa.Text(), nullable=False),
        _time("since"),
        sa.ForeignKeyConstraint(["congregation_id"], ["congregations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("congregation_id", "platform", "user_id"),
    )
    op.create_index("ix_lobby_looking_person", "lobby_looking", ["platform", "user_id"])
    op.create_table(
        "knocks",
        sa.Column("id", BIG, nullable=False),
        sa.Column("congregation_id", BIG, nullable=False),
        sa.Column("crew_id", BIG, nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _time("at"),
        _time("decided_at", nullable=True),
        sa.ForeignKeyConstraint(["congregation_id"], ["congregations.id"]),
        sa.ForeignKeyConstraint(["crew_id"], ["crews.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_knocks_person", "knocks", ["platform", "user_id", "at"])
    op.create_index("ix_knocks_crew", "knocks", ["crew_id", "status"])
    op.create_index("uq_knocks_waiting", "knocks", ["crew_id", "platform", "user_id"],
                    unique=True, postgresql_where=sa.text("status = 'waiting'"),
                    sqlite_where=sa.text("status = 'waiting'"))


def downgrade() -> None:
    for index, table in (("uq_knocks_waiting", "knocks"), ("ix_knocks_crew", "knocks"), ("ix_knocks_person", "knocks"),
                         ("ix_lobby_looking_person", "lobby_looking"),
                         ("ix_congregation_crews_congregation", "congregation_crews")):
        op.drop_index(index, table_name=table)
    for table in ("knocks", "lobby_looking", "lobbies", "congregation_stewards",
                  "congregation_crews", "congregations"):
        op.drop_table(table)
