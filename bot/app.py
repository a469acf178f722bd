"""The composition root: builds the engine, migrates, and hands out the Game."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.commands.game import Game
from storage.engine import PG_POOL_SIZE, make_engine
from storage.migrate import upgrade
from storage.repository import UnitOfWork


@dataclass
class App:
    engine: AsyncEngine
    game: Game

    async def close(self) -> None:
        await self.engine.dispose()


async def open_app(database: str | None, clock: Callable[[], datetime],
                   default_timezone: str = "UTC", pool_size: int = PG_POOL_SIZE) -> App:
    """Connects to the database, applies pending migrations and builds the game."""
    engine = make_engine(database, pool_size)
    await upgrade(engine)
    return App(engine, Game(UnitOfWork(engine), clock, default_timezone))
