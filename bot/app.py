"""The composition root: builds the engine, migrates, and hands out the Game."""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.commands.game import Game
from storage.engine import PG_POOL_SIZE, make_engine
from storage.migrate import upgrade
from storage.unit_of_work import UnitOfWork


@dataclass
class App:
    engine: AsyncEngine
    game: Game

    async def close(self) -> None:
        await self.engine.dispose()


def freeze_startup_heap() -> None:
    """Puts everything alive once the bot has started (modules, SQLAlchemy's compiled
    statements, the platform clients) out of the cyclic garbage collector's reach: it lives as
    long as the process, and walking it in every full collection paused the event loop for up
    to ~80 ms (about 140,000 objects). Later garbage is collected as before."""
    gc.collect()
    gc.freeze()


async def open_app(database: str | None, clock: Callable[[], datetime],
                   default_timezone: str = "UTC", pool_size: int = PG_POOL_SIZE) -> App:
    """Connects to the database, applies pending migrations and builds the game."""
    engine = make_engine(database, pool_size)
    await upgrade(engine)
    return App(engine, Game(UnitOfWork(engine), clock, default_timezone))
