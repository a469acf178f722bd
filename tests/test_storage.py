"""Storage: migrations, UTC times, the ledger's one-row-per-award key, cached totals, and units of
work that are lost unless committed. Each test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from bot.app import App, open_app
from bot.clock import SimClock
from bot.commands.game import APOLOGY
from bot.commands.ledger import give
from bot.rules.points import ASK
from storage.engine import make_engine
from storage.migrate import alembic_config
from storage.models import Base, CrewRow, LedgerRow, OutboxRow, TotalRow
from tests.conftest import START, Transcript

CREWBOT = Path(sys.executable).parent / "crewbot"
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()
TABLES = set(Base.metadata.tables) | {"alembic_version"}
BERLIN = ZoneInfo("Europe/Berlin")


def crewbot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREWBOT_")}
    return subprocess.run([str(CREWBOT), *args], capture_output=True, text=True, cwd=cwd,
                          env=env, stdin=subprocess.DEVNULL, timeout=120)


async def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def schema(url: str) -> tuple[set[str], list[str], list]:
    """The tables, the Alembic revisions recorded, and how the schema differs from the models."""
    engine = make_engine(url)

    def look(sync) -> tuple[set[str], list[str], list]:
        tables = set(inspect(sync).get_table_names())
        versions = [r[0] for r in sync.execute(text("SELECT version_num FROM alembic_version"))]
        context = MigrationContext.configure(sync, opts={"compare_type": True})
        return tables, versions, compare_metadata(context, Base.metadata)

    try:
        async with engine.connect() as conn:
            return await conn.run_sync(look)
    finally:
        await engine.dispose()


# migrations


async def test_db_upgrade_command_creates_the_schema_and_running_it_twice_is_harmless(
        db_url, tmp_path):
    assert await table_names(db_url) == set()

    first = crewbot("db", "upgrade", "--db", db_url, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "latest schema" in first.stdout
    tables, versions, diff = await schema(db_url)
    assert tables == TABLES
    assert versions == [HEAD]
    assert diff == []  # the migrations build exactly what the models describe

    app = await open_app(db_url, SimClock(START))
    try:
        await Transcript(app, SimClock(START))("alice: /ask a lift to the station")
    finally:
        await app.close()

    second = crewbot("db", "upgrade", "--db", db_url, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout
    assert await schema(db_url) == (TABLES, [HEAD], [])
    app = await open_app(db_url, SimClock(START))
    try:
        assert await Transcript(app, SimClock(START)).points() == {"alice": 5}
    finally:
        await app.close()
    assert not (tmp_path / "crewbot.sqlite3").exists()  # --db was used, not the default file


async def test_open_app_migrates_at_start_and_a_second_start_keeps_the_data(db_url, clock):
    assert await table_names(db_url) == set()
    app = await open_app(db_url, clock)
    try:
        assert await schema(db_url) == (TABLES, [HEAD], [])
        await Transcript(app, clock)("alice: /ask a lift to the station")
    finally:
        await app.close()

    again = await open_app(db_url, clock)
    try:
        assert await schema(db_url) == (TABLES, [HEAD], [])
        assert await Transcript(again, clock).points() == {"alice": 5}
    finally:
        await again.close()


async def test_a_sqlite_path_with_url_characters_is_used_as_it_is(tmp_path):
    """A bare path is a file name, not a URL: '?', '#', '%' and spaces stay in it."""
    folder = tmp_path / "we ird#dir?x=1%41"
    folder.mkdir()
    db = folder / "crew.sqlite3"
    result = crewbot("db", "upgrade", "--db", str(db), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in folder.iterdir() if not p.name.endswith(("-wal", "-shm"))) \
        == ["crew.sqlite3"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["we ird#dir?x=1%41"]
    app = await open_app(str(db), SimClock(START))
    try:
        await Transcript(app, SimClock(START))("alice: /ask a lift")
    finally:
        await app.close()
    assert await schema(str(db)) == (TABLES, [HEAD], [])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["we ird#dir?x=1%41"]


# times


async def test_times_are_stored_in_utc_and_come_back_as_aware_utc(any_app):
    local = datetime(2026, 11, 2, 10, 30, 15, 123456, tzinfo=BERLIN)  # 09:30:15.123456 UTC
    utc = datetime(2026, 11, 2, 9, 30, 15, 123456, tzinfo=UTC)
    async with any_app.game.uow() as store:
        crew = await store.crews.add_crew("console", "crew", "crew", local)
        member = await store.crews.add_member(crew.id, "alice", "alice", local)
        circle = await store.circles.add_circle(crew.id, local, local + timedelta(hours=24))
        meeting = await store.meetings.add_meeting(crew.id, "2026-11", local,
                                                   local + timedelta(hours=3), False, "open")
        favour = await store.favours.add_favour(crew.id, "ask", member.id, None, "a lift", True,
                                                local)
        conflict = await store.conflicts.add_conflict(crew.id, member.id, member.id, local)
        assert await store.ledger.award(crew.id, member.id, 5, 2, "ask", f"favour:{favour.id}",
                                        "2026-11", local)
        await store.outbox.add_due(crew.id, "meeting_tally", meeting.id, local + timedelta(hours=3))
        await store.commit()

    async with any_app.game.uow() as store:
        if any_app.engine.dialect.name == "postgresql":
            # asyncpg answers in UTC whatever the session's zone; the boundary must not care.
            await store.db.session.execute(text("SET TIME ZONE 'Asia/Tokyo'"))
        got_circle = await store.circles.circle(circle.id)
        got_meeting = await store.meetings.meeting(meeting.id)
        got_favour = await store.favours.favour(favour.id)
        got_conflict = await store.conflicts.conflict(conflict.id)
        [entry] = await store.ledger.ledger(crew.id)
        [due] = await store.outbox.due(utc + timedelta(days=1), 10)
        next_due = await store.outbox.next_due_at()
    values = {
        "circle.opened_at": (got_circle.opened_at, utc),
        "circle.closes_at": (got_circle.closes_at, utc + timedelta(hours=24)),
        "meeting.starts_at": (got_meeting.starts_at, utc),
        "meeting.ends_at": (got_meeting.ends_at, utc + timedelta(hours=3)),
        "favour.created_at": (got_favour.created_at, utc),
        "conflict.proposed_at": (got_conflict.proposed_at, utc),
        "ledger.at": (entry.at, utc),
        "due.due_at": (due.due_at, utc + timedelta(hours=3)),
        "next_due_at": (next_due, utc + timedelta(hours=3)),
    }
    for name, (value, expected) in values.items():
        assert isinstance(value, datetime), name
        assert value.tzinfo is not None and value.utcoffset() == timedelta(0), (name, value)
        assert value.isoformat() == expected.isoformat(), name

    # And what the database itself holds is the UTC wall-clock time, not Berlin's.
    if any_app.engine.dialect.name == "postgresql":
        query = "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') FROM ledger"
    else:
        query = "SELECT strftime('%Y-%m-%d %H:%M', at) FROM ledger"
    async with any_app.engine.connect() as conn:
        assert (await conn.execute(text(query))).scalar_one() == "2026-11-02 09:30"


async def test_a_naive_time_is_refused_and_nothing_is_written(any_app):
    async with any_app.game.uow() as store:
        crew = await store.crews.add_crew("console", "crew", "crew", START)
        member = await store.crews.add_member(crew.id, "alice", "alice", START)
        await store.commit()
    async with any_app.game.uow() as store:
        with pytest.raises(StatementError, match="naive"):
            await store.ledger.award(crew.id, member.id, 5, 2, "ask", "favour:1", "2026-11",
                                     datetime(2026, 11, 2, 9, 30))
    async with any_app.game.uow() as store:
        assert await store.ledger.ledger(crew.id) == []
        assert await store.ledger.totals(crew.id, "all") == {}


# the ledger's unique award


async def test_a_repeated_award_is_a_no_op_and_leaves_the_totals_alone(any_app):
    uow = any_app.game.uow
    async with uow() as store:
        crew = await store.crews.add_crew("console", "crew", "crew", START)
        alice = await store.crews.add_member(crew.id, "alice", "alice", START)
        bob = await store.crews.add_member(crew.id, "bob", "bob", START)
        assert await store.ledger.award(crew.id, alice.id, 5, 2, "ask", "favour:1", "2026-11",
                                        START)
        assert not await store.ledger.award(crew.id, alice.id, 5, 2, "ask", "favour:1", "2026-11",
                                            START)
        # Same (crew, member, reason, source) with other points, level, month: still the same.
        assert not await store.ledger.award(crew.id, alice.id, 50, 3, "ask", "favour:1", "2026-12",
                                            START + timedelta(days=40))
        await store.commit()

    async with uow() as store:  # a later transaction, as after a redelivered event
        assert not await store.ledger.award(crew.id, alice.id, 5, 2, "ask", "favour:1", "2026-11",
                                            START + timedelta(hours=1))
        # Any one of the four differing makes a new award.
        assert await store.ledger.award(crew.id, alice.id, 5, 2, "offer", "favour:1", "2026-11",
                                        START)
        assert await store.ledger.award(crew.id, bob.id, 5, 2, "ask", "favour:1", "2026-11", START)
        assert await store.ledger.award(crew.id, alice.id, 5, 2, "ask", "favour:2", "2026-11",
                                        START)
        await store.commit()

    async with uow() as store:
        ledger = [(e.member_id, e.points, e.level, e.reason, e.source)
                  for e in await store.ledger.ledger(crew.id)]
        assert ledger == [(alice.id, 5, 2, "ask", "favour:1"),
                          (alice.id, 5, 2, "offer", "favour:1"),
                          (bob.id, 5, 2, "ask", "favour:1"),
                          (alice.id, 5, 2, "ask", "favour:2")]
        assert await store.ledger.totals(crew.id, "all") == {alice.id: {2: 15}, bob.id: {2: 5}}
        assert await store.ledger.totals(crew.id, "2026-11") == {alice.id: {2: 15}, bob.id: {2: 5}}
        assert await store.ledger.totals(crew.id, "2026-12") == {}

    # The key is the database's own, not only the store's good manners.
    async with uow() as store:
        with pytest.raises(IntegrityError):
            await store.db.session.execute(insert(LedgerRow).values(
                crew_id=crew.id, member_id=alice.id, points=1, level=2, reason="ask",
                source="favour:1", month="2026-11", at=START))


async def test_give_reports_a_repeat_through_the_command_layer_too(any_app):
    async with any_app.game.uow() as store:
        crew = await store.crews.add_crew("console", "crew", "crew", START)
        alice = await store.crews.add_member(crew.id, "alice", "alice", START)
        assert await give(store, crew, alice.id, ASK, "favour:7", START)
        assert not await give(store, crew, alice.id, ASK, "favour:7", START)
        assert await store.ledger.member_totals(crew.id, alice.id, "all") == {2: 5}
        assert await store.ledger.member_totals(crew.id, alice.id, "2026-11") == {2: 5}


# cached totals


MIXED_GAME_NOVEMBER = """
    alice: /checkin glad to be here
    bob: /checkin tired but ok
    carol: /checkin curious
    bob reacts 👍 ^alice
    carol reacts 👍 ^alice
    alice reacts 👍 ^bob
    carol reacts 👍 ^bob
    alice reacts 👍 ^carol
    bob reacts 👍 ^carol
    alice: /ask a lift to the station
    bob: /offer @alice a lift on Friday
    alice: /thanks
    alice: /meeting now
    alice: /here
    bob: /here
    :advance 3h
    bob: /conflict @carol
    carol: /conflict accept
    bob: /apologise sorry about the noise
    carol: /forgive
    alice: /conflict @carol
    carol: /conflict accept
    alice: /conflict unresolved
