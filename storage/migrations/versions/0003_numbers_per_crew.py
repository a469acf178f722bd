"""numbers members type, counted within the crew and the kind

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 10:00:00

Asks, offers and money talks are numbered per crew and kind (a crew's first ask is ask 1, its
first offer offer 1), conflicts and ventures per crew. Existing items are numbered in the order
they were made (their id order). Ids stay as they were: buttons and message links already
posted carry them.

The columns are added NOT NULL with a default of 0, filled, and made unique by a unique index:
SQLite can do all of that in place, whereas a NOT NULL column or a unique constraint added
any other way rebuilds the table, and dropping a table that other tables reference (ventures,
by venture_members) fails while foreign keys are enforced. PostgreSQL then drops the default;
SQLite keeps it (dropping it would rebuild the table too), but every insert gives a number.
Needs SQLite 3.33 (UPDATE ... FROM) or later.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table, its unique index, and what its numbers count within
NUMBERED = (
    ("favours", "uq_favours_number", ("crew_id", "kind")),
    ("conflicts", "uq_conflicts_number", ("crew_id",)),
    ("ventures", "uq_ventures_number", ("crew_id",)),
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, index, within in NUMBERED:
        op.add_column(table, sa.Column("number", sa.Integer(), nullable=False,
                                       server_default=sa.text("0")))
        partition = ", ".join(within)
        op.execute(
            f"UPDATE {table} SET number = ranked.n FROM ("
            f"SELECT id, ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY id) AS n "
            f"FROM {table}) AS ranked WHERE ranked.id = {table}.id")
        if postgres:
            op.alter_column(table, "number", server_default=None)
        op.create_index(index, table, [*within, "number"], unique=True)


def downgrade() -> None:
    for table, index, _ in reversed(NUMBERED):
        op.drop_index(index, table_name=table)
        op.drop_column(table, "number")
