"""Meetings, their rosters and attendance, and the reflections shared."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select, update

from bot.rules.model import Meeting, Member
from storage.models import DueRow, MeetingRow, ReflectionRow, RosterRow
from storage.repositories.base import Db
from storage.repositories.rows import record, to_meeting
from storage.repositories.statements import MEETING_TIMERS


class SqlMeetings:
    """Meetings and attendance (level 3), read and written in the unit of work's transaction
    (`db`)."""

    def __init__(self, db: Db) -> None:
        self.db = db

    async def meeting(self, meeting_id: int) -> Meeting | None:
        row = (await self.db.run_in_crew("meeting", id=meeting_id)).first()
        return record(Meeting, row) if row else None

    async def meeting_in_month(self, crew_id: int, month: str) -> Meeting | None:
        row = await self.db.session.scalar(
            select(MeetingRow).where(MeetingRow.crew_id == crew_id, MeetingRow.month == month))
        return to_meeting(row) if row else None

    async def meetings_with_status(self, crew_id: int, status: str) -> list[Meeting]:
        return [record(Meeting, r) for r in
                await self.db.run("meetings_with_status", crew_id=crew_id, status=status)]

    async def add_meeting(self, crew_id: int, month: str, starts_at: datetime,
                          ends_at: datetime, scheduled: bool, status: str) -> Meeting:
        row = MeetingRow(crew_id=crew_id, month=month, starts_at=starts_at, ends_at=ends_at,
                         scheduled=scheduled, status=status)
        self.db.session.add(row)
        await self.db.session.flush()
        return to_meeting(row)

    async def set_meeting_status(self, meeting_id: int, status: str) -> None:
        await self.db.run_in_crew("set_meeting_status", w_id=meeting_id, status=status)

    async def drop_meeting(self, meeting_id: int) -> None:
        """Removes a planned meeting that never started, its timers and announced absences;
        reflections shared for it stay, no longer tied to a meeting."""
        await self.db.session.execute(delete(DueRow).where(  # on the (kind, subject_id) key
            DueRow.kind.in_(MEETING_TIMERS), DueRow.subject_id == meeting_id,
            *self.db.in_crew(DueRow)))
        await self.db.session.execute(delete(RosterRow).where(
            RosterRow.meeting_id == meeting_id, *self.db.in_crew(RosterRow)))
        await self.db.session.execute(update(ReflectionRow).where(
            ReflectionRow.meeting_id == meeting_id, *self.db.in_crew(ReflectionRow))
            .values(meeting_id=None))
        await self.db.session.execute(delete(MeetingRow).where(
            MeetingRow.id == meeting_id, MeetingRow.status == "planned",
            *self.db.in_crew(MeetingRow)))

    async def take_roster(self, crew_id: int, meeting_id: int, member_ids: Iterable[int]
                          ) -> None:
        """The roster at the start: these members (and an earlier /away row) count from now."""
        for member_id in member_ids:
            stmt = self.db.insert(RosterRow).values(crew_id=crew_id, meeting_id=meeting_id,
                                                    member_id=member_id, at_start=True)
            await self.db.session.execute(stmt.on_conflict_do_update(
                index_elements=["meeting_id", "member_id"], set_={"at_start": True}))

    async def mark_present(self, crew_id: int, meeting_id: int, member_id: int, now: datetime
                           ) -> bool:
        """Marks presence (joining the roster if need be); False if already marked."""
        await self.db.run("join_roster", crew_id=crew_id, meeting_id=meeting_id,
                          member_id=member_id)
        result = await self.db.run("mark_present", w_crew=crew_id, w_meeting=meeting_id,
                                   w_member=member_id, at=now)
        return bool(result.rowcount)

    async def excuse(self, crew_id: int, meeting_id: int, member_id: int) -> bool:
        """Marks an announced absence; False if it was already announced."""
        await self.db.session.execute(  # on the roster only if still a member at the start
            self.db.insert(RosterRow).values(crew_id=crew_id, meeting_id=meeting_id,
                                             member_id=member_id, at_start=False, excused=False)
            .on_conflict_do_nothing())
        result = await self.db.session.execute(
            update(RosterRow).where(RosterRow.crew_id == crew_id,
                                    RosterRow.meeting_id == meeting_id,
                                    RosterRow.member_id == member_id, ~RosterRow.excused)
            .values(excused=True))
        return bool(result.rowcount)

    async def meeting_roster(self, meeting_id: int) -> dict[int, bool]:
        """Member id to present?, for everyone on the roster at the start or marked present
        (an /away row of someone who left before the start is neither)."""
        rows = await self.db.session.execute(
            select(RosterRow.member_id, RosterRow.present_at).where(
                RosterRow.meeting_id == meeting_id, *self.db.in_crew(RosterRow),
                RosterRow.at_start | RosterRow.present_at.is_not(None))
            .order_by(RosterRow.member_id))
        return {row.member_id: row.present_at is not None for row in rows}

    async def tally_roster(self, crew_id: int, meeting_id: int
                           ) -> list[tuple[Member, bool, bool, int]]:
        """The meeting_roster's members, each with present?, excused? and how many meetings
        they attended in this crew before, in one query."""
        rows = await self.db.run("tally_roster", crew_id=crew_id, meeting_id=meeting_id)
        return [(record(Member, row), bool(row.present), bool(row.excused), row.attended)
                for row in rows]

    async def add_reflection(self, crew_id: int, member_id: int, meeting_id: int | None,
                             text: str, now: datetime) -> None:
        self.db.session.add(ReflectionRow(crew_id=crew_id, member_id=member_id,
                                          meeting_id=meeting_id, text=text, created_at=now))
        await self.db.session.flush()

    async def member_reflections(self, member_id: int) -> list[tuple[datetime, str]]:
        rows = await self.db.session.execute(
            select(ReflectionRow.created_at, ReflectionRow.text)
            .where(ReflectionRow.member_id == member_id, *self.db.in_crew(ReflectionRow))
            .order_by(ReflectionRow.id))
        return [(row.created_at, row.text) for row in rows]

    async def member_meetings(self, member_id: int) -> list[tuple[Meeting, bool]]:
        """Each meeting the member was on the roster of, and whether they marked presence."""
        rows = await self.db.session.execute(
            select(MeetingRow, RosterRow.present_at)
            .join(RosterRow, RosterRow.meeting_id == MeetingRow.id)
            .where(RosterRow.member_id == member_id, *self.db.in_crew(RosterRow, MeetingRow))
            .order_by(MeetingRow.starts_at))
        return [(to_meeting(row.MeetingRow), row.present_at is not None) for row in rows]
