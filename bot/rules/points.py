"""Point values, levels and reasons of GAME.md's ledger."""

from __future__ import annotations

from dataclasses import dataclass

LEVEL_NAMES = {1: "Listening", 2: "Money", 3: "Consistency", 4: "Conflict", 5: "Co-owners"}


@dataclass(frozen=True)
class Award:
    reason: str
    level: int
    points: int


LISTENING_CIRCLE = Award("listening_circle", 1, 1)
ASK = Award("ask", 2, 5)
OFFER = Award("offer", 2, 5)
MUTUAL_REGARD = Award("mutual_regard", 2, 1)
MEETING_MISSED = Award("meeting_missed", 3, -5)
CONFLICT_RESOLVED = Award("conflict_resolved", 4, 10)
CONFLICT_UNRESOLVED = Award("conflict_unresolved", 4, -20)
COOWNERS = Award("coowners", 5, 100)
REVOKED = "revoked"


def meeting_attended(nth: int) -> Award:
    """Points for a member's nth attended meeting in a crew: 1st +1, 2nd +3, later +5."""
    if nth < 1:
        raise ValueError("nth counts from 1")
    return Award("meeting_attended", 3, {1: 1, 2: 3}.get(nth, 5))


def scores_under_cap(already_scored_today: int, cap: int) -> bool:
    """An ask or offer scores while fewer than `cap` of the same kind scored today."""
    return already_scored_today < cap
