"""The prebuilt statements run straight on sqlite3 (storage/direct.py) and on asyncpg
(storage/direct_pg.py): the same rows, types and errors as through SQLAlchemy, inside
SQLAlchemy's transaction."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from storage.direct import Direct
from storage.direct_pg import PgDirect
from storage.repository import SqlStore, _direct, _statements
from tests.conftest import START
from tests.test_storage import MIXED_GAME_NOVEMBER


def direct_of(dialect: Any) -> dict[str, Any]:
    return _direct(Direct if dialect.name == "sqlite" else PgDirect, dialect)


async def run_direct(store: SqlStore, name: str, params: dict[str, Any]) -> list[Any]:
    statement = direct_of(store._conn.dialect)[name]
    if store._conn.dialect.name == "sqlite":
        return statement.run(await store._in_transaction(), params).all()
    return (await statement.run(store._conn, await store._asyncpg_adapter(), params)).all()


async def test_every_prebuilt_statement_runs_direct(any_app):
    dialect = any_app.engine.dialect
    assert set(direct_of(dialect)) == set(_statements(dialect.name))


async def test_direct_rows_equal_sqlalchemys_rows(play_any):
    await play_any(MIXED_GAME_NOVEMBER)
    dialect = play_any.app.engine.dialect.name
    async with play_any.app.game.uow() as store:
        crew, alice = await store.crew_member("console", "crew", "alice")
        assert crew is not None and alice is not None
        meeting = (await store.meetings_with_status(crew.id, "tallied"))[0]
        favour = max(f.id for f in await store.member_favours(alice.id))
        circle = (await store._conn.execute(text(
            "SELECT max(id) FROM circles WHERE crew_id = :crew"), {"crew": crew.id})).scalar()
        checkin_message = (await store._conn.execute(text(
            "SELECT max(message_id) FROM message_links WHERE crew_id = :crew AND kind = "
            "'checkin'"), {"crew": crew.id})).scalar()
        assert circle is not None and checkin_message is not None
        calls = {
            # unions whose rows are mostly other parts' NULLs, and joins of a message link
            "circle_state_roster": {"crew_id": crew.id, "circle_id": circle},
            "linked_checkin": {"crew_id": crew.id, "message_id": checkin_message},
            "crew_member": {"platform": "console", "chat_id": "crew", "user_id": "alice"},
            "roster": {"crew_id": crew.id},
            "totals": {"crew_id": crew.id, "period": "all"},
            "meetings_with_status": {"crew_id": crew.id, "status": "tallied"},
            "favour_author": {"id": favour},
            "scored_favours": {"member_id": alice.id, "kind": "ask", "since": START,
                               "until": START + timedelta(days=60)},
            "member_by_id": {"id": alice.id},
            "meeting": {"id": meeting.id},
            "tally_roster": {"crew_id": crew.id, "meeting_id": meeting.id},
        }
        for name, params in calls.items():
            through = [tuple(row) for row in await store._conn.execute(
                _statements(dialect)[name], params)]
            straight = [tuple(row) for row in await run_direct(store, name, params)]
            assert straight == through, name
            assert [[type(v) for v in row] for row in straight] == [
                [type(v) for v in row] for row in through], name
            assert straight, f"{name} found nothing to compare"
        assert meeting.starts_at.tzinfo is not None  # times come back aware, as before


async def test_a_lost_race_is_sqlalchemys_integrity_error_and_is_retried(any_app):
    async with any_app.game.uow() as store:
        crew = await store.add_crew("console", "race", "race", START)
        await store.add_circle(crew.id, START, START + timedelta(hours=1))
        with pytest.raises(IntegrityError) as raised:  # one open circle per crew
            await store.add_circle(crew.id, START, START + timedelta(hours=1))
        assert store.retryable(raised.value)
        await store.rollback()
        assert (await store.crew("console", "race")) is None  # the rollback took it all


async def test_direct_statements_commit_with_sqlalchemys_transaction(any_app):
    async with any_app.game.uow() as store:
        crew = await store.add_crew("console", "kept", "kept", START)
        await store.add_circle(crew.id, START, START + timedelta(hours=1))
        await store.commit()
    async with any_app.game.uow() as store:
        kept = await store.crew("console", "kept")
        assert kept is not None
        assert await store.open_circle(kept.id) is not None


async def test_a_dropped_postgres_connection_invalidates_it_for_the_retry(any_app):
    if any_app.engine.dialect.name != "postgresql":
        pytest.skip("a server-side disconnect needs PostgreSQL")
    async with any_app.game.uow() as store:
        crew = await store.add_crew("console", "dropped", "dropped", START)
        await store.commit()
        pid = (await store._conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        await store.commit()
        async with any_app.engine.connect() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(DBAPIError) as raised:
            await store.roster(crew.id)
        assert raised.value.connection_invalidated
        assert store.retryable(raised.value)
    async with any_app.game.uow() as store:  # the pool hands out a live connection again
        assert (await store.crew("console", "dropped")) is not None


async def test_a_command_cancelled_mid_statement_leaves_the_pool_working(any_app):
    """A shutdown cancels handlers mid-statement: as through SQLAlchemy, that connection is
    thrown away (its state is unknown), and the next unit of work gets a working one."""
    if any_app.engine.dialect.name != "postgresql":
        pytest.skip("a statement waiting on another transaction's row lock needs PostgreSQL")
    async with any_app.game.uow() as store:
        crew = await store.add_crew("console", "cancelled", "cancelled", START)
        member = await store.add_member(crew.id, "u1", "Ada", START)
        favour = await store.add_favour(crew.id, "offer", member.id, None, "a lift", True, START)
        await store.commit()
    waiting = asyncio.Event()

    async def thank() -> None:
        async with any_app.game.uow() as store:
            waiting.set()
            await store.mark_thanked(favour.id)  # blocks on the locker's row lock

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
        assert await store.mark_thanked(favour.id)
        await store.commit()
    async with any_app.game.uow() as store:
        assert not await store.mark_thanked(favour.id)  # once only
