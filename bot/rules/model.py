"""Plain records of the game's things, as the command layer sees them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Crew:
    id: int
    platform: str
    chat_id: str
    title: str
    settings: dict[str, Any] = field(default_factory=dict)
    schedule: str | None = None
    size_warned: bool = False


@dataclass(frozen=True)
class Member:
    id: int
    crew_id: int
    user_id: str
    name: str
    active: bool = True
    hidden: bool = False
    handle: str | None = None


@dataclass(frozen=True)
class Circle:
    id: int
    crew_id: int
    opened_at: datetime
    closes_at: datetime
    status: str  # open | complete | incomplete


@dataclass(frozen=True)
class Checkin:
    id: int
    circle_id: int
    member_id: int
    text: str


@dataclass(frozen=True)
class Favour:
    id: int  # in the whole database: buttons and message links carry it
    crew_id: int
    number: int  # what members read and type, counted within the crew (and kind)
    kind: str  # ask | offer | money
    member_id: int
    recipient_id: int | None
    text: str
    scored: bool
    thanked: bool
    created_at: datetime


@dataclass(frozen=True)
class Meeting:
    id: int
    crew_id: int
    month: str
    starts_at: datetime
    ends_at: datetime
    scheduled: bool
    status: str  # planned | open | tallied | skipped


@dataclass(frozen=True)
class Conflict:
    id: int
    crew_id: int
    number: int
    proposer_id: int
    other_id: int
    status: str  # proposed | accepted | lapsed | resolved | unresolved
    proposed_at: datetime
    accepted_at: datetime | None
    apologiser_id: int | None


@dataclass(frozen=True)
class Venture:
    id: int
    crew_id: int
    number: int
    name: str
    proposer_id: int
    status: str  # proposed | owned
    confirmations: dict[int, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    crew_id: int
    member_id: int
    points: int
    level: int
    reason: str
    source: str
    at: datetime


@dataclass(frozen=True)
class Due:
    id: int
    crew_id: int
    kind: str
    subject_id: int
    due_at: datetime


@dataclass(frozen=True)
class Link:
    """What a platform message stands for: an item of the game, and who posted it."""

    kind: str
    item_id: int
    author: str
