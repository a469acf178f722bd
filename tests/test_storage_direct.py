"""SQLite's prebuilt statements run straight on sqlite3 (storage/direct.py): the same rows, types
and errors as through SQLAlchemy, inside SQLAlchemy's transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from storage.repository import _direct, _statements
from tests.conftest import START
from tests.test_storage import MIXED_GAME_NOVEMBER


async def test_every_prebuilt_statement_runs_direct(app):
    assert set(_direct(app.engine.dialect)) == set(_statements("sqlite"))


async def test_direct_rows_equal_sqlalchemys_rows(play):
    await play(MIXED_GAME_NOVEMBER)
    async with play.app.game.uow() as store:
        crew, alice = await store.crew_member("console", "crew", "alice")
        assert crew is not None and alice is not None
        meeting = (await store.meetings_with_status(crew.id, "tallied"))[0]
        favour = max(f.id for f in await store.member_favours(alice.id))
        calls = {
            "crew_member": {"platform": "console", "chat_id": "crew", "user_id": "alice"},
            "roster": {"crew_id": crew.id},
            "totals": {"crew_id": crew.id, "period": "all"},
            "meetings_with_status": {"crew_id": crew.id, "status": "tallied"},
            "favour_author": {"id": favour},
            "scored_favours": {"member_id": alice.id, "kind": "ask", "since": START,
                               "until": START + timedelta(days=60)},
            "member_by_id": {"id": alice.id},
        }
        direct = _direct(play.app.engine.dialect)
        sqlite = await store._in_transaction()
        for name, params in calls.items():
            through = [tuple(row) for row in await store._conn.execute(
                _statements("sqlite")[name], params)]
            straight = direct[name].run(sqlite, params).all()
            assert straight == through, name
            assert [[type(v) for v in row] for row in straight] == [
                [type(v) for v in row] for row in through], name
            assert straight, f"{name} found nothing to compare"
        assert meeting.starts_at.tzinfo is not None  # times come back aware, as before


async def test_a_lost_race_is_sqlalchemys_integrity_error_and_is_retried(app):
    async with app.game.uow() as store:
        crew = await store.add_crew("console", "race", "race", START)
        await store.add_circle(crew.id, START, START + timedelta(hours=1))
        with pytest.raises(IntegrityError) as raised:  # one open circle per crew
            await store.add_circle(crew.id, START, START + timedelta(hours=1))
        assert store.retryable(raised.value)
        await store.rollback()
        assert (await store.crew("console", "race")) is None  # the rollback took it all
