"""Point values and reasons of GAME.md's ledger; each reason's level is in bot.rules.levels."""

from __future__ import annotations

from dataclasses import dataclass

from bot.rules.levels import OF_REASON


@dataclass(frozen=True)
class Award:
    reason: str
    level: int
    points: int


def _award(reason: str, points: int) -> Award:
    return Award(reason, OF_REASON[reason].number, points)


LISTENING_CIRCLE = _award("listening_circle", 1)
ASK = _award("ask", 5)
OFFER = _award("offer", 5)
MUTUAL_REGARD = _award("mutual_regard", 1)
MEETING_MISSED = _award("meeting_missed", -5)
CONFLICT_RESOLVED = _award("conflict_resolved", 10)
CONFLICT_UNRESOLVED = _award("conflict_unresolved", -20)
COOWNERS = _award("coowners", 100)
REVOKED = "revoked"  # a correction, in the level of the entry it corrects


def meeting_attended(nth: int) -> Award:
    """Points for a member's nth attended meeting in a crew: 1st +1, 2nd +3, later +5."""
    if nth < 1:
        raise ValueError("nth counts from 1")
    return _award("meeting_attended", {1: 1, 2: 3}.get(nth, 5))


def scores_under_cap(already_scored_today: int, cap: int) -> bool:
    """An ask or offer scores while fewer than `cap` of the same kind scored today."""
    return already_scored_today < cap
