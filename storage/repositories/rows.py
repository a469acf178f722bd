"""Rows read back as the game's own records."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import fields
from operator import attrgetter
from typing import Any, TypeVar

from bot.rules.model import (
    Checkin,
    Circle,
    Conflict,
    Crew,
    Favour,
    LedgerEntry,
    Link,
    Meeting,
    Member,
)
from storage.models import (
    CircleRow,
    ConflictRow,
    CrewRow,
    FavourRow,
    LedgerRow,
    MeetingRow,
    MemberRow,
)

T = TypeVar("T")
_GETTERS: dict[tuple[type, str], Callable[[Any], tuple[Any, ...]]] = {}


def _getter(kind: type, prefix: str) -> Callable[[Any], tuple[Any, ...]]:
    getter = _GETTERS.get((kind, prefix))
    if getter is None:
        names = [f"{prefix}_{f.name}" if prefix else f.name for f in fields(kind)]
        getter = _GETTERS[(kind, prefix)] = attrgetter(*names)
    return getter


def record(kind: type[T], row: Any, prefix: str = "") -> T:
    """The record `kind` read from the row's columns of the same names (`<prefix>_<name>` where
    the statement labelled them: storage.repositories.statements.named)."""
    return kind(*_getter(kind, prefix)(row))


def crew_of(row: Any, prefix: str = "") -> Crew:
    """A crew, with a settings dictionary of its own (the column's may be shared or None)."""
    id_, platform, chat_id, title, settings, schedule, size_warned = _getter(Crew, prefix)(row)
    return Crew(id_, platform, chat_id, title, dict(settings or {}), schedule, size_warned)


def to_crew(r: CrewRow) -> Crew:
    return crew_of(r)


def to_member(r: MemberRow) -> Member:
    return record(Member, r)


def to_circle(r: CircleRow) -> Circle:
    return record(Circle, r)


def to_favour(r: FavourRow) -> Favour:
    return record(Favour, r)


def to_meeting(r: MeetingRow) -> Meeting:
    return record(Meeting, r)


def to_conflict(r: ConflictRow) -> Conflict:
    return record(Conflict, r)


def to_entry(r: LedgerRow) -> LedgerEntry:
    return record(LedgerEntry, r)


def roster_and_circle(rows: Iterable[Any]) -> tuple[
        list[Member], Circle | None, dict[int, int], set[tuple[int, int]]]:
    """The rows of `_circle_state_with_roster`, in any order: the roster by member id, the
    circle, its check-ins' authors by check-in id, and who heard which check-in."""
    roster: list[Member] = []
    circle: Circle | None = None
    checkins: list[tuple[int, int]] = []
    heard: set[tuple[int, int]] = set()
    for row in rows:
        if row.part == 0:
            roster.append(record(Member, row, "m"))
            continue
        if circle is None and row.c_id is not None:
            circle = record(Circle, row, "c")
        if row.k_id is not None:
            checkins.append((row.k_id, row.k_member_id))
        if row.l_listener_id is not None:
            heard.add((row.k_id, row.l_listener_id))
    roster.sort(key=lambda m: m.id)
    return roster, circle, dict(sorted(checkins)), heard


def favour_and_member(row: Any) -> tuple[Favour, Member] | None:
    """A row of `favour_*` and `member_*` columns."""
    if row is None:
        return None
    return record(Favour, row, "favour"), record(Member, row, "member")


def crew_and_member(row: Any) -> tuple[Crew | None, Member | None]:
    """A row of `crew_*` and `member_*` columns (the member's all None when not a member)."""
    if row is None or row.crew_id is None:
        return None, None
    return crew_of(row, "crew"), (record(Member, row, "member")
                                  if row.member_id is not None else None)


def link_and_checkin(row: Any) -> tuple[Link, tuple[Checkin, Circle] | None]:
    """A row of `link_*`, `checkin_*` and `circle_*` columns (the check-in's all None when the
    message is no check-in's)."""
    found = ((record(Checkin, row, "checkin"), record(Circle, row, "circle"))
             if row.checkin_id is not None else None)
    return record(Link, row, "link"), found


def link_and_favour(row: Any) -> tuple[Link, tuple[Favour, Member] | None]:
    """A row of `link_*`, `favour_*` and `member_*` columns."""
    return record(Link, row, "link"), (favour_and_member(row)
                                       if row.favour_id is not None else None)
