"""limits every process shares: members' command windows and the platforms' send slots

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 12:00:00

member_windows holds each member's commands in one chat over the current minute (the per-member
rate limit), send_slots the times of the bot's latest sends per platform limit (its overall
one and each group's). Both were kept in one process's memory, so with several processes on one
database each counted only what it saw. send_slots is used on PostgreSQL only, through the
function claim_send_slot (storage/send_slots.py); SQLite keeps the column as text.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# One send's slot under the bot's limit and, for a group, the group's: the earliest time at
# which neither window (the times of its latest `limit` sends, oldest first) would hold more
# than `limit` sends in `period` seconds, by the database's clock. The group's row is locked
# first, then the bot's, always in that order. A group whose window is full until later is
# not claimed (claimed = false, wait = until then): its sender waits and asks again, and the
# bot's window meanwhile serves other chats. Claimed, both windows record the same time.
# Once the send is over, send_slot_sent moves its time in both windows to the database's
# clock then: Telegram surely had the message by that time, however late it went out, so the
# windows count when sends arrived at the latest, never earlier.
CLAIM_FUNCTION = """
CREATE FUNCTION claim_send_slot(
    bot_key text, bot_limit integer, bot_period double precision,
    group_key text, group_limit integer, group_period double precision,
    after double precision, OUT wait double precision, OUT claimed boolean,
    OUT slot timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    started timestamptz := clock_timestamp();
    at timestamptz := clock_timestamp() + make_interval(secs => after);
    bot_slots timestamptz[];
    group_slots timestamptz[];
BEGIN
    IF group_key IS NOT NULL THEN
        INSERT INTO send_slots (key, slots) VALUES (group_key, '{}') ON CONFLICT DO NOTHING;
        SELECT slots INTO group_slots FROM send_slots WHERE key = group_key FOR UPDATE;
        at := greatest(at, group_slots[cardinality(group_slots)],
                       CASE WHEN cardinality(group_slots) >= group_limit THEN
                       group_slots[cardinality(group_slots) + 1 - group_limit]
                       + make_interval(secs => group_period) END);
        IF at > started + make_interval(secs => after) + interval '10 milliseconds' THEN
            wait := extract(epoch FROM at - clock_timestamp());
            claimed := false;
            RETURN;
        END IF;
    END IF;
    INSERT INTO send_slots (key, slots) VALUES (bot_key, '{}') ON CONFLICT DO NOTHING;
    SELECT slots INTO bot_slots FROM send_slots WHERE key = bot_key FOR UPDATE;
    at := greatest(at, bot_slots[cardinality(bot_slots)],
                   CASE WHEN cardinality(bot_slots) >= bot_limit THEN
                   bot_slots[cardinality(bot_slots) + 1 - bot_limit]
                   + make_interval(secs => bot_period) END);
    UPDATE send_slots SET slots = (bot_slots || at)[
        greatest(1, cardinality(bot_slots) + 2 - bot_limit):] WHERE key = bot_key;
    IF group_key IS NOT NULL THEN
        UPDATE send_slots SET slots = (group_slots || at)[
            greatest(1, cardinality(group_slots) + 2 - group_limit):] WHERE key = group_key;
    END IF;
    wait := greatest(0, extract(epoch FROM at - clock_timestamp()));
    claimed := true;
    slot := at;
END
$$
"""
SENT_FUNCTION = """
CREATE FUNCTION send_slot_sent(bot_key text, group_key text, slot timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE send_slots SET slots = ARRAY(
        SELECT CASE WHEN s = slot THEN greatest(s, clock_timestamp()) ELSE s END
        FROM unnest(slots) AS s ORDER BY 1)
    WHERE key = group_key;
    UPDATE send_slots SET slots = ARRAY(
        SELECT CASE WHEN s = slot THEN greatest(s, clock_timestamp()) ELSE s END
        FROM unnest(slots) AS s ORDER BY 1)
    WHERE key = bot_key;
END
$$
"""
DROP_FUNCTIONS = ("DROP FUNCTION send_slot_sent(text, text, timestamptz)",
                  "DROP FUNCTION claim_send_slot(text, integer, double precision, text, integer, "
                  "double precision, double precision)")

revision: str = "0006"
down_revision: str | None = "0005"
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
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CLAIM_FUNCTION)
        op.execute(SENT_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in DROP_FUNCTIONS:
            op.execute(statement)
    op.drop_table("send_slots")
    op.drop_index("ix_member_windows_started", table_name="member_windows")
    op.drop_table("member_windows")
