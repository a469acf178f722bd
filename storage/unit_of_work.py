"""The unit of work: one transaction, and the repositories of the game's aggregates in it."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.rules.model import Crew, Member
from storage.models import (
    CheckinRow,
    CircleRow,
    ConflictRow,
    CrewRow,
    DueRow,
    FavourRow,
    LedgerRow,
    MemberRow,
    OutboxRow,
    ReflectionRow,
    RosterRow,
    SeenEventRow,
    VentureMemberRow,
    VentureRow,
)
from storage.repositories.base import Db, StatementHook
from storage.repositories.circles import SqlCircles
from storage.repositories.conflicts import SqlConflicts
from storage.repositories.congregations import SqlCongregations
from storage.repositories.crews import SqlCrews
from storage.repositories.favours import SqlFavours
from storage.repositories.ledger import SqlLedger
from storage.repositories.meetings import SqlMeetings
from storage.repositories.outbox import SqlOutbox
from storage.repositories.rows import crew_and_member
from storage.repositories.statements import CREW_KEYS
from storage.repositories.ventures import SqlVentures
from storage.sqlite_loop import LoopConnection, loop_sqlite

# Each aggregate's repository, by the name the unit of work gives it (the port's attributes).
REPOSITORIES: dict[str, type] = {
    "crews": SqlCrews, "circles": SqlCircles, "favours": SqlFavours, "meetings": SqlMeetings,
    "conflicts": SqlConflicts, "ventures": SqlVentures, "ledger": SqlLedger, "outbox": SqlOutbox,
    "congregations": SqlCongregations,
}


class SqlStore:
    """Every read and write of one event or timer, inside one transaction (commit, or it
    rolls back): a repository per aggregate on the same connection (`db`), and the few reads
    that cross them on the hot path."""

    def __init__(self, db: Db, hold_crews: bool = True) -> None:
        self.db = db
        # PostgreSQL: each unit of work holds its crew (hold_crew); False only to measure what
        # goes wrong without (bench/scaling_crewlock.py runs the races both ways).
        self.holds = hold_crews and db.dialect == "postgresql"
        self.crews = SqlCrews(db)
        self.circles = SqlCircles(db)
        self.favours = SqlFavours(db)
        self.meetings = SqlMeetings(db)
        self.conflicts = SqlConflicts(db)
        self.ventures = SqlVentures(db)
        self.ledger = SqlLedger(db)
        self.outbox = SqlOutbox(db)
        self.congregations = SqlCongregations(db)

    async def commit(self) -> None:
        await self.db.commit()

    async def rollback(self) -> None:
        await self.db.rollback()

    async def close(self) -> None:
        """Rolls back what was not committed."""
        await self.db.close()

    def retryable(self, error: Exception) -> bool:
        """True for a race another transaction won (unique key, lock, serialisation) or a
        connection the server dropped: the work was rolled back and can simply be tried
        again."""
        return isinstance(error, IntegrityError | OperationalError) or (
            isinstance(error, DBAPIError) and (error.connection_invalidated
                                               or "deadlock" in str(error).lower()))

    async def hold_crew(self, crew_id: int) -> None:
        """Until this unit of work ends, no other (in any process) holds this crew: on
        PostgreSQL a transaction-level advisory lock, waited for; every read after it sees what
        the crew's previous unit of work committed. SQLite's writers already take turns (BEGIN
        IMMEDIATE at the first statement), so there it is nothing."""
        self.db.crew = crew_id
        if self.holds:
            await self.db.run("hold_crew", crew_key=crew_id % CREW_KEYS)

    async def first_seen(self, platform: str, event_id: str, now: datetime, chat_id: str
                         ) -> bool:
        result = await self.db.run("first_seen", platform=platform, event_id=event_id[:96],
                                   at=now, chat_id=chat_id)
        return bool(result.rowcount)

    async def arrival(self, platform: str, event_id: str | None, now: datetime, chat_id: str,
                      user_id: str, count_since: datetime | None = None
                      ) -> tuple[bool, Crew | None, Member | None, tuple[datetime, int] | None]:
        """`first_seen` (True without an event id), `crews.crew_member` and, given
        `count_since`, `count_command`; one statement on PostgreSQL, where each is a round
        trip. It reads the events, the crews and the members at once, the first read of every
        event, so it belongs to the unit of work rather than to one repository."""
        if "arrival" in self.db.sql and event_id:
            name = "arrival" if count_since is None else "arrival_counted"
            row = (await self.db.run(name if self.holds else f"{name}_unheld",
                                     platform=platform, event_id=event_id[:96], at=now,
                                     chat_id=chat_id, user_id=user_id, since=count_since)).one()
            fresh = bool(row.fresh)
            crew, member = crew_and_member(row)
            window = ((row.window_started_at, row.window_count) if count_since is not None
                      else None)
            if crew is not None:
                self.db.crew = crew.id
            if not (fresh and crew is not None and self.holds and not row.held):
                return fresh, crew, member, window
            # Another unit of work holds the crew: wait for it, then read the crew and the
            # member again, as they are after its commit (a statement's snapshot is taken at
            # its start, before the lock).
            await self.hold_crew(crew.id)
            return fresh, *(await self.crews.crew_member(platform, chat_id, user_id)), window
        fresh = await self.first_seen(platform, event_id, now, chat_id) if event_id else True
        if self.holds:
            await self.db.run("hold_chat", platform=platform, chat_id=chat_id)
        window = (await self.count_command(platform, chat_id, user_id, now, count_since)
                  if fresh and count_since is not None else None)
        crew, member = await self.crews.crew_member(platform, chat_id, user_id)
        if crew is not None:
            self.db.crew = crew.id
        return fresh, crew, member, window

    async def count_command(self, platform: str, chat_id: str, user_id: str, now: datetime,
                            since: datetime) -> tuple[datetime, int]:
        row = (await self.db.run("count_command", platform=platform, chat_id=chat_id,
                                 user_id=user_id, at=now, since=since)).one()
        return row.window_started_at, row.window_count

    async def forget_windows(self, since: datetime) -> None:
        await self.db.run("forget_windows", since=since)

    async def latest_time(self) -> datetime | None:
        """The newest time the game has recorded (a crew or member added, a check-in, a favour,
        a point, a post, work done...), or None on an empty database. Times planned ahead (a
        circle's closing, a meeting, due work) are not records and do not count."""
        columns = (CrewRow.created_at, MemberRow.joined_at, CircleRow.opened_at,
                   CircleRow.closed_at, CheckinRow.updated_at, FavourRow.created_at,
                   RosterRow.present_at, ReflectionRow.created_at, ConflictRow.proposed_at,
                   ConflictRow.accepted_at, ConflictRow.ended_at, VentureRow.created_at,
                   VentureMemberRow.confirmed_at, LedgerRow.at, OutboxRow.created_at,
                   OutboxRow.sent_at, DueRow.done_at, SeenEventRow.at)
        newest = (await self.db.session.execute(
            select(*(select(func.max(c)).scalar_subquery() for c in columns)))).one()
        return max((t for t in newest if t is not None), default=None)


class UnitOfWork:
    """`async with uow() as store:` gives a store whose work is lost unless committed.

    On a SQLite file the store's statements run on the loop's thread (storage/sqlite_loop.py),
    and units of work of this process take turns (an asyncio lock): SQLite lets one writer in
    at a time anyway, and the next one's BEGIN IMMEDIATE then starts the moment the first
    commits. Another process's write lock is waited for with asyncio.sleep."""

    def __init__(self, engine: AsyncEngine, hold_crews: bool = True,
                 on_statement: StatementHook | None = None) -> None:
        self.engine = engine
        self.hold_crews = hold_crews
        self.on_statement = on_statement  # see Db.on_statement
        self.loop = loop_sqlite(engine)
        self.turns = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    def __call__(self) -> _Scope:
        return _Scope(self)


class _Scope:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.turns = uow.turns

    async def __aenter__(self) -> SqlStore:
        if self.turns:
            await self.turns.acquire()
        try:
            self.conn: AsyncConnection | LoopConnection = await (
                self.uow.loop.connect() if self.uow.loop else self.uow.engine.connect())
        except BaseException:
            if self.turns:
                self.turns.release()
            raise
        self.store = SqlStore(Db(self.conn, self.uow.on_statement), self.uow.hold_crews)
        return self.store

    async def __aexit__(self, *exc: object) -> None:
        try:
            try:
                await self.store.close()
            finally:
                await self.conn.close()
        finally:
            if self.turns:
                self.turns.release()
