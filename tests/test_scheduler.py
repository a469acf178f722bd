"""The APScheduler ticker: catch-up at start, then ticks; the database decides what is due."""

from __future__ import annotations

from datetime import timedelta

from bot.adapters.scheduler import Ticker
from bot.commands.events import Actor, Chat, CommandReceived

CHAT = Chat("console", "crew", "crew")


async def test_start_catches_up_work_that_fell_due_while_down(app, clock):
    game = app.game
    for name in ("alice", "bob"):
        await game.handle(CommandReceived(CHAT, Actor(name, name), f"/checkin {name} here"))
    clock.move_to(clock() + timedelta(hours=25))  # the circle's window ended "while down"
    delivered: list[str] = []

    async def deliver() -> None:
        for posted in await game.pending_posts("console"):
            delivered.append(posted.message.plain())
            await game.post_delivered(posted, f"m{posted.id}")

    ticker = Ticker(game, deliver, seconds=3600)
    await ticker.start()
    try:
        assert ticker.scheduler.running
        job = ticker.scheduler.get_job("due-work")
        assert job.misfire_grace_time is None and job.coalesce is True
        assert len(delivered) == 1 and "The circle has closed" in delivered[0]
        await ticker.tick()  # a second tick finds nothing more to do
        assert len(delivered) == 1
    finally:
        ticker.stop()


async def test_a_failing_delivery_does_not_stop_the_ticker(app):
    calls = 0

    async def deliver() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError("platform down")

    ticker = Ticker(app.game, deliver, seconds=3600)
    await ticker.tick()
    await ticker.tick()
    assert calls == 2