"""
MIXED_GAME_DECEMBER = """
    :at 2026-12-01T10:00
    carol: /coown Bread Coop @alice
    alice: /coown confirm
"""


async def ledger_and_cache(app: App, chat_id: str) -> tuple[dict, dict]:
    """Sums of the ledger by (period, member, level), and the cached totals by the same key."""
    async with app.game.uow() as store:
        session = store.db.session
        crew = await store.crews.crew("console", chat_id)
        assert crew is not None
        sums: dict[tuple[str, int, int], int] = defaultdict(int)
        rows = await session.execute(
            select(LedgerRow.month, LedgerRow.member_id, LedgerRow.level, LedgerRow.points)
            .where(LedgerRow.crew_id == crew.id))
        for month, member_id, level, points in rows:
            sums[("all", member_id, level)] += points
            sums[(month, member_id, level)] += points
        cached = {(p, m, lv): pts for p, m, lv, pts in await session.execute(
            select(TotalRow.period, TotalRow.member_id, TotalRow.level, TotalRow.points)
            .where(TotalRow.crew_id == crew.id))}
        # and the same through the store's own reader
        through_store = {}
        for period in {key[0] for key in sums} | {"2027-01"}:
            for member_id, levels in (await store.ledger.totals(crew.id, period)).items():
                for level, points in levels.items():
                    through_store[(period, member_id, level)] = points
    assert through_store == cached
    return dict(sums), cached


async def test_cached_totals_equal_the_ledger_sums_after_a_mixed_game(play_any):
    lines = await play_any(MIXED_GAME_NOVEMBER)
    assert any("tallied" in line for line in lines), lines
    lines = await play_any(MIXED_GAME_DECEMBER)
    assert any("+100 each" in line for line in lines), lines

    async with play_any.app.game.uow() as store:
        crew = await store.crews.crew("console", "crew")
        offer = next(e for e in await store.ledger.ledger(crew.id) if e.reason == "offer")
    lines = await play_any(f"alice: /revoke {offer.id}\ndave: /join")
    assert any("Corrected: bob's entry \u201coffered help\u201d (+5, " in line
               for line in lines), lines

    sums, cached = await ledger_and_cache(play_any.app, "crew")
    assert cached == sums

    # By hand, from GAME.md:
    #   alice: circle +1 | ask +5, thanks +1 | 1st meeting +1 | unresolved -20 | co-owner +100
    #   bob:   circle +1 | offer +5, thanks +1, offer revoked -5 | 1st meeting +1 | resolved +10
    #   carol: circle +1 | missed the meeting -5 | resolved +10, unresolved -20 | co-owner +100
    #   dave:  joined last, nothing
    # November holds everything but the co-owning (December). The revocation, made in December,
    # counts in the month of the entry it cancels (November), so November's board is true.
    async with play_any.app.game.uow() as store:
        crew = await store.crews.crew("console", "crew")
        ids = {m.name: m.id for m in await store.crews.all_members(crew.id)}
        by_name = {name: await store.ledger.member_totals(crew.id, ids[name],
                                                          "all") for name in ids}
        november = {name: await store.ledger.member_totals(crew.id, ids[name],
                                                           "2026-11") for name in ids}
        december = {name: await store.ledger.member_totals(crew.id, ids[name],
                                                           "2026-12") for name in ids}
    assert by_name == {
        "alice": {1: 1, 2: 6, 3: 1, 4: -20, 5: 100},
        "bob": {1: 1, 2: 1, 3: 1, 4: 10},
        "carol": {1: 1, 3: -5, 4: -10, 5: 100},
        "dave": {},
    }
    assert november == {
        "alice": {1: 1, 2: 6, 3: 1, 4: -20},
        "bob": {1: 1, 2: 1, 3: 1, 4: 10},
        "carol": {1: 1, 3: -5, 4: -10},
        "dave": {},
    }
    assert december == {"alice": {5: 100}, "bob": {}, "carol": {5: 100}, "dave": {}}
    assert await play_any.points() == {"alice": 88, "bob": 13, "carol": 86, "dave": 0}


async def test_cached_totals_stay_separate_per_crew(play_any):
    await play_any("""
        alice: /ask a lift
        :room other
        alice: /ask a ladder
        bob: /offer @alice a ladder
    """)
    for room in ("crew", "other"):
        sums, cached = await ledger_and_cache(play_any.app, room)
        assert cached == sums
    assert await play_any.points("crew") == {"alice": 5}
    assert await play_any.points("other") == {"alice": 5, "bob": 5}


# units of work


async def count(app: App, table: type) -> int:
    async with app.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


async def test_a_stores_work_is_rolled_back_unless_committed(any_app):
    uow = any_app.game.uow
    async with uow() as store:
        crew = await store.crews.add_crew("console", "lost", "lost", START)
        member = await store.crews.add_member(crew.id, "alice", "alice", START)
        assert await store.ledger.award(crew.id, member.id, 5, 2, "ask", "favour:1", "2026-11",
                                        START)
        await store.outbox.add_post(crew.id, "console", {"parts": ["hi"], "buttons": [],
                                                         "ref": None},
                                    START)
    for table in (CrewRow, LedgerRow, TotalRow, OutboxRow):
        assert await count(any_app, table) == 0, table.__tablename__

    # What was committed stays; what came after the commit does not.
    async with uow() as store:
        kept = await store.crews.add_crew("console", "kept", "kept", START)
        await store.commit()
        member = await store.crews.add_member(kept.id, "alice", "alice", START)
        assert await store.ledger.award(kept.id, member.id, 5, 2, "ask", "favour:1", "2026-11",
                                        START)
    async with uow() as store:
        assert [c.chat_id for c in await store.crews.all_crews()] == ["kept"]
        assert await store.crews.all_members(kept.id) == []
        assert await store.ledger.ledger(kept.id) == []
        assert await store.ledger.totals(kept.id, "all") == {}

    # An error inside the unit of work loses its work and still reaches the caller.
    with pytest.raises(RuntimeError, match="boom"):
        async with uow() as store:
            await store.crews.add_member(kept.id, "bob", "bob", START)
            raise RuntimeError("boom")
    # An explicit rollback loses it too, and the store can go on and commit new work.
    async with uow() as store:
        await store.crews.add_member(kept.id, "carol", "carol", START)
        await store.rollback()
        await store.crews.add_member(kept.id, "dave", "dave", START)
        await store.commit()
    async with uow() as store:
        assert [m.name for m in await store.crews.all_members(kept.id)] == ["dave"]
    # Work that goes on after a rollback is committed, whichever way the store reached the
    # database first (an ORM read, then a prebuilt statement): a refused command records its
    # event like this, so that a redelivery is not answered twice.
    async with uow() as store:
        assert (await store.crews.crew("console", "kept")) is not None
        await store.rollback()
        assert await store.first_seen("console", "after-rollback", START, "chat")
        await store.commit()
    async with uow() as store:
        assert not await store.first_seen("console", "after-rollback", START, "chat")


async def test_a_command_that_fails_half_way_leaves_no_trace(any_app, clock, monkeypatch):
    """Game.handle runs a command in one unit of work: an award made before a crash is lost."""
    ask = any_app.game.commands["ask"]

    async def award_then_crash(ctx):
        await give(ctx.store, ctx.crew, ctx.member.id, ASK, "favour:999", ctx.now)
        raise RuntimeError("the handler broke after awarding")

    monkeypatch.setitem(any_app.game.commands, "ask",
                        dataclasses.replace(ask, handler=award_then_crash))
    play = Transcript(any_app, clock)
    lines = await play("alice: /ask a lift")
    assert lines[-1] == f"#2 bot: {APOLOGY}"
    assert await count(any_app, LedgerRow) == 0
    assert await count(any_app, TotalRow) == 0
    assert await count(any_app, CrewRow) == 0  # even the crew it would have created
