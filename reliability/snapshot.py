"""Every game table's rows, to show that something changed nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.models import Base

# Not game state: which platform events were already seen (a refusal records its event too, so
# a redelivered one is not answered twice), the members' rate-limit minutes (a refused command
# counts too) and the platforms' send windows.
IGNORED = {"seen_events", "member_windows", "send_slots"}


async def snapshot(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in IGNORED:
                continue
            rows = (await conn.execute(select(table).order_by(*table.primary_key.columns))).all()
            out[table.name] = [tuple(row) for row in rows]
    return out
