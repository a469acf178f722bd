"""Conflicts between two members, from proposal to apology."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from bot.rules.model import Conflict
from storage.models import ConflictRow
from storage.repositories.base import Db, numbered
from storage.repositories.rows import to_conflict
from storage.repositories.statements import NUMBERS, next_number


class SqlConflicts:
    """Conflicts (level 4), read and written in the unit of work's transaction (`db`)."""

    def __init__(self, db: Db) -> None:
        self.db = db

    async def add_conflict(self, crew_id: int, proposer_id: int, other_id: int,
                           now: datetime) -> Conflict:
        conflicts = ConflictRow.__table__
        statement = (self.db.insert(conflicts).values(
            crew_id=crew_id, proposer_id=proposer_id, other_id=other_id, status="proposed",
            proposed_at=now, apology="", number=next_number(conflicts, crew_id=crew_id))
            .on_conflict_do_nothing(index_elements=["crew_id", "number"])
            .returning(conflicts.c.id, conflicts.c.number))
        conflict_id, number = await numbered(lambda: self.db.first_of(statement))
        return Conflict(conflict_id, crew_id, number, proposer_id, other_id, "proposed", now,
                        None, None)

    async def conflict(self, conflict_id: int) -> Conflict | None:
        row = await self.db.session.scalar(select(ConflictRow).where(
            ConflictRow.id == conflict_id, *self.db.in_crew(ConflictRow)))
        return to_conflict(row) if row else None

    async def numbered_conflict(self, crew_id: int, number: int) -> Conflict | None:
        """The crew's conflict a member names by its number."""
        if number not in NUMBERS:
            return None
        row = await self.db.session.scalar(
            select(ConflictRow).where(ConflictRow.crew_id == crew_id,
                                      ConflictRow.number == number))
        return to_conflict(row) if row else None

    async def open_conflicts(self, crew_id: int, member_id: int) -> list[Conflict]:
        rows = await self.db.session.scalars(
            select(ConflictRow).where(
                ConflictRow.crew_id == crew_id,
                ConflictRow.status.in_(("proposed", "accepted")),
                (ConflictRow.proposer_id == member_id) | (ConflictRow.other_id == member_id))
            .order_by(ConflictRow.id))
        return [to_conflict(r) for r in rows]

    async def move_conflict(self, conflict_id: int, from_status: str, **fields: Any) -> bool:
        """Changes a conflict only if it is still in `from_status`; False if it moved on."""
        result = await self.db.session.execute(
            update(ConflictRow).where(ConflictRow.id == conflict_id,
                                      ConflictRow.status == from_status,
                                      *self.db.in_crew(ConflictRow)).values(**fields))
        return bool(result.rowcount)

    async def member_conflicts(self, member_id: int) -> list[tuple[Conflict, str]]:
        """Conflicts the member is party to, each with the apology text only if they wrote it."""
        rows = await self.db.session.scalars(
            select(ConflictRow).where((ConflictRow.proposer_id == member_id)
                                      | (ConflictRow.other_id == member_id),
                                      *self.db.in_crew(ConflictRow))
            .order_by(ConflictRow.id))
        return [(to_conflict(r), r.apology if r.apologiser_id == member_id else "") for r in rows]
