"""What a crew notices of the storage layer: rows come back with their types, a lost race is
rolled back whole and retried, committed work stays, and a dropped or cancelled connection
leaves the next unit of work a working one (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from tests.conftest import START
from tests.test_storage import MIXED_GAME_NOVEMBER


async def test_a_played_game_reads_back_with_its_types(play_any):
    await play_any(MIXED_GAME_NOVEMBER)
    async with play_any.app.game.uow() as store:
        crew, alice = await store.crews.crew_member("console", "crew", "alice")
        assert crew is not None and alice is not None
        assert isinstance(crew.settings, dict)
        assert alice.active is True and alice.hidden is False
        roster = await store.crews.roster(crew.id)
        assert [m.id for m in roster] == sorted(m.id for m in roster)
        assert alice.id in {m.id for m in roster}
        meeting = (await store.meetings.meetings_with_status(crew.id, "tallied"))[0]
        assert meeting.starts_at.tzinfo is not None
        assert meeting.starts_at.utcoffset() == timedelta(0)
        assert meeting.starts_at < meeting.ends_at
        again = await store.meetings.meeting(meeting.id)
        assert again == meeting
        favours = await store.favours.member_favours(alice.id)
        assert favours and all(f.created_at.tzinfo == UTC or f.created_at.utcoffset()
                               == timedelta(0) for f in favours)
        assert all(isinstance(f.scored, bool) and isinstance(f.text, str) for f in favours)
        author = await store.favours.favour_author(max(f.id for f in favours))
        assert author is not None and author[1].id == author[0].member_id
        totals = await store.ledger.totals(crew.id, "all")
        assert totals[alice.id] and all(isinstance(points, int)
                                        for levels in totals.values()
                                        for points in levels.values())


async def test_a_lost_race_is_sqlalchemys_integrity_error_and_is_retried(any_app):
    async with any_app.game.uow() as store:
        crew = await store.crews.add_crew("console", "race", "race", START)
        await store.circles.add_circle(crew.id, START, START + timedelta(hours=1))
        with pytest.raises(IntegrityError) as raised:  # one open circle per crew
            await store.circles.add_circle(crew.id, START, START + timedelta(hours=1))
        assert store.retryable(raised.value)
        await store.rollback()
        assert (await store.crews.crew("console", "race")) is None  # the rollback took it all


async def test_committed_work_is_there_for_the_next_unit_of_work(any_app):
    async with any_app.game.uow() as store:
        crew = await store.crews.add_crew("console", "kept", "kept", START)
        await store.circles.add_circle(crew.id, START, START + timedelta(hours=1))
        await store.commit()
    async with any_app.game.uow() as store:
        kept = await store.crews.crew("console", "kept")
        assert kept is not None
        assert await store.circles.open_circle(kept.id) is not None


@pytest.mark.parametrize("begun", [False, True], ids=["first-statement", "later-statement"])
async def test_a_dropped_postgres_connection_invalidates_it_for_the_retry(any_app, begun):
    """The unit of work's first statement goes through SQLAlchemy, the later ones straight to
    asyncpg: a connection lost under either is invalidated, and the error is retryable."""
    if any_app.engine.dialect.name != "postgresql":
        pytest.skip("a server-side disconnect needs PostgreSQL")
    async with any_app.game.uow() as store:
        crew = await store.crews.add_crew("console", "dropped", "dropped", START)
        await store.commit()
        assert await store.crews.roster(crew.id) == []  # this unit of work holds a connection
        if not begun:
            await store.commit()
        async with any_app.engine.connect() as other:  # every other one, this one's too
            await other.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        with pytest.raises(DBAPIError) as raised:
            await store.crews.roster(crew.id)
        assert raised.value.connection_invalidated
        assert store.retryable(raised.value)
    async with any_app.game.uow() as store:  # the pool hands out a live connection again
        assert (await store.crews.crew("console", "dropped")) is not None


async def test_a_command_cancelled_mid_statement_leaves_the_pool_working(any_app):
    """A shutdown cancels handlers mid-statement: as through SQLAlchemy, that connection is
    thrown away (its state is unknown), and the next unit of work gets a working one."""
    if any_app.engine.dialect.name != "postgresql":
        pytest.skip("a statement waiting on another transaction's row lock needs PostgreSQL")
    async with any_app.game.uow() as store:
        crew = await store.crews.add_crew("console", "cancelled", "cancelled", START)
        member = await store.crews.add_member(crew.id, "u1", "Ada", START)
        favour = await store.favours.add_favour(crew.id, "offer", member.id, None, "a lift", True,
                                                START)
        await store.commit()
    waiting = asyncio.Event()

    async def thank() -> None:
        async with any_app.game.uow() as store:
            assert await store.crews.roster(crew.id)  # the transaction has begun
            waiting.set()
            await store.favours.mark_thanked(favour.id)  # blocks on the locker's row lock

    async with any_app.engine.connect() as locker:
        await locker.execute(text("SELECT id FROM favours WHERE id = :id FOR UPDATE"),
                             {"id": favour.id})
        task = asyncio.create_task(thank())
        await waiting.wait()
        await asyncio.sleep(0.2)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await locker.rollback()
    async with any_app.game.uow() as store:  # nothing was thanked, and the pool still works
        assert await store.favours.mark_thanked(favour.id)
        await store.commit()
    async with any_app.game.uow() as store:
        assert not await store.favours.mark_thanked(favour.id)  # once only
