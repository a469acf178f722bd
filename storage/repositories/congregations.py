"""Congregations: crews side by side, their stewards, lobbies, the people looking, knocks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from bot.rules.congregation import Congregation, Knock, Lobby, Looking
from bot.rules.model import Crew
from storage.models import (
    CongregationCrewRow,
    CongregationRow,
    CrewRow,
    KnockRow,
    LobbyRow,
    LookingRow,
    MemberRow,
    StewardRow,
)
from storage.repositories.base import Db
from storage.repositories.rows import to_crew


def _congregation(row: CongregationRow) -> Congregation:
    return Congregation(row.id, row.name, row.code)


def _looking(row: LookingRow) -> Looking:
    return Looking(row.id, row.congregation_id, row.platform, row.user_id, row.name, row.words,
                   row.since)


def _knock(row: KnockRow) -> Knock:
    return Knock(row.id, row.congregation_id, row.crew_id, row.platform, row.user_id, row.name,
                 row.status, row.at)


class SqlCongregations:
    """Congregations, read and written in the unit of work's transaction (`db`)."""

    def __init__(self, db: Db) -> None:
        self.db = db

    async def congregation(self, congregation_id: int) -> Congregation | None:
        row = await self.db.session.get(CongregationRow, congregation_id)
        return _congregation(row) if row else None

    async def by_code(self, code: str) -> Congregation | None:
        row = await self.db.session.scalar(
            select(CongregationRow).where(CongregationRow.code == code))
        return _congregation(row) if row else None

    async def of_crew(self, crew_id: int) -> Congregation | None:
        row = await self.db.session.scalar(
            select(CongregationRow).join(CongregationCrewRow,
                                         CongregationCrewRow.congregation_id == CongregationRow.id)
            .where(CongregationCrewRow.crew_id == crew_id))
        return _congregation(row) if row else None

    async def of_server(self, platform: str, server: str) -> list[Congregation]:
        rows = await self.db.session.scalars(
            select(CongregationRow).where(CongregationRow.id.in_(
                select(CongregationCrewRow.congregation_id)
                .join(CrewRow, CrewRow.id == CongregationCrewRow.crew_id)
                .where(CrewRow.platform == platform, CongregationCrewRow.server == server)))
            .order_by(CongregationRow.id))
        return [_congregation(r) for r in rows]

    async def add_congregation(self, name: str, code: str, now: datetime) -> Congregation:
        row = CongregationRow(name=name[:100], code=code, created_at=now)
        self.db.session.add(row)
        await self.db.session.flush()
        return _congregation(row)

    async def update_congregation(self, congregation_id: int, **fields: Any) -> None:
        """Sets these columns (name, code)."""
        await self.db.session.execute(update(CongregationRow)
                                      .where(CongregationRow.id == congregation_id)
                                      .values(**fields))

    async def add_crew(self, congregation_id: int, crew_id: int, server: str,
                       now: datetime) -> bool:
        result = await self.db.session.execute(
            self.db.insert(CongregationCrewRow).values(
                crew_id=crew_id, congregation_id=congregation_id, server=server[:64],
                joined_at=now).on_conflict_do_nothing())
        return bool(result.rowcount)

    async def remove_crew(self, congregation_id: int, crew_id: int) -> bool:
        """Takes the crew out, and the knocks on it still waiting; False if it was not in."""
        result = await self.db.session.execute(
            delete(CongregationCrewRow).where(CongregationCrewRow.crew_id == crew_id,
                                              CongregationCrewRow.congregation_id
                                              == congregation_id))
        await self.db.session.execute(
            delete(KnockRow).where(KnockRow.crew_id == crew_id, KnockRow.status == "waiting"))
        return bool(result.rowcount)

    async def crews(self, congregation_id: int) -> list[Crew]:
        """The member crews, in the order they joined."""
        rows = await self.db.session.scalars(
            select(CrewRow).join(CongregationCrewRow, CongregationCrewRow.crew_id == CrewRow.id)
            .where(CongregationCrewRow.congregation_id == congregation_id)
            .order_by(CongregationCrewRow.joined_at, CrewRow.id))
        return [to_crew(r) for r in rows]

    async def sizes(self, crew_ids: list[int]) -> dict[int, int]:
        """Active members of each crew, in one count."""
        if not crew_ids:
            return {}
        rows = await self.db.session.execute(
            select(MemberRow.crew_id, func.count()).where(MemberRow.crew_id.in_(crew_ids),
                                                          MemberRow.active.is_(True))
            .group_by(MemberRow.crew_id))
        counted = {crew_id: n for crew_id, n in rows}
        return {crew_id: counted.get(crew_id, 0) for crew_id in crew_ids}

    async def is_steward(self, congregation_id: int, platform: str, user_id: str) -> bool:
        return await self.db.session.scalar(
            select(StewardRow.id).where(StewardRow.congregation_id == congregation_id,
                                        StewardRow.platform == platform,
                                        StewardRow.user_id == user_id)) is not None

    async def add_steward(self, congregation_id: int, platform: str, user_id: str,
                          name: str) -> bool:
        result = await self.db.session.execute(
            self.db.insert(StewardRow).values(congregation_id=congregation_id, platform=platform,
                                              user_id=user_id, name=name[:100])
            .on_conflict_do_nothing())
        return bool(result.rowcount)

    async def stewards(self, congregation_id: int) -> list[tuple[str, str, str]]:
        """(platform, user id, name) of each steward."""
        rows = await self.db.session.execute(
            select(StewardRow.platform, StewardRow.user_id, StewardRow.name)
            .where(StewardRow.congregation_id == congregation_id).order_by(StewardRow.id))
        return [tuple(r) for r in rows]  # type: ignore[misc]

    async def lobby(self, platform: str, chat_id: str) -> Lobby | None:
        row = await self.db.session.scalar(
            select(LobbyRow).where(LobbyRow.platform == platform, LobbyRow.chat_id == chat_id))
        return Lobby(row.congregation_id, row.platform, row.chat_id) if row else None

    async def set_lobby(self, congregation_id: int, platform: str, chat_id: str) -> None:
        """Makes the chat the congregation's lobby on its platform, in place of any other."""
        await self.db.session.execute(
            delete(LobbyRow).where(LobbyRow.congregation_id == congregation_id,
                                   LobbyRow.platform == platform))
        await self.db.session.execute(
            self.db.insert(LobbyRow).values(congregation_id=congregation_id, platform=platform,
                                            chat_id=chat_id))

    async def lobbies(self, congregation_id: int) -> list[Lobby]:
        rows = await self.db.session.scalars(
            select(LobbyRow).where(LobbyRow.congregation_id == congregation_id)
            .order_by(LobbyRow.id))
        return [Lobby(r.congregation_id, r.platform, r.chat_id) for r in rows]

    async def put_looking(self, congregation_id: int, platform: str, user_id: str, name: str,
                          words: str, now: datetime) -> None:
        """The person's words in the lobby, replacing what they said before."""
        await self.db.session.execute(
            self.db.insert(LookingRow).values(congregation_id=congregation_id, platform=platform,
                                              user_id=user_id, name=name[:100], words=words,
                                              since=now)
            .on_conflict_do_update(index_elements=["congregation_id", "platform", "user_id"],
                                   set_={"name": name[:100], "words": words, "since": now}))

    async def looking(self, congregation_id: int) -> list[Looking]:
        rows = await self.db.session.scalars(
            select(LookingRow).where(LookingRow.congregation_id == congregation_id)
            .order_by(LookingRow.since, LookingRow.id))
        return [_looking(r) for r in rows]

    async def person_looking(self, platform: str, user_id: str) -> list[Looking]:
        """Where the person is looking, in any congregation."""
        rows = await self.db.session.scalars(
            select(LookingRow).where(LookingRow.platform == platform,
                                     LookingRow.user_id == user_id).order_by(LookingRow.id))
        return [_looking(r) for r in rows]

    async def stop_looking(self, platform: str, user_id: str,
                           congregation_id: int | None = None) -> int:
        """Deletes the person's lobby words (in one congregation, or in all); how many."""
        query = delete(LookingRow).where(LookingRow.platform == platform,
                                         LookingRow.user_id == user_id)
        if congregation_id is not None:
            query = query.where(LookingRow.congregation_id == congregation_id)
        return (await self.db.session.execute(query)).rowcount

    async def add_knock(self, congregation_id: int, crew_id: int, platform: str, user_id: str,
                        name: str, now: datetime) -> Knock:
        row = KnockRow(congregation_id=congregation_id, crew_id=crew_id, platform=platform,
                       user_id=user_id, name=name[:100], status="waiting", at=now)
        self.db.session.add(row)
        await self.db.session.flush()
        return _knock(row)

    async def knock(self, knock_id: int) -> Knock | None:
        row = await self.db.session.get(KnockRow, knock_id)
        return _knock(row) if row else None

    async def person_knocks(self, platform: str, user_id: str,
                            since: datetime | None = None) -> list[Knock]:
        """The person's knocks (after `since`, or all), oldest first."""
        query = select(KnockRow).where(KnockRow.platform == platform, KnockRow.user_id == user_id)
        if since is not None:
            query = query.where(KnockRow.at > since)
        rows = await self.db.session.scalars(query.order_by(KnockRow.at, KnockRow.id))
        return [_knock(r) for r in rows]

    async def move_knock(self, knock_id: int, from_status: str, status: str,
                         now: datetime) -> bool:
        """Moves the knock on if it is still in `from_status`; False if someone moved it first."""
        result = await self.db.session.execute(
            update(KnockRow).where(KnockRow.id == knock_id, KnockRow.status == from_status)
            .values(status=status, decided_at=now))
        return bool(result.rowcount)

    async def joined(self, crew_id: int, platform: str, user_id: str, now: datetime) -> None:
        """The person joined the crew: their knocks on it are done, and they stop looking."""
        await self.db.session.execute(
            update(KnockRow).where(KnockRow.crew_id == crew_id, KnockRow.platform == platform,
                                   KnockRow.user_id == user_id,
                                   KnockRow.status.in_(("waiting", "invited")))
            .values(status="joined", decided_at=now))
        await self.stop_looking(platform, user_id)

    async def forget_person(self, platform: str, user_id: str) -> int:
        """Deletes everything the lobby keeps about the person: words and knocks; how many."""
        gone = await self.stop_looking(platform, user_id)
        result = await self.db.session.execute(
            delete(KnockRow).where(KnockRow.platform == platform, KnockRow.user_id == user_id))
        return gone + result.rowcount

    async def all_congregations(self) -> list[Congregation]:
        rows = await self.db.session.scalars(select(CongregationRow).order_by(CongregationRow.id))
        return [_congregation(r) for r in rows]

    async def knocks(self, congregation_id: int) -> list[Knock]:
        rows = await self.db.session.scalars(
            select(KnockRow).where(KnockRow.congregation_id == congregation_id)
            .order_by(KnockRow.id))
        return [_knock(r) for r in rows]
