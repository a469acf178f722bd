"""Rows read back as the game's own records."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.rules.model import Circle, Conflict, Crew, Favour, LedgerEntry, Meeting, Member
from storage.models import (
    CircleRow,
    ConflictRow,
    CrewRow,
    FavourRow,
    LedgerRow,
    MeetingRow,
    MemberRow,
)
from storage.repositories.statements import FAVOUR_FIELDS


def to_crew(r: CrewRow) -> Crew:
    return Crew(r.id, r.platform, r.chat_id, r.title, dict(r.settings or {}), r.schedule,
                r.size_warned)


def to_member(r: MemberRow) -> Member:
    return Member(r.id, r.crew_id, r.user_id, r.name, r.active, r.hidden, r.handle)


def to_circle(r: CircleRow) -> Circle:
    return Circle(r.id, r.crew_id, r.opened_at, r.closes_at, r.status)


def to_favour(r: FavourRow) -> Favour:
    return Favour(r.id, r.crew_id, r.number, r.kind, r.member_id, r.recipient_id, r.text,
                  r.scored, r.thanked, r.created_at)


def to_meeting(r: MeetingRow) -> Meeting:
    return Meeting(r.id, r.crew_id, r.month, r.starts_at, r.ends_at, r.scheduled, r.status)


def to_conflict(r: ConflictRow) -> Conflict:
    return Conflict(r.id, r.crew_id, r.number, r.proposer_id, r.other_id, r.status,
                    r.proposed_at, r.accepted_at, r.apologiser_id)


def to_entry(r: LedgerRow) -> LedgerEntry:
    return LedgerEntry(r.id, r.crew_id, r.member_id, r.points, r.level, r.reason, r.source, r.at)



def roster_and_circle(rows: Iterable[Any]) -> tuple[
        list[Member], Circle | None, dict[int, int], set[tuple[int, int]]]:
    """The rows of `_circle_state_with_roster`, in any order: the roster by member id, the
    circle, its check-ins' authors by check-in id, and who heard which check-in."""
    roster: list[Member] = []
    circle: Circle | None = None
    checkins: list[tuple[int, int]] = []
    heard: set[tuple[int, int]] = set()
    for row in rows:
        if row[0] == 0:
            roster.append(Member(*row[1:8]))
            continue
        if circle is None and row[8] is not None:
            circle = Circle(*row[8:13])
        checkin_id, author, listener = row[13:]
        if checkin_id is not None:
            checkins.append((checkin_id, author))
        if listener is not None:
            heard.add((checkin_id, listener))
    roster.sort(key=lambda m: m.id)
    return roster, circle, dict(sorted(checkins)), heard


def favour_and_member(row: Any) -> tuple[Favour, Member] | None:
    """A row of _FAVOUR_COLS then _MEMBER_COLS."""
    if row is None:
        return None
    return Favour(*row[:FAVOUR_FIELDS]), Member(*row[FAVOUR_FIELDS:])


def crew_and_member(row: Any) -> tuple[Crew | None, Member | None]:
    """A row of _CREW_COLS then _MEMBER_COLS (the member's all None when not a member)."""
    if row is None or row[0] is None:
        return None, None
    crew = Crew(row[0], row[1], row[2], row[3], dict(row[4] or {}), row[5], row[6])
    return crew, (Member(*row[7:]) if row[7] is not None else None)


