"""SQLite statements run on the event loop, so a write lock held by another connection must be
waited for on the loop (asyncio.sleep), never inside SQLite, which would freeze every task."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import text

from bot.app import open_app
from bot.clock import SimClock
from bot.commands.events import Actor, Chat, CommandReceived
from storage.engine import make_engine
from tests.conftest import START


async def test_a_write_lock_held_elsewhere_is_waited_for_without_blocking_the_loop(tmp_path):
    path = str(tmp_path / "crew.sqlite3")
    app = await open_app(path, SimClock(START))
    other = make_engine(path)  # another engine: another process, as far as SQLite knows
    try:
        async with other.connect() as conn:  # BEGIN IMMEDIATE: holds the write lock
            await conn.execute(text("INSERT INTO seen_events (platform, event_id, at) "
                                    "VALUES ('x', 'held', '2026-11-02 09:00:00')"))

            async def release() -> None:  # runs only if the loop is free while we wait
                await asyncio.sleep(0.3)
                await conn.commit()

            releasing = asyncio.create_task(release())
            began = time.monotonic()
            replies = await app.game.handle(CommandReceived(
                Chat("telegram", "-1", "Crew"), Actor("u1", "Alice", True), "/ask a lift",
                event_id="e1"))
            waited = time.monotonic() - began
            await releasing
        assert "asks" in " ".join(r.plain() for r in replies)
        assert 0.25 <= waited < 10, waited
    finally:
        await other.dispose()
        await app.close()
