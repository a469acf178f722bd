"""SQLite statements run on the event loop, so a write lock held by another connection must be
waited for on the loop (asyncio.sleep), never inside SQLite, which would freeze every task."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import text

from bot.app import open_app
from bot.clock import SimClock
from bot.commands.events import Actor, Chat, CommandReceived
from storage import sqlite_loop
from storage.engine import make_engine
from storage.sqlite_loop import CHECKPOINT_EVERY, loop_sqlite
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


async def test_wal_checkpoints_run_off_the_loop_and_keep_the_wal_small(tmp_path, monkeypatch):
    # Past RESTART_PAGES the worker waits for writers to pause, so the WAL can start over.
    monkeypatch.setattr(sqlite_loop, "RESTART_PAGES", 100)
    path = tmp_path / "crew.sqlite3"
    app = await open_app(str(path), SimClock(START))
    loop = loop_sqlite(app.engine)
    assert loop is not None
    checkpoints = loop.checkpoints
    try:
        for round_ in range(3):
            for n in range(CHECKPOINT_EVERY):
                async with app.game.uow() as store:
                    await store.first_seen("telegram", f"e{round_}.{n}", START, "chat")
                    await store.commit()
            for _ in range(1000):  # the worker's checkpoint, however slow the machine is
                if checkpoints.done == round_ + 1:
                    break
                await asyncio.sleep(0.01)
            assert checkpoints.done == round_ + 1
        async with await loop.connect() as conn:  # the units of work's: never a checkpoint
            assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar() == 0
        # The WAL is reused from its start after each checkpoint, so it stays about as big
        # as CHECKPOINT_EVERY commits need, not all of them.
        wal = path.with_name(path.name + "-wal").stat().st_size
        assert wal < 3 * CHECKPOINT_EVERY * 4096, wal
    finally:
        await app.close()
