"""The one table of levels: GAME.md's five levels and reasons, and every place that shows levels
(the board, /score, /help, the export, pictures) shows all five, in order, by name."""

from __future__ import annotations

import json

import pytest

from bot.commands.admin import help_text
from bot.commands.board import breakdown, level_bars
from bot.commands.registry import COMMANDS, command
from bot.export import as_json
from bot.pictures.board import Section, draw_board
from bot.pictures.drawing import PLAIN_BAR, level_colour
from bot.rules.levels import BY_NUMBER, LEVELS, OF_REASON, level_named
from bot.rules.points import meeting_attended

NAMES = ["Listening", "Money", "Consistency", "Conflict", "Co-owners"]  # GAME.md's headings
# GAME.md, "Points": each reason and its level ("revoked" takes the level of what it corrects)
REASONS = {"listening_circle": 1, "ask": 2, "offer": 2, "mutual_regard": 2,
           "meeting_attended": 3, "meeting_missed": 3, "conflict_resolved": 4,
           "conflict_unresolved": 4, "coowners": 5}


def test_five_levels_numbered_in_order_with_game_md_names() -> None:
    assert [(level.number, level.name) for level in LEVELS] == list(enumerate(NAMES, 1))
    assert list(BY_NUMBER) == [1, 2, 3, 4, 5]


def test_each_reason_belongs_to_the_one_level_game_md_gives_it() -> None:
    assert {reason: level.number for reason, level in OF_REASON.items()} == REASONS
    assert sum(len(level.reasons) for level in LEVELS) == len(REASONS)  # none in two levels
    assert meeting_attended(3).level == 3


def test_each_level_has_its_own_colour_and_a_bar_of_no_level_is_plain() -> None:
    colours = [level_colour(level.number) for level in LEVELS]
    assert len(set(colours)) == 5 and PLAIN_BAR not in colours
    assert level_colour(0) == PLAIN_BAR


def test_help_lists_the_five_levels_in_order_then_the_crew() -> None:
    headings = [line for line in help_text().splitlines()
                if line.startswith("Level ") or line == "The crew"]
    assert headings == [f"Level {n}: {name}" for n, name in enumerate(NAMES, 1)] + ["The crew"]
    assert level_named(4) == "Level 4, Conflict"


def test_score_bars_show_every_level_even_without_points() -> None:
    bars = level_bars({2: 6, 5: 100})
    assert [(bar.label, bar.value, bar.level) for bar in bars] == [
        ("Listening", 0, 1), ("Money", 6, 2), ("Consistency", 0, 3), ("Conflict", 0, 4),
        ("Co-owners", 100, 5)]


@pytest.mark.parametrize(("levels", "shown"), [
    ({2: 5, 5: 100}, " (Money 5 \u00b7 Co-owners 100)"),
    ({3: -5, 1: 1}, " (Listening 1 \u00b7 Consistency -5)"),
    ({}, ""),
])
def test_the_leaderboard_names_the_levels_a_member_has_points_in(levels, shown) -> None:
    assert breakdown(levels) == shown


def test_the_board_picture_has_a_legend_entry_for_each_level() -> None:
    drawn = draw_board("t", "h", [Section("By level", level_bars({1: 3}))], legend=LEVELS)
    assert [t for t in drawn.texts if t in NAMES] == NAMES * 2  # the bars' labels, the legend


async def test_the_export_has_points_for_each_of_the_five_levels(play) -> None:
    await play("""
        alice: /ask a lift
        bob: /join
    """)
    exported = json.loads(as_json(await play.app.game.export()))
    members = {m["name"]: m["by_level"] for m in exported["crews"][0]["members"]}
    assert members == {"alice": {"1": 0, "2": 5, "3": 0, "4": 0, "5": 0},
                       "bob": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}}


def test_every_command_is_filed_under_a_level_of_the_table_or_the_crew() -> None:
    assert {c.level for c in COMMANDS.values()} == {0, *BY_NUMBER}
    with pytest.raises(ValueError, match="no level 6"):
        command("sixth", level=6, usage="/sixth", summary="a level the game does not have")
