"""Shared fixtures: a real database (SQLite file; PostgreSQL when configured), a clock, a game."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.adapters.console_adapter import Console
from bot.app import App, open_app
from bot.clock import SimClock
from storage.engine import empty_public_schema

PG_URL = os.environ.get("CREWBOT_TEST_DATABASE_URL", "")
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday


async def _reset_postgres(url: str) -> str | None:
    """Empties the test database; returns why it cannot be used, or None."""
    try:
        await empty_public_schema(url)
    except Exception as error:  # an unreachable server is a reason to skip, said plainly
        return f"PostgreSQL at CREWBOT_TEST_DATABASE_URL is not reachable: {error}"
    return None


def postgres_param() -> object:
    if not PG_URL:
        return pytest.param("postgres", marks=pytest.mark.skip(
            reason="CREWBOT_TEST_DATABASE_URL is not set; .ci/run sets it to the local server"))
    return "postgres"


@pytest.fixture
async def sqlite_url(tmp_path) -> str:
    return str(tmp_path / "crew.sqlite3")


async def emptied_postgres(unset_reason: str) -> str:
    """The configured PostgreSQL, emptied; skips saying `unset_reason` where none is configured,
    and skips (fails, with CREWBOT_REQUIRE_POSTGRES) where it cannot be reached."""
    if not PG_URL:
        pytest.skip(unset_reason)
    problem = await _reset_postgres(PG_URL)
    if problem:
        if os.environ.get("CREWBOT_REQUIRE_POSTGRES"):
            pytest.fail(problem)
        pytest.skip(problem)
    return PG_URL


@pytest.fixture(params=["sqlite", postgres_param()])
async def db_url(request, tmp_path) -> str:
    """A fresh, empty database: SQLite file, then PostgreSQL where one is configured."""
    if request.param == "sqlite":
        return str(tmp_path / "crew.sqlite3")
    return await emptied_postgres("CREWBOT_TEST_DATABASE_URL is not set")


@pytest.fixture
def clock() -> SimClock:
    return SimClock(START)


@pytest.fixture
async def app(sqlite_url, clock) -> AsyncIterator[App]:
    built = await open_app(sqlite_url, clock)
    yield built
    await built.close()


@pytest.fixture
async def any_app(db_url, clock) -> AsyncIterator[App]:
    """The game on SQLite and on PostgreSQL."""
    built = await open_app(db_url, clock)
    yield built
    await built.close()


class Transcript:
    """Drives a Console in-process and keeps what it printed."""

    def __init__(self, app: App, clock: SimClock, pictures: Path | None = None) -> None:
        self.out = io.StringIO()
        self.console = Console(app.game, clock, self.out, pictures=pictures)
        self.app = app

    async def __call__(self, script: str) -> list[str]:
        start = len(self.lines)
        for line in script.strip("\n").splitlines():
            await self.console.feed(line.strip())
        return self.lines[start:]

    @property
    def lines(self) -> list[str]:
        return self.out.getvalue().splitlines()

    async def points(self, room: str = "crew") -> dict[str, int]:
        """Each member's total in a room, computed from the ledger itself (not the cache)."""
        return await ledger_points(self.app, room)


async def ledger_points(app: App, room: str | None = None) -> dict[str, int]:
    """Each member's total (in one room, or in every crew), summed from the ledger rows."""
    totals: dict[str, int] = {}
    for crew in await app.game.export():
        if room is None or crew.crew.chat_id == room:
            names = {m.id: m.name for m in crew.members}
            for m in crew.members:
                totals.setdefault(m.name, 0)
            for entry in crew.ledger:
                totals[names[entry.member_id]] += entry.points
    return totals


@pytest.fixture
async def play(app, clock, tmp_path) -> Transcript:
    return Transcript(app, clock, tmp_path / "pictures")


@pytest.fixture
async def play_any(any_app, clock, tmp_path) -> Transcript:
    return Transcript(any_app, clock, tmp_path / "pictures")


def last_bot(lines: list[str]) -> str:
    return next(line for line in reversed(lines) if " bot: " in line)


__all__ = ["START", "Transcript", "asyncio", "last_bot"]
