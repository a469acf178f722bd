"""The pictures themselves: rendered, opened with Pillow, and checked pixel by pixel."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.pictures.board import Bar, Section, draw_board
from bot.pictures.drawing import BACKGROUND, MAX_LABEL, MIN_BAR, TRACK, Drawn, level_colour
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
from bot.rules.levels import LEVELS

NAMES = ("Listening", "Money", "Consistency", "Conflict", "Co-owners")  # GAME.md's levels


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
    track = drawn.marks["track:Members:alice"]
    # the longest fills the track but for room for its number, printed right after it
    assert track[2] - track[0] - 60 < lengths[0] < track[2] - track[0]
    assert lengths == [lengths[0], pytest.approx(lengths[0] / 2, abs=1),
                       pytest.approx(lengths[0] / 4, abs=1), 0]
    box = drawn.marks["bar:Members:bob"]
    middle = (box[1] + box[3]) // 2
    assert image.getpixel((track[0] + 2, middle)) == level_colour(2)
    assert image.getpixel((track[2] - 2, middle)) == TRACK
    assert {"alice", "bob", "carol", "dave", "40", "20", "10", "0"} <= set(drawn.texts)


def ink_between(image: Image.Image, x0: int, x1: int, y: int) -> bool:
    """Whether anything dark (text) is drawn on row `y` between x0 and x1."""
    return any(sum(image.getpixel((x, y))) < 300 for x in range(x0, x1))


def test_a_small_value_beside_a_huge_one_still_shows_with_its_number():
    """A +100 venture next to a 3-point circle: the 3 keeps a visible bar, number beside it."""
    bars = (Bar("Listening", 3, level=1), Bar("Co-owners", 100, level=5),
            Bar("Money", 1, level=2))
    drawn = draw_board("t", "h", [Section("The crew, by level", bars)])
    image = opened(drawn)
    for bar in bars:
        box = drawn.marks[f"bar:The crew, by level:{bar.label}"]
        assert inked(image, box) >= MIN_BAR, bar
        # its number is right after the bar's end, not in a far column
        assert ink_between(image, box[2] + 2, box[2] + 30, (box[1] + box[3]) // 2), bar
    member = Bar("alice", 103, ((1, 3), (5, 100)), person=True)
    drawn = draw_board("t", "h", [Section("Members", (member,))])
    image = opened(drawn)
    x0, y0, _, y1 = drawn.marks["bar:Members:alice"]
    blue = [image.getpixel((x, (y0 + y1) // 2)) for x in range(x0, x0 + 12)]
    assert blue.count(level_colour(1)) >= MIN_BAR  # the 3 listening points show in blue


def test_no_label_is_cut_and_the_columns_make_room():
    labels = ("Listening circles completed", "Asks for help", "Ventures co-owned")
    drawn = draw_board("t", "h", [Section("Together", tuple(Bar(t, 2) for t in labels))])
    assert set(labels) <= set(drawn.texts)
    assert drawn.size[0] == 640  # room enough in the usual width
    name = "Maximilian-Alexander von Trapp 🌻"  # 32 characters: a name is not cut
    drawn = draw_board("t", "h", [Section("Members", (Bar(f"12. {name}", 5, person=True),))])
    assert drawn.names == (f"12. {name}",)
    recap = draw_recap("t", [name, "Юлия"], 0, "What we did together in 2026-11",
                       [("Listening circles completed", 4, 0), ("Ventures co-owned", 1, 0)])
    assert {"Listening circles completed", "Ventures co-owned"} <= set(recap.texts)
    assert recap.names == (name, "Юлия")
    assert not any("\u2026" in text for text in (*recap.texts, *drawn.texts))


def test_a_member_bar_is_split_by_level_in_proportion():
    bar = Bar("alice", 40, ((1, 10), (2, 30)), person=True)
    drawn = draw_board("t", "h", [Section("Members", (bar,))], legend=LEVELS)
    image = opened(drawn)
    x0, y0, x1, y1 = drawn.marks["bar:Members:alice"]
    assert x0 == drawn.marks["track:Members:alice"][0]
    middle = (y0 + y1) // 2
    split = x0 + round((x1 - x0 + 1) / 4)
    assert image.getpixel((split - 3, middle)) == level_colour(1)
    assert image.getpixel((split + 3, middle)) == level_colour(2)
    assert drawn.names == ("alice",)
    assert set(NAMES) <= set(drawn.texts)  # the legend says which colour is which


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
    assert drawn.texts[1:5] == ("Present (2):", "alice,", "carol", "\u00b7 2 could not make it")
    assert inked(image, drawn.marks["bar:Money"]) == 2 * inked(image, drawn.marks["bar:Listening"])
