"""Point values match GAME.md's ledger table; meeting streaks, daily caps and leaderboard ranks."""

from __future__ import annotations

import pytest

from bot.commands.board import ranks
from bot.rules import points
from bot.rules.points import (
    ASK,
    CONFLICT_RESOLVED,
    CONFLICT_UNRESOLVED,
    COOWNERS,
    LISTENING_CIRCLE,
    MEETING_MISSED,
    MUTUAL_REGARD,
    OFFER,
    Award,
    meeting_attended,
    scores_under_cap,
)

# GAME.md, "Points": reason | level | points (meeting_attended is by count, tested below)
GAME_TABLE = [
    (LISTENING_CIRCLE, "listening_circle", 1, 1),
    (ASK, "ask", 2, 5),
    (OFFER, "offer", 2, 5),
    (MUTUAL_REGARD, "mutual_regard", 2, 1),
    (MEETING_MISSED, "meeting_missed", 3, -5),
    (CONFLICT_RESOLVED, "conflict_resolved", 4, 10),
    (CONFLICT_UNRESOLVED, "conflict_unresolved", 4, -20),
    (COOWNERS, "coowners", 5, 100),
]


@pytest.mark.parametrize(
    ("award", "reason", "level", "value"), GAME_TABLE, ids=[row[1] for row in GAME_TABLE]
)
def test_award_matches_game_table(award: Award, reason: str, level: int, value: int) -> None:
    assert (award.reason, award.level, award.points) == (reason, level, value)


def test_every_award_constant_is_in_the_game_table() -> None:
    constants = {v.reason for v in vars(points).values() if isinstance(v, Award)}
    assert constants == {row[1] for row in GAME_TABLE}


def test_revoked_reason_is_spelled_as_in_game_md() -> None:
    assert points.REVOKED == "revoked"


@pytest.mark.parametrize(("nth", "value"), [(1, 1), (2, 3), (3, 5), (4, 5), (12, 5), (100, 5)])
def test_meeting_attended_grows_with_each_meeting(nth: int, value: int) -> None:
    award = meeting_attended(nth)
    assert (award.reason, award.level, award.points) == ("meeting_attended", 3, value)


def test_four_meetings_in_a_row_earn_fourteen_points() -> None:
    assert sum(meeting_attended(n).points for n in range(1, 5)) == 1 + 3 + 5 + 5


@pytest.mark.parametrize("nth", [0, -1])
def test_meeting_attended_counts_from_one(nth: int) -> None:
    with pytest.raises(ValueError, match="from 1"):
        meeting_attended(nth)


@pytest.mark.parametrize(
    ("already", "cap", "scores"),
    [(0, 3, True), (2, 3, True), (3, 3, False), (4, 3, False), (4, 5, True), (5, 5, False),
     (0, 0, False)],
)
def test_scores_under_cap(already: int, cap: int, scores: bool) -> None:
    assert scores_under_cap(already, cap) is scores


@pytest.mark.parametrize(("cap", "attempts"), [(3, 10), (5, 10), (0, 4), (3, 2)])
def test_a_day_of_attempts_scores_exactly_the_first_cap(cap: int, attempts: int) -> None:
    scored = 0
    for _ in range(attempts):
        if scores_under_cap(scored, cap):
            scored += 1
    assert scored == min(cap, attempts)


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([5, 5, 3], [1, 1, 3]),
        ([9, 7, 7, 7, 2], [1, 2, 2, 2, 5]),
        ([5, 3, 1], [1, 2, 3]),
        ([0, 0, 0], [1, 1, 1]),
        ([10, -5, -5, -20], [1, 2, 2, 4]),
        ([7], [1]),
        ([], []),
    ],
)
def test_leaderboard_ties_share_a_rank(scores: list[int], expected: list[int]) -> None:
    assert ranks(scores) == expected
