"""Ventures and their co-owners."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update

from bot.rules.model import Venture
from storage.models import VentureMemberRow, VentureRow
from storage.repositories.base import Db, numbered
from storage.repositories.statements import NUMBERS, next_number


class SqlVentures:
    """Ventures and co-owners (level 5), read and written in the unit of work's transaction
    (`db`)."""

    def __init__(self, db: Db) -> None:
        self.db = db

    async def venture_by_key(self, crew_id: int, key: str) -> Venture | None:
        row = await self.db.session.scalar(
            select(VentureRow).where(VentureRow.crew_id == crew_id, VentureRow.key == key))
        return await self.venture(row.id) if row else None

    async def venture(self, venture_id: int) -> Venture | None:
        row = await self.db.session.scalar(select(VentureRow).where(
            VentureRow.id == venture_id, *self.db.in_crew(VentureRow)))
        if row is None:
            return None
        owners = await self.db.session.execute(
            select(VentureMemberRow.member_id, VentureMemberRow.confirmed_at)
            .where(VentureMemberRow.venture_id == venture_id,
                   VentureMemberRow.crew_id == row.crew_id).order_by(VentureMemberRow.id))
        return Venture(row.id, row.crew_id, row.number, row.name, row.proposer_id, row.status,
                       {o.member_id: o.confirmed_at is not None for o in owners})

    async def numbered_venture(self, crew_id: int, number: int) -> Venture | None:
        """The crew's venture a member names by its number."""
        if number not in NUMBERS:
            return None
        venture_id = await self.db.session.scalar(
            select(VentureRow.id).where(VentureRow.crew_id == crew_id,
                                        VentureRow.number == number))
        return await self.venture(venture_id) if venture_id is not None else None

    async def add_venture(self, crew_id: int, name: str, key: str, proposer_id: int,
                          owners: list[int], now: datetime) -> Venture:
        ventures = VentureRow.__table__
        statement = (self.db.insert(ventures).values(
            crew_id=crew_id, name=name, key=key, proposer_id=proposer_id, status="proposed",
            created_at=now, number=next_number(ventures, crew_id=crew_id))
            .on_conflict_do_nothing(index_elements=["crew_id", "number"])
            .returning(ventures.c.id))
        (venture_id,) = await numbered(lambda: self.db.first_of(statement))
        for member_id in owners:
            self.db.session.add(VentureMemberRow(
                crew_id=crew_id, venture_id=venture_id, member_id=member_id,
                confirmed_at=now if member_id == proposer_id else None))
        await self.db.session.flush()
        venture = await self.venture(venture_id)
        assert venture is not None
        return venture

    async def confirm_owner(self, venture_id: int, member_id: int, now: datetime) -> bool:
        result = await self.db.session.execute(
            update(VentureMemberRow).where(*self.db.in_crew(VentureMemberRow),
                                           VentureMemberRow.venture_id == venture_id,
                                           VentureMemberRow.member_id == member_id,
                                           VentureMemberRow.confirmed_at.is_(None))
            .values(confirmed_at=now))
        return bool(result.rowcount)

    async def drop_owner(self, venture_id: int, member_id: int) -> bool:
        """Takes a named member who has not confirmed out of a venture; False if they could not
        be (not named, or already confirmed)."""
        result = await self.db.session.execute(
            delete(VentureMemberRow).where(*self.db.in_crew(VentureMemberRow),
                                           VentureMemberRow.venture_id == venture_id,
                                           VentureMemberRow.member_id == member_id,
                                           VentureMemberRow.confirmed_at.is_(None)))
        return bool(result.rowcount)

    async def withdraw_venture(self, venture_id: int) -> None:
        """Withdraws a venture and frees its name, so it can be proposed again."""
        await self.db.session.execute(
            update(VentureRow).where(VentureRow.id == venture_id, *self.db.in_crew(VentureRow))
            .values(status="withdrawn", key=f"withdrawn:{venture_id}"))

    async def set_venture_status(self, venture_id: int, status: str) -> None:
        await self.db.session.execute(
            update(VentureRow).where(VentureRow.id == venture_id, *self.db.in_crew(VentureRow))
            .values(status=status))

    async def ventures_awaiting(self, crew_id: int, member_id: int) -> list[Venture]:
        ids = await self.db.session.scalars(
            select(VentureRow.id).join(VentureMemberRow,
                                       VentureMemberRow.venture_id == VentureRow.id)
            .where(VentureRow.crew_id == crew_id, VentureRow.status == "proposed",
                   VentureMemberRow.member_id == member_id,
                   VentureMemberRow.confirmed_at.is_(None)).order_by(VentureRow.id))
        return [v for i in ids.all() if (v := await self.venture(i))]

    async def member_ventures(self, member_id: int) -> list[Venture]:
        """Ventures the member proposed or was named a co-owner of."""
        owned = select(VentureMemberRow.venture_id).where(
            VentureMemberRow.member_id == member_id, *self.db.in_crew(VentureMemberRow))
        ids = (await self.db.session.scalars(
            select(VentureRow.id).where((VentureRow.proposer_id == member_id)
                                        | VentureRow.id.in_(owned), *self.db.in_crew(VentureRow))
            .order_by(VentureRow.id))).all()
        return [v for i in ids if (v := await self.venture(i))]
