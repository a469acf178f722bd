"""Listening circles, their check-ins and the confirmations of listening."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update

from bot.rules.model import Checkin, Circle, Link, Member
from storage.models import CheckinRow, CircleRow, ListenRow
from storage.repositories.base import Db
from storage.repositories.rows import link_and_checkin, record, roster_and_circle, to_circle


class SqlCircles:
    """Circles, check-ins and listening (level 1), read and written in the unit of work's
    transaction (`db`)."""

    def __init__(self, db: Db) -> None:
        self.db = db

    async def open_circle(self, crew_id: int) -> Circle | None:
        row = (await self.db.run("open_circle", crew_id=crew_id)).first()
        return record(Circle, row) if row else None

    async def circle(self, circle_id: int) -> Circle:
        return to_circle((await self.db.session.scalars(select(CircleRow).where(
            CircleRow.id == circle_id, *self.db.in_crew(CircleRow)))).one())

    async def add_circle(self, crew_id: int, opened_at: datetime, closes_at: datetime) -> Circle:
        circle_id = (await self.db.run("add_circle", crew_id=crew_id, opened_at=opened_at,
                                       closes_at=closes_at)).scalar_one()
        return Circle(circle_id, crew_id, opened_at, closes_at, "open")

    async def close_circle(self, circle_id: int, status: str, now: datetime) -> bool:
        result = await self.db.conn.execute(
            update(CircleRow).where(CircleRow.id == circle_id, CircleRow.status == "open",
                                    *self.db.in_crew(CircleRow))
            .values(status=status, closed_at=now))
        return bool(result.rowcount)

    async def checkin_circle(self, checkin_id: int) -> tuple[Checkin, Circle] | None:
        """A check-in and its circle, in one query."""
        row = (await self.db.run_in_crew("checkin_circle", id=checkin_id)).first()
        return (record(Checkin, row, "checkin"), record(Circle, row, "circle")) if row else None

    async def open_circle_state(self, crew_id: int) -> tuple[
            list[Member], Circle | None, dict[int, int], set[tuple[int, int]]]:
        """The crew's roster (`roster`) and its open circle with `circle_state_roster`'s check-ins
        and confirmations, in one query."""
        return roster_and_circle(await self.db.run("open_circle_state", crew_id=crew_id))

    async def circle_state_roster(self, crew_id: int, circle_id: int) -> tuple[
            list[Member], dict[int, int], set[tuple[int, int]]]:
        """The crew's roster (`roster`) and one of its circles' check-ins (id to author) and
        confirmations (check-in id, listener), in one query."""
        roster, _, authors, heard = roster_and_circle(
            await self.db.run("circle_state_roster", crew_id=crew_id, circle_id=circle_id))
        return roster, authors, heard

    async def put_checkin(self, crew_id: int, circle_id: int, member_id: int, text: str,
                          now: datetime) -> tuple[Checkin, bool]:
        """Adds the member's check-in to the circle, or replaces its text; True if it is new."""
        key = {"crew_id": crew_id, "circle_id": circle_id, "member_id": member_id, "text": text,
               "at": now}
        new_id = (await self.db.run("add_checkin", **key)).scalar()
        if new_id is not None:
            return Checkin(new_id, circle_id, member_id, text), True
        row_id = (await self.db.run("edit_checkin", w_crew=crew_id, w_circle=circle_id,
                                    w_member=member_id, text=text, at=now)).scalar_one()
        return Checkin(row_id, circle_id, member_id, text), False

    async def add_listen(self, crew_id: int, checkin_id: int, listener_id: int, via: str
                         ) -> bool:
        result = await self.db.run("add_listen", crew_id=crew_id, checkin_id=checkin_id,
                                   listener_id=listener_id, via=via[:32])
        return bool(result.rowcount)

    async def remove_listen(self, crew_id: int, checkin_id: int, listener_id: int, via: str
                            ) -> bool:
        result = await self.db.session.execute(
            delete(ListenRow).where(ListenRow.crew_id == crew_id,
                                    ListenRow.checkin_id == checkin_id,
                                    ListenRow.listener_id == listener_id,
                                    ListenRow.via == via[:32]))
        return bool(result.rowcount)

    async def linked_checkin(self, crew_id: int, message_id: str
                             ) -> tuple[Link | None, tuple[Checkin, Circle] | None]:
        """`linked`, and for a check-in's message also `checkin_circle`, in one query."""
        row = (await self.db.run("linked_checkin", crew_id=crew_id, message_id=message_id)).first()
        if row is None:
            return None, None
        return link_and_checkin(row)

    async def member_checkins(self, member_id: int) -> list[tuple[int, datetime, str]]:
        """(circle id, time, text) of each check-in the member wrote."""
        rows = await self.db.session.execute(
            select(CheckinRow.circle_id, CheckinRow.updated_at, CheckinRow.text)
            .where(CheckinRow.member_id == member_id, *self.db.in_crew(CheckinRow))
            .order_by(CheckinRow.id))
        return [(row.circle_id, row.updated_at, row.text) for row in rows]

    async def member_listens(self, member_id: int) -> list[tuple[int, int]]:
        """(circle id, author's member id) of each check-in the member confirmed listening to."""
        rows = await self.db.session.execute(
            select(CheckinRow.circle_id, CheckinRow.member_id).distinct()
            .join(ListenRow, ListenRow.checkin_id == CheckinRow.id)
            .where(ListenRow.listener_id == member_id, *self.db.in_crew(ListenRow, CheckinRow))
            .order_by(CheckinRow.circle_id, CheckinRow.member_id))
        return [(row.circle_id, row.member_id) for row in rows]
