"""The game's five levels: the one table of their numbers, names, colours and ledger reasons."""

from __future__ import annotations

from dataclasses import dataclass

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Level:
    number: int
    name: str
    colour: RGB  # its bars and its legend swatch in pictures
    reasons: tuple[str, ...]  # the ledger reasons that award points in it (GAME.md, "Points")


LEVELS: tuple[Level, ...] = (
    Level(1, "Listening", (76, 140, 214), ("listening_circle",)),
    Level(2, "Money", (70, 168, 110), ("ask", "offer", "mutual_regard")),
    Level(3, "Consistency", (232, 170, 50), ("meeting_attended", "meeting_missed")),
    Level(4, "Conflict", (210, 92, 88), ("conflict_resolved", "conflict_unresolved")),
    Level(5, "Co-owners", (140, 100, 196), ("coowners",)),
)
BY_NUMBER: dict[int, Level] = {level.number: level for level in LEVELS}
OF_REASON: dict[str, Level] = {reason: level for level in LEVELS for reason in level.reasons}


def level_named(number: int) -> str:
    """'Level 2, Money'."""
    return f"Level {number}, {BY_NUMBER[number].name}"
