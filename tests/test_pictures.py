"""The pictures themselves: rendered, opened with Pillow, and checked pixel by pixel."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.pictures.board import BAR_W, BAR_X, Bar, Section, draw_board
from bot.pictures.drawing import BACKGROUND, LEVEL_COLOURS, MAX_LABEL, TRACK, Drawn
from bot.pictures.network import (
    HELP,
    LISTEN,
    NODE_COLOUR,
    ONE_SIDED,
    Person,
    Tie,
    describe,
    draw_network,
    positions,
)
from bot.pictures.recap import ABSENT, PRESENT, draw_recap

LEVELS = {1: "Listening", 2: "Money", 3: "Consistency", 4: "Conflict", 5: "Co-owners"}


def opened(drawn: Drawn) -> Image.Image:
    image = Image.open(io.BytesIO(drawn.png))
    assert image.format == "PNG" and image.size == drawn.size
    return image.convert("RGB")


def inked(image: Image.Image, box: tuple[int, int, int, int]) -> int:
    """How many pixels of a bar are coloured, walking along its middle row from its start."""
    x, y = box[0], (box[1] + box[3]) // 2
    length = 0
    while image.getpixel((x + length, y)) not in (TRACK, BACKGROUND):
        length += 1
    return length


def test_bar_lengths_are_proportional_to_the_totals():
    bars = (Bar("alice", 40, level=2), Bar("bob", 20, level=2), Bar("carol", 10, level=2),
            Bar("dave", 0, level=2))
    section = Section("Members", bars)
    drawn = draw_board("Garden \u00b7 all time", "Crew total: 70 points.", [section])
    image = opened(drawn)
    lengths = [inked(image, drawn.marks[f"bar:Members:{b.label}"]) for b in bars]
    assert lengths[0] == BAR_W  # the longest fills the width
    assert lengths == [BAR_W, BAR_W // 2, pytest.approx(BAR_W / 4, abs=1), 0]
    box = drawn.marks["bar:Members:bob"]
    assert image.getpixel((BAR_X + 2, (box[1] + box[3]) // 2)) == LEVEL_COLOURS[2]
    assert image.getpixel((BAR_X + BAR_W - 2, (box[1] + box[3]) // 2)) == TRACK
    assert {"alice", "bob", "carol", "dave", "40", "20", "10", "0"} <= set(drawn.texts)


def test_a_member_bar_is_split_by_level_in_proportion():
    bar = Bar("alice", 40, ((1, 10), (2, 30)), person=True)
    drawn = draw_board("t", "h", [Section("Members", (bar,))], legend=LEVELS)
    image = opened(drawn)
    x0, y0, _, y1 = drawn.marks["bar:Members:alice"]
    assert x0 == BAR_X
    middle = (y0 + y1) // 2
    split = BAR_X + BAR_W // 4
    assert image.getpixel((split - 3, middle)) == LEVEL_COLOURS[1]
    assert image.getpixel((split + 3, middle)) == LEVEL_COLOURS[2]
    assert drawn.names == ("alice",)
    assert set(LEVELS.values()) <= set(drawn.texts)  # the legend says which colour is which


def test_a_negative_total_draws_no_bar_but_says_the_number():
    drawn = draw_board("t", "h", [Section("Members", (Bar("dave", -5, ((3, -5),)),))])
    image = opened(drawn)
    assert inked(image, drawn.marks["bar:Members:dave"]) == 0
    assert "-5" in drawn.texts


@pytest.mark.parametrize("name", [
    "🌱🌻🌼 Zoë", "שלום עליכם", "مرحبا بالعالم", "a" * 500, "\u202eevil\u202c", "x\x00y\ny",
    "Z\u0335\u0321a\u0336\u0322l\u0337g\u0338o" * 20, "\U0001f468\u200d\U0001f469\u200d\U0001f467",
])
def test_any_name_draws_without_crashing_and_long_ones_are_cut(name):
    drawn = draw_board("t", "h", [Section("Members", (Bar(name, 3, person=True),))])
    opened(drawn)
    (shown,) = drawn.names
    assert len(shown) <= MAX_LABEL and "\n" not in shown and "\x00" not in shown
    network, _ = draw_network("t", [Person("1", name), Person("2", "bob")],
                              [Tie("1", "2", "listen", 1)])
    opened(network)
    recap = draw_recap("t", [name], 1, "month", [("Listening", 1, 1)])
    opened(recap)


def square() -> list[Person]:
    return [Person("1", "alice"), Person("2", "bob"), Person("3", "carol"), Person("4", "dave")]


def test_the_network_puts_each_member_on_a_circle_in_a_fixed_order():
    people = square()
    drawn, _ = draw_network("Garden", people, [])
    image = opened(drawn)
    at = positions([p.key for p in people])
    assert at == {"1": (360, 150), "2": (570, 360), "3": (360, 570), "4": (150, 360)}
    nodes = [key for key in drawn.marks if key.startswith("node:")]
    assert len(nodes) == 4
    for x, y in at.values():
        assert image.getpixel((x, y)) == NODE_COLOUR
    assert image.getpixel((360, 360)) == BACKGROUND  # no ties: nothing in the middle
    assert drawn.names == ("alice", "bob", "carol", "dave")


def test_one_sided_ties_look_different_from_mutual_ones():
    people = square()
    ties = [Tie("1", "2", "listen", 2), Tie("2", "1", "listen", 1),  # mutual listening
            Tie("3", "4", "help", 1), Tie("4", "3", "help", 1),  # mutual help
            Tie("1", "3", "listen", 1)]  # alice listened to carol, not (yet) back
    drawn, lines = draw_network("Garden", people, ties)
    image = opened(drawn)
    by_pair = {(line.a, line.b, line.kind): line for line in lines}
    assert set(by_pair) == {("1", "2", "listen"), ("3", "4", "help"), ("1", "3", "listen")}
    assert by_pair[("1", "2", "listen")].mutual and by_pair[("1", "2", "listen")].count == 3
    assert not by_pair[("1", "3", "listen")].mutual
    assert image.getpixel(by_pair[("1", "2", "listen")].mid) == LISTEN
    assert image.getpixel(by_pair[("3", "4", "help")].mid) == HELP
    assert image.getpixel(by_pair[("1", "3", "listen")].mid) == ONE_SIDED
    # the one-way tie is dashed: along it there are gaps of background
    x = 360
    column = [image.getpixel((x, y)) for y in range(200, 520)]
    assert ONE_SIDED in column and BACKGROUND in column


def test_the_caption_says_who_has_one_sided_ties():
    people = square()
    ties = [Tie("1", "2", "listen", 1), Tie("2", "1", "listen", 1), Tie("3", "4", "help", 2)]
    text = describe(people, ties, "this month")
    assert text.startswith("Who listened to and helped whom, this month: 4 members, 1 mutual tie")
    assert "One-way so far: carol helped dave." in text
    assert "alice" not in text  # mutual ties are counted, not listed
    assert "nothing yet" in describe(people, [], "all time")


def test_the_recap_names_who_came_and_only_counts_the_others():
    drawn = draw_recap("Meeting of Tue 3 Nov 2026 19:00 UTC", ["alice", "carol"], 2,
                       "Crew points in 2026-11: 31", [("Listening", 6, 1), ("Money", 12, 2)])
    image = opened(drawn)
    dots = [image.getpixel(((b[0] + b[2]) // 2, (b[1] + b[3]) // 2))
            for key, b in sorted(drawn.marks.items()) if key.startswith("dot:")]
    assert dots == [PRESENT, PRESENT, BACKGROUND, BACKGROUND]  # absent: hollow rings
    ring = drawn.marks["dot:3"]
    assert image.getpixel((ring[0] + 1, (ring[1] + ring[3]) // 2)) == ABSENT
    assert drawn.names == ("alice", "carol")
    assert "Present (2): alice, carol \u00b7 2 could not make it" in drawn.texts
    assert inked(image, drawn.marks["bar:Money"]) == 2 * inked(image, drawn.marks["bar:Listening"])
