"""indexes where EXPLAIN showed scans

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 15:00:00

open_circle (every /checkin) scanned all circles: it binds status as a parameter, which the
partial unique index uq_circles_open cannot serve. Conflicts by crew (every level-4 command
and timer), and the per-member reads and erasures of /mydata and /forgetme (check-ins,
listens, reflections) and a crew's posts scanned their tables.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_circles_crew_status", "circles", ["crew_id", "status"]),
    ("ix_conflicts_crew_status", "conflicts", ["crew_id", "status"]),
    ("ix_checkins_member", "checkins", ["member_id"]),
    ("ix_listens_listener", "listens", ["listener_id"]),
    ("ix_reflections_member", "reflections", ["member_id"]),
    ("ix_outbox_crew", "outbox", ["crew_id"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
