"""Discord IDENTIFY turns shared by every process on one PostgreSQL database (advisory locks)."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

DISCORD_IDENTIFY = 0x43_52_57_44  # "CRWD": the lock's first key; the second is the bucket
TAKE = text("SELECT pg_advisory_xact_lock(:kind, :bucket)")


class SharedTurns:
    """A bucket's turn to IDENTIFY is a transaction advisory lock held for `hold` seconds from
    the moment it is taken, on a connection of its own: another process's shard of the same
    bucket waits until then. A process that dies frees its turn with its connection."""

    def __init__(self, engine: AsyncEngine, hold: float) -> None:
        self.engine = engine
        self.hold = hold
        self.holding: set[asyncio.Task[None]] = set()

    async def take(self, bucket: int) -> None:
        """Returns once this process has the bucket's turn (held on for `hold` seconds)."""
        taken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(self._hold(bucket, taken))
        self.holding.add(task)
        task.add_done_callback(self.holding.discard)
        await taken

    async def _hold(self, bucket: int, taken: asyncio.Future[None]) -> None:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(TAKE, {"kind": DISCORD_IDENTIFY, "bucket": bucket})
                if not taken.done():
                    taken.set_result(None)
                await asyncio.sleep(self.hold)
        except Exception as error:  # handed to the waiting shard, which goes on without a turn
            if not taken.done():
                taken.set_exception(error)

    async def close(self) -> None:
        for task in list(self.holding):
            task.cancel()
        for task in list(self.holding):
            with contextlib.suppress(asyncio.CancelledError):
                await task


def shared_turns(engine: AsyncEngine, hold: float) -> SharedTurns | None:
    """Turns shared through PostgreSQL; None on SQLite (one process per database file)."""
    return SharedTurns(engine, hold) if engine.dialect.name == "postgresql" else None
