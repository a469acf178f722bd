"""Migration 0005 on a database that already holds play: check-ins, listens, meeting rosters and
venture members get their crew, from their circle, check-in, meeting or venture (two crews, so
that a row given the wrong crew shows). On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from storage.engine import make_engine
from storage.migrate import upgrade
from storage.models import (
    CheckinRow,
    CircleRow,
    CrewRow,
    ListenRow,
    MeetingRow,
    MemberRow,
    RosterRow,
    SeenEventRow,
    VentureMemberRow,
    VentureRow,
)
from tests.conftest import START
from tests.test_numbering import _upgrade_to

CREWED = (CheckinRow, ListenRow, RosterRow, VentureMemberRow)


async def test_migration_0005_gives_each_row_of_play_its_crew(db_url):
    engine = make_engine(db_url)
    expected: dict[tuple[str, int], int] = {}
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_to, "0003")

            async def add(row: Any, /, **values: Any) -> int:
                table = row.__table__
                # only the columns of revision 0003: no crew_id where 0005 adds it
                return (await conn.execute(insert(table).values(**values)
                                           .returning(table.c.id))).scalar_one()

            for chat in ("first", "second"):
                crew = await add(CrewRow, platform="console", chat_id=chat, title=chat,
                                 settings={}, size_warned=False, created_at=START)
                people = [await add(MemberRow, crew_id=crew, user_id=who, name=who, active=True,
                                    hidden=False, joined_at=START) for who in ("ann", "ben")]
                circle = await add(CircleRow, crew_id=crew, opened_at=START, closes_at=START,
                                   status="open")
                checkin = await add(CheckinRow, circle_id=circle, member_id=people[0], text="hi",
                                    updated_at=START)
                listen = await add(ListenRow, checkin_id=checkin, listener_id=people[1],
                                   via="button")
                meeting = await add(MeetingRow, crew_id=crew, month="2026-11", starts_at=START,
                                    ends_at=START, scheduled=False, status="open")
                roster = await add(RosterRow, meeting_id=meeting, member_id=people[0],
                                   at_start=True, excused=False)
                venture = await add(VentureRow, crew_id=crew, number=1, name="Coop", key="coop",
                                    proposer_id=people[0], status="proposed", created_at=START)
                owner = await add(VentureMemberRow, venture_id=venture, member_id=people[1])
                await add(SeenEventRow, platform="console", event_id=chat, at=START)
                expected |= {("checkins", checkin): crew, ("listens", listen): crew,
                             ("meeting_roster", roster): crew,
                             ("venture_members", owner): crew}
        await upgrade(engine)
        async with engine.connect() as conn:
            found = {(row.__tablename__, i): c for row in CREWED
                     for i, c in await conn.execute(select(row.id, row.crew_id))}
            seen = (await conn.execute(select(SeenEventRow.crew_id))).scalars().all()
    finally:
        await engine.dispose()
    assert found == expected
    assert seen == [None, None]  # which crew an event came from was never recorded

