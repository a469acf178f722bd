"""A connection the database server dropped costs one retry, not an apology: the engine has no
pool_pre_ping (a round trip per unit of work), so Game.handle's retry covers it (PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bot.commands.events import Actor, Chat, CommandReceived
from storage.engine import make_engine
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs CREWBOT_TEST_DATABASE_URL")


async def test_a_dropped_connection_is_retried(any_app, caplog) -> None:
    if any_app.engine.dialect.name != "postgresql":
        pytest.skip("only PostgreSQL drops pooled connections")
    chat = Chat("telegram", "-1", "Crew")

    async def ask(n: int) -> str:
        replies = await any_app.game.handle(CommandReceived(
            chat, Actor("u1", "Alice", True), f"/ask help number {n}", event_id=f"e{n}"))
        return " ".join(r.plain() for r in replies)

    assert "asks" in await ask(1)
    killer = make_engine(PG_URL)
    try:
        async with killer.connect() as conn:  # every other connection to this database
            await conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    finally:
        await killer.dispose()
    caplog.set_level("DEBUG", "crewbot.game")  # retries are logged at DEBUG
    assert "asks" in await ask(2)
    assert "outcome=retry" in caplog.text  # the dropped connection was noticed, then retried
