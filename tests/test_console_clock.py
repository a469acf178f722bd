"""The console's clock: only a simulated one moves, and it never starts before the newest time
the database records (read on SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from bot.adapters.console_adapter import Console
from bot.clock import SimClock
from tests.conftest import START


async def test_the_latest_recorded_time_is_that_of_the_newest_record(play_any):
    assert await play_any.app.game.latest_time() is None
    await play_any("""
        alice: /checkin hello
        bob: /checkin hi
    """)
    assert await play_any.app.game.latest_time() == START
    # the circle closes a day later: its closing and the post about it are records
    await play_any(":advance 25h")
    assert await play_any.app.game.latest_time() == datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    # time passing with nothing done records nothing; a later action does
    await play_any(":advance 2h")
    assert await play_any.app.game.latest_time() == datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    await play_any("carol: /offer @alice a song")
    assert await play_any.app.game.latest_time() == datetime(2026, 11, 3, 12, 0, tzinfo=UTC)


async def test_a_real_clock_is_not_moved_and_the_line_says_how_to_time_travel(app):
    out = io.StringIO()
    console = Console(app.game, SimClock(), out)
    before = console.clock()
    for line in (":advance 1d", ":at 2099-01-01T09:00", ":advance nonsense"):
        await console.feed(line)
    today = before.date().isoformat()
    assert out.getvalue().splitlines() == [
        "! the clock is real here, so it cannot be moved. To try time travel, play on a "
        "separate database with a simulated clock: crewbot console --db play.sqlite3 "
        f"--start {today}T09:00"] * 3
    assert (console.clock() - before).total_seconds() < 60
