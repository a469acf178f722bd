"""The daily caps hold when one member's asks or offers arrive at the same moment: the count of
those that scored today is read by the store, the cap is decided by `scores_under_cap`, and a
count another ask changed meanwhile is read again (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from sqlalchemy import text

from bot.app import App
from bot.commands.events import Chat
from bot.rules.points import scores_under_cap
from storage.engine import make_engine
from storage.repositories.base import Db
from storage.unit_of_work import SqlStore
from tests.conftest import START
from tests.test_numbering import command_in, said

CREW = Chat("console", "crew", "crew")


async def scored_in_database(app: App, kind: str, who: str) -> tuple[int, int]:
    """(favours recorded, favours scored) of this member and kind, straight from the tables."""
    async with app.engine.connect() as conn:
        row = (await conn.execute(text(
            "SELECT count(*) AS made, count(*) FILTER (WHERE scored) AS scored FROM favours "
            "JOIN members ON members.id = favours.member_id "
            "WHERE favours.kind = :kind AND members.user_id = :who"),
            {"kind": kind, "who": who})).one()
    return row.made, row.scored


async def test_asks_at_once_from_one_member_score_only_up_to_the_cap(any_app):
    await said(any_app, command_in(CREW, "alice", "/settings ask_cap 3"))
    replies = await asyncio.gather(*(said(any_app, command_in(CREW, "alice", f"/ask soup {i}"))
                                     for i in range(8)))
    assert sum("+5 points for asking" in reply for reply in replies) == 3, replies
    assert sum("it did not score, as only 3 asks a day score" in reply
               for reply in replies) == 5, replies
    assert await scored_in_database(any_app, "ask", "alice") == (8, 3)
    ledger = [e for crew in await any_app.game.export() for e in crew.ledger]
    assert sorted(e.reason for e in ledger) == ["ask"] * 3


async def test_offers_at_once_score_up_to_the_cap_and_the_next_day_scores_again(any_app, clock):
    await said(any_app, command_in(CREW, "alice", "/settings offer_cap 2"))
    await said(any_app, command_in(CREW, "bob", "/join"))
    replies = await asyncio.gather(*(
        said(any_app, command_in(CREW, "alice", f"/offer @bob a lift {i}")) for i in range(6)))
    assert sum("+5 points for offering" in reply for reply in replies) == 2, replies
    assert await scored_in_database(any_app, "offer", "alice") == (6, 2)
    clock.move_to(clock() + timedelta(days=1))
    reply = await said(any_app, command_in(CREW, "alice", "/offer @bob soup"))
    assert "+5 points for offering" in reply
    assert await scored_in_database(any_app, "offer", "alice") == (7, 3)


def commit_a_scored_ask_elsewhere(url: str, crew_id: int, member_id: int) -> None:
    """Another process's unit of work: a scored ask of the member, committed (in a thread with
    its own event loop, engine and connection)."""
    async def work() -> None:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                store = SqlStore(Db(conn))
                await store.favours.add_favour(crew_id, "ask", member_id, None, "elsewhere", True,
                                               START)
                await store.commit()
        finally:
            await engine.dispose()

    thread = threading.Thread(target=asyncio.run, args=(work(),))
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()


async def test_an_ask_committed_between_the_count_and_the_insert_is_counted(any_app, db_url):
    """The count is read, then the ask inserted: when another unit of work commits a scored ask
    in between, the insert does nothing, and the count is read again and decided again."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite's writers take turns: nothing can commit between the two statements")
    await said(any_app, command_in(CREW, "alice", "/settings ask_cap 1"))
    async with any_app.game.uow() as store:
        crew = await store.crews.crew("console", "crew")
        assert crew is not None
        alice = await store.crews.member(crew.id, "alice")
        assert alice is not None
    counts: list[int] = []

    def scores(already: int) -> bool:
        if not counts:
            commit_a_scored_ask_elsewhere(db_url, crew.id, alice.id)
        counts.append(already)
        return scores_under_cap(already, 1)

    async with any_app.game.uow() as store:
        favour = await store.favours.add_favour_counted(crew.id, "ask", alice.id, None, "here",
                                                        START - timedelta(days=1),
                                                        START + timedelta(days=1), START, scores)
        await store.commit()
    assert counts == [0, 1]  # decided again on the count that includes the other ask
    assert not favour.scored
    assert await scored_in_database(any_app, "ask", "alice") == (2, 1)
