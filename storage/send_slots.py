"""Send slots on PostgreSQL: a platform's flood limits kept for every process of the bot."""

from __future__ import annotations

from sqlalchemy import Float, Integer, String, bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

# One row per limit (the bot's own, each group's) holds the times of its latest `limit` sends,
# oldest first. A claim takes the earliest time that keeps every `period` to at most `limit`
# sends (never before the row's latest slot, so the times stay in order), appends it, and
# returns how long to wait for it, all by the database's clock: processes whose clocks
# disagree still agree on the slots. The row lock serialises claims; there is no polling.
_CLAIM = text("""
INSERT INTO send_slots AS s (key, slots)
VALUES (:key, ARRAY[clock_timestamp() + make_interval(secs => :after)])
ON CONFLICT (key) DO UPDATE SET slots = (
    SELECT (s.slots || t.at)[greatest(1, cardinality(s.slots) + 2 - :limit):]
    FROM (SELECT greatest(
        clock_timestamp() + make_interval(secs => :after),
        s.slots[cardinality(s.slots)],
        CASE WHEN cardinality(s.slots) >= :limit
             THEN s.slots[cardinality(s.slots) + 1 - :limit] + make_interval(secs => :period)
        END) AS at) AS t)
RETURNING greatest(0, extract(epoch FROM slots[cardinality(slots)] - clock_timestamp()))::float
""").bindparams(bindparam("key", type_=String), bindparam("limit", type_=Integer),
                bindparam("period", type_=Float), bindparam("after", type_=Float))

_FORGET = text("DELETE FROM send_slots WHERE slots[cardinality(slots)] < clock_timestamp() "
               "- make_interval(secs => :older)").bindparams(bindparam("older", type_=Float))


class SendSlots:
    """Claims send slots in the `send_slots` table, one statement each, in autocommit: a
    claim is never rolled back. A slot whose send then fails or is cancelled is simply not
    used; the limit is never exceeded for it, the bot only sends a little less."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def claim(self, key: str, limit: int, period: float, after: float = 0.0) -> float:
        """Seconds to wait before sending under `key`'s limit of `limit` sends in any `period`
        seconds; `after`: not sooner than that many seconds from now."""
        async with self.engine.connect() as conn:
            wait = await conn.scalar(_CLAIM, {"key": key[:96], "limit": limit,
                                              "period": period, "after": after})
        return float(wait or 0.0)

    async def forget(self, older: float) -> None:
        """Forgets the limits whose latest slot is more than `older` seconds past."""
        async with self.engine.connect() as conn:
            await conn.execute(_FORGET, {"older": older})


def shared_slots(engine: AsyncEngine) -> SendSlots | None:
    """Slots every process sees on PostgreSQL; None on SQLite, which one process serves."""
    return SendSlots(engine) if engine.dialect.name == "postgresql" else None
