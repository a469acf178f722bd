"""every table that grows with play carries its crew

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 12:15:00

Check-ins, listens, meeting rosters and venture members get the crew_id of the circle,
check-in, meeting or venture they belong to; seen events the crew of their chat where it is
known (a chat's very first event makes its crew, so that one stays NULL). Each but seen events
(written by every event, never read by crew) is indexed, so a crew's rows are found without a
scan, and together they let the schema be distributed by crew
(docs/SCALING.md). The columns are nullable: SQLite cannot add a NOT NULL column with a foreign
key in place, and rebuilding `checkins` fails while `listens` references it with foreign keys
enforced; every insert sets them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table, its index, and how an existing row finds its crew
CREWED = (
    ("checkins", "ix_checkins_crew",
     "SELECT circles.crew_id FROM circles WHERE circles.id = checkins.circle_id"),
    ("listens", "ix_listens_crew",
     "SELECT circles.crew_id FROM checkins JOIN circles ON circles.id = checkins.circle_id "
     "WHERE checkins.id = listens.checkin_id"),
    ("meeting_roster", "ix_meeting_roster_crew",
     "SELECT meetings.crew_id FROM meetings WHERE meetings.id = meeting_roster.meeting_id"),
    ("venture_members", "ix_venture_members_crew",
     "SELECT ventures.crew_id FROM ventures WHERE ventures.id = venture_members.venture_id"),
)


def _add_crew_id(table: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        # In place: SQLite's ADD COLUMN takes an inline foreign key whose default is NULL.
        op.execute(f"ALTER TABLE {table} ADD COLUMN crew_id INTEGER REFERENCES crews (id)")
    else:
        op.add_column(table, sa.Column("crew_id", sa.BigInteger(), sa.ForeignKey("crews.id"),
                                       nullable=True))


def upgrade() -> None:
    for table, index, crew_of in CREWED:
        _add_crew_id(table)
        op.execute(f"UPDATE {table} SET crew_id = ({crew_of})")
        op.create_index(index, table, ["crew_id"])
    _add_crew_id("seen_events")  # not indexed: written by every event, never read by crew


def downgrade() -> None:
    with op.batch_alter_table("seen_events") as batch:
        batch.drop_column("crew_id")
    for table, index, _ in reversed(CREWED):
        op.drop_index(index, table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("crew_id")
