"""Crews and their members: who plays in which chat."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from bot.rules.model import Crew, Member
from storage.models import (
    CheckinRow,
    ConflictRow,
    CrewRow,
    FavourRow,
    MemberRow,
    MemberWindowRow,
    MessageLinkRow,
    ReflectionRow,
)
from storage.repositories.base import Db
from storage.repositories.rows import crew_and_member, record, to_crew, to_member


class SqlCrews:
    """Crews and members, read and written in the unit of work's transaction (`db`)."""

    def __init__(self, db: Db) -> None:
        self.db = db

    async def crew(self, platform: str, chat_id: str) -> Crew | None:
        row = await self.db.session.scalar(
            select(CrewRow).where(CrewRow.platform == platform, CrewRow.chat_id == chat_id))
        return to_crew(row) if row else None

    async def crew_by_id(self, crew_id: int) -> Crew:
        return to_crew(await self.db.session.get_one(CrewRow, crew_id))

    async def crews_by_id(self, ids: Iterable[int]) -> dict[int, Crew]:
        """The crews a person knocked on (a lobby's reads, which hold no crew)."""
        wanted = set(ids)
        if not wanted:
            return {}
        rows = await self.db.session.scalars(select(CrewRow).where(CrewRow.id.in_(wanted)))
        return {r.id: to_crew(r) for r in rows}

    async def all_crews(self) -> list[Crew]:
        rows = await self.db.session.scalars(select(CrewRow).order_by(CrewRow.id))
        return [to_crew(r) for r in rows]

    async def add_crew(self, platform: str, chat_id: str, title: str, now: datetime) -> Crew:
        await self.db.session.execute(
            self.db.insert(CrewRow).values(platform=platform, chat_id=chat_id, title=title[:200],
                                           settings={}, size_warned=False, created_at=now)
            .on_conflict_do_nothing())
        crew = await self.crew(platform, chat_id)
        assert crew is not None
        return crew

    async def update_crew(self, crew_id: int, **fields: Any) -> None:
        await self.db.session.execute(update(CrewRow).where(CrewRow.id == crew_id).values(**fields))

    async def member(self, crew_id: int, user_id: str) -> Member | None:
        row = (await self.db.run("member", crew_id=crew_id, user_id=user_id)).first()
        return record(Member, row) if row else None

    async def member_by_id(self, member_id: int) -> Member:
        return record(Member, (await self.db.run_in_crew("member_by_id", id=member_id)).one())

    async def members_by_id(self, ids: Iterable[int]) -> dict[int, Member]:
        wanted = set(ids)
        if not wanted:
            return {}
        rows = await self.db.session.scalars(select(MemberRow).where(
            MemberRow.id.in_(wanted), *self.db.in_crew(MemberRow)))
        return {r.id: to_member(r) for r in rows}

    async def member_by_name(self, crew_id: int, name: str) -> Member | None:
        rows = (await self.db.session.scalars(
            select(MemberRow).where(MemberRow.crew_id == crew_id,
                                    (func.lower(MemberRow.name) == name.lower())
                                    | (func.lower(MemberRow.handle) == name.lower()))
            .order_by(MemberRow.active.desc(), MemberRow.id))).all()
        return to_member(rows[0]) if rows else None

    async def add_member(self, crew_id: int, user_id: str, name: str, now: datetime,
                         handle: str | None = None) -> Member:
        await self.db.session.execute(
            self.db.insert(MemberRow).values(crew_id=crew_id, user_id=user_id, name=name[:100],
                                             handle=handle[:64] if handle else None,
                                             active=True, hidden=False, joined_at=now)
            .on_conflict_do_nothing())
        member = await self.member(crew_id, user_id)
        assert member is not None
        return member

    async def update_member(self, member_id: int, **fields: Any) -> None:
        await self.db.session.execute(
            update(MemberRow).where(MemberRow.id == member_id, *self.db.in_crew(MemberRow))
            .values(**fields))

    async def roster(self, crew_id: int) -> list[Member]:
        return [record(Member, r) for r in await self.db.run("roster", crew_id=crew_id)]

    async def all_members(self, crew_id: int) -> list[Member]:
        rows = await self.db.session.scalars(
            select(MemberRow).where(MemberRow.crew_id == crew_id).order_by(MemberRow.id))
        return [to_member(r) for r in rows]

    async def founder(self, crew_id: int) -> int | None:
        return await self.db.session.scalar(
            select(func.min(MemberRow.id)).where(MemberRow.crew_id == crew_id))

    async def member_joined(self, member_id: int) -> datetime:
        return (await self._member_row(member_id)).joined_at

    async def _member_row(self, member_id: int) -> MemberRow:
        return (await self.db.session.scalars(select(MemberRow).where(
            MemberRow.id == member_id, *self.db.in_crew(MemberRow)))).one()

    async def forget_member(self, member_id: int, user_id: str, name: str) -> None:
        """Erases every text the member wrote and makes the member anonymous: `user_id` and
        `name` replace theirs, also as the author of their messages; their rate-limit minute in
        the crew's chat goes. Their ledger rows (and cached totals) stay, now belonging to the
        anonymous member."""
        row = await self._member_row(member_id)
        crew_id, old_user_id = row.crew_id, row.user_id
        for table, column, who in ((CheckinRow, "text", CheckinRow.member_id),
                                   (FavourRow, "text", FavourRow.member_id),
                                   (ReflectionRow, "text", ReflectionRow.member_id),
                                   (ConflictRow, "apology", ConflictRow.apologiser_id)):
            await self.db.session.execute(  # the member's crew's rows only
                update(table).where(who == member_id, table.crew_id == crew_id)
                .values({column: ""}))
        await self.db.session.execute(
            update(MessageLinkRow).where(MessageLinkRow.crew_id == crew_id,
                                         MessageLinkRow.author == old_user_id)
            .values(author=user_id))
        await self.db.session.execute(
            update(MemberRow).where(MemberRow.id == member_id, MemberRow.crew_id == crew_id)
            .values(user_id=user_id, name=name, handle=None, hidden=True, active=False))
        crew = await self.db.session.get_one(CrewRow, crew_id)
        await self.db.session.execute(  # their rate-limit minute names them too
            delete(MemberWindowRow).where(MemberWindowRow.platform == crew.platform,
                                          MemberWindowRow.chat_id == crew.chat_id,
                                          MemberWindowRow.user_id == old_user_id))

    async def crew_member(self, platform: str, chat_id: str, user_id: str
                          ) -> tuple[Crew | None, Member | None]:
        """The crew of a chat and a user's membership of it, in one query."""
        row = (await self.db.run("crew_member", platform=platform, chat_id=chat_id,
                                 user_id=user_id)).first()
        return crew_and_member(row)
