"""Send slots on PostgreSQL: a platform's flood limits kept for every process of the bot."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Boolean, DateTime, Float, Integer, String, bindparam, column, text
from sqlalchemy.ext.asyncio import AsyncEngine

# One row per limit (the bot's overall one, each group's) holds the times of its latest
# `limit` sends, oldest first. claim_send_slot (the function migration 0006 creates) takes a
# send's time in both of its windows in one statement, by the database's clock: processes whose
# clocks disagree still agree on the slots. Its row locks serialise claims; nothing polls.
_CLAIM = text(
    "SELECT wait, claimed, slot FROM claim_send_slot(:bot_key, :bot_limit, :bot_period, "
    ":group_key, :group_limit, :group_period, :after)"
).bindparams(
    bindparam("bot_key", type_=String), bindparam("bot_limit", type_=Integer),
    bindparam("bot_period", type_=Float), bindparam("group_key", type_=String),
    bindparam("group_limit", type_=Integer), bindparam("group_period", type_=Float),
    bindparam("after", type_=Float),
).columns(column("wait", Float), column("claimed", Boolean),
         column("slot", DateTime(timezone=True)))
_SENT = text("SELECT send_slot_sent(:bot_key, :group_key, :slot)").bindparams(
    bindparam("bot_key", type_=String), bindparam("group_key", type_=String),
    bindparam("slot", type_=DateTime(timezone=True)))

# A window Telegram asked us to leave alone (429): its next send no sooner than `after`.
_HOLD = text("""
INSERT INTO send_slots AS s (key, slots)
VALUES (:key, ARRAY[clock_timestamp() + make_interval(secs => :after)])
ON CONFLICT (key) DO UPDATE SET slots = (s.slots || greatest(
    s.slots[cardinality(s.slots)], clock_timestamp() + make_interval(secs => :after))
)[greatest(1, cardinality(s.slots) + 2 - :limit):]
""").bindparams(bindparam("key", type_=String), bindparam("after", type_=Float),
                bindparam("limit", type_=Integer))

_FORGET = text("DELETE FROM send_slots WHERE cardinality(slots) = 0 OR slots[cardinality(slots)] "
               "< clock_timestamp() - make_interval(secs => :older)"
               ).bindparams(bindparam("older", type_=Float))


class Slot(NamedTuple):
    """A claimed send: not before `due` (the event loop's clock; the database gave the slot
    before its answer arrived, so never early), and `at`, the slot on the database's clock.
    `claimed` False: no slot, but when the group's window frees (claim again then)."""

    due: float
    claimed: bool
    at: datetime | None


class SendSlots:
    """Claims send slots in the `send_slots` table in autocommit: a claim is never rolled
    back. A send that fails still counts (it may have reached Telegram); one cancelled before
    it went is a slot not used: the bot only sends a little less."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def claim(self, bot: tuple[str, int, float],
                    group: tuple[str, int, float] | None = None) -> Slot:
        """A send's slot in the bot's window (key, limit, period in seconds) and the group's;
        or, while the group's window is full, when it frees. Tell `sent` when it is over."""
        group_key, group_limit, group_period = group or (None, None, None)
        loop = asyncio.get_running_loop()
        async with self.engine.connect() as conn:
            row = (await conn.execute(_CLAIM, {
                "bot_key": bot[0][:96], "bot_limit": bot[1], "bot_period": bot[2],
                "group_key": group_key[:96] if group_key else None,
                "group_limit": group_limit, "group_period": group_period, "after": 0.0})).one()
            answered = loop.time()
        return Slot(answered + max(0.0, float(row.wait)), bool(row.claimed), row.slot)

    async def sent(self, bot: str, group: str | None, slot: Slot) -> None:
        """The send of `slot` is over (sent or failed): its windows count it as of now, by the
        database's clock, which is never before Telegram had it."""
        async with self.engine.connect() as conn:
            await conn.execute(_SENT, {"bot_key": bot[:96],
                                       "group_key": group[:96] if group else None,
                                       "slot": slot.at})

    async def hold(self, key: str, limit: int, after: float) -> None:
        """No send in `key`'s window (of `limit`) for `after` seconds, in any process."""
        async with self.engine.connect() as conn:
            await conn.execute(_HOLD, {"key": key[:96], "limit": limit, "after": after})

    async def forget(self, older: float) -> None:
        """Forgets the windows whose latest send is more than `older` seconds past."""
        async with self.engine.connect() as conn:
            await conn.execute(_FORGET, {"older": older})


def shared_slots(engine: AsyncEngine) -> SendSlots | None:
    """Slots every process sees on PostgreSQL; None on SQLite, which one process serves."""
    return SendSlots(engine) if engine.dialect.name == "postgresql" else None
