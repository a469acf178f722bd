"""The scheduler adapter: APScheduler only wakes the core up; the database says what is due."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.commands.game import Game

log = logging.getLogger("crewbot.scheduler")


class Ticker:
    """Runs due work at start (catch-up after downtime) and then every `seconds`."""

    def __init__(self, game: Game, deliver: Callable[[], Awaitable[None]], seconds: float = 30):
        self.game = game
        self.deliver = deliver
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self.scheduler.add_job(
            self.tick, IntervalTrigger(seconds=seconds), id="due-work",
            misfire_grace_time=None, coalesce=True, max_instances=1)

    async def tick(self) -> None:
        try:
            done = await self.game.run_due()
            if done:
                log.info("event=tick outcome=ok done=%d", done)
            await self.deliver()
        except Exception:
            log.exception("tick failed; the next tick will try again")

    async def start(self) -> None:
        await self.tick()
        self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
