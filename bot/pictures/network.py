"""The reciprocity network: who listened to and who helped whom, as a picture and in words."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bot.pictures.drawing import INK, MAX_LABEL, RGB, Canvas, Drawn, fit, text_width

WIDTH = 720  # at least: wider when a name beside a node needs the room
MAX_MARGIN = 220  # extra room per side, at most
HEIGHT = 700
CENTRE = (360, 360)
RADIUS = 210
NODE = 22
NODE_COLOUR: RGB = (64, 84, 132)
LISTEN: RGB = (76, 140, 214)  # mutual listening
HELP: RGB = (70, 168, 110)  # mutual help
ONE_SIDED: RGB = (232, 120, 34)  # any tie that is not returned (yet)
KIND_VERBS = {"listen": "listened to", "help": "helped"}
DASHES = {"listen": (14, 7), "help": (5, 5)}  # one-sided ties: long dashes listening, short help


@dataclass(frozen=True)
class Person:
    key: str
    name: str


@dataclass(frozen=True)
class Tie:
    """`source` listened to or helped (`kind`) `target`, `count` times."""

    source: str
    target: str
    kind: str  # listen | help
    count: int


@dataclass(frozen=True)
class Line:
    """A tie as drawn: one line per pair and kind; `mutual` when it goes both ways."""

    a: str
    b: str
    kind: str
    mutual: bool
    count: int
    mid: tuple[int, int]


def node_size(count: int) -> int:
    """The node radius: smaller in a big crew, so neighbours on the circle never touch."""
    if count < 2:
        return NODE
    return max(6, min(NODE, int(RADIUS * math.sin(math.pi / count)) - 6))


def positions(keys: Sequence[str], margin: int = 0) -> dict[str, tuple[int, int]]:
    """Deterministic circle layout: the first person at the top, then clockwise; `margin`
    shifts it right, for a picture widened by twice that."""
    centre = (CENTRE[0] + margin, CENTRE[1])
    if len(keys) == 1:
        return {keys[0]: centre}
    out = {}
    for i, key in enumerate(keys):
        angle = -math.pi / 2 + 2 * math.pi * i / len(keys)
        out[key] = (round(centre[0] + RADIUS * math.cos(angle)),
                    round(centre[1] + RADIUS * math.sin(angle)))
    return out


def side(x: int, y: int, centre: tuple[int, int]) -> str:
    """Where a node's name goes: "right" or "left" of it on the sides, else "above"/"below"."""
    dx, dy = x - centre[0], y - centre[1]
    norm = math.hypot(dx, dy) or 1.0
    if dx / norm > 0.35:
        return "right"
    if dx / norm < -0.35:
        return "left"
    return "above" if dy < 0 else "below"


def margin_for(people: Sequence[Person], size: int) -> int:
    """Extra room on each side so that no name beside a node is cut (up to MAX_MARGIN)."""
    at = positions([p.key for p in people])
    room = WIDTH - 8 - (CENTRE[0] + RADIUS + size + 8)
    needed = [text_width(fit(p.name, 16, 10_000, MAX_LABEL), 16) for p in people
              if side(*at[p.key], CENTRE) in ("left", "right")]
    return min(MAX_MARGIN, max([0, *(math.ceil(n - room) for n in needed)]))


def lines_of(people: Sequence[Person], ties: Sequence[Tie]) -> list[tuple[str, str, str, bool,
                                                                          int]]:
    """(a, b, kind, mutual, count) per pair and kind; a one-sided tie goes from a to b."""
    order = {p.key: i for i, p in enumerate(people)}
    counts: dict[tuple[str, str, str], int] = {}
    for tie in ties:
        if tie.source in order and tie.target in order and tie.source != tie.target:
            key = (tie.source, tie.target, tie.kind)
            counts[key] = counts.get(key, 0) + tie.count
    out = []
    for (src, dst, kind), count in sorted(counts.items(),
                                          key=lambda i: (order[i[0][0]], order[i[0][1]], i[0][2])):
        back = counts.get((dst, src, kind), 0)
        if back and order[src] > order[dst]:
            continue  # the mutual pair was taken from the other side
        out.append((src, dst, kind, bool(back), count + back))
    return out


def describe(people: Sequence[Person], ties: Sequence[Tie], period: str) -> str:
    """The picture in words (its caption and alt text): counts, then every one-sided tie."""
    names = {p.key: p.name for p in people}
    drawn = lines_of(people, ties)
    mutual = [d for d in drawn if d[3]]
    one_sided = [d for d in drawn if not d[3]]
    if not drawn:
        return (f"Who listened to and helped whom, {period}: nothing yet among "
                f"{len(people)} members. /checkin and /offer start it.")
    text = (f"Who listened to and helped whom, {period}: {len(people)} members, "
            f"{len(mutual)} mutual tie{'s' * (len(mutual) != 1)} (solid lines), "
            f"{len(one_sided)} one-way (dashed orange).")
    if one_sided:
        listed = [f"{names[a]} {KIND_VERBS[kind]} {names[b]}" for a, b, kind, _, _ in one_sided]
        shown = listed[:12]
        more = f" and {len(listed) - len(shown)} more" if len(listed) > len(shown) else ""
        text += " One-way so far: " + "; ".join(shown) + more + "."
    return text


def draw_network(title: str, people: Sequence[Person], ties: Sequence[Tie]
                 ) -> tuple[Drawn, list[Line]]:
    """The picture and the lines drawn in it (their midpoints say where to look)."""
    size = node_size(len(people))
    margin = margin_for(people, size)
    width = WIDTH + 2 * margin
    canvas = Canvas(width, HEIGHT)
    canvas.text((24, 20), title, 22, width=width - 48, bold=True)
    at = positions([p.key for p in people], margin)
    drawn: list[Line] = []
    kinds_per_pair: dict[frozenset[str], int] = {}
    raw = lines_of(people, ties)
    for a, b, _, _, _ in raw:
        pair = frozenset((a, b))
        kinds_per_pair[pair] = kinds_per_pair.get(pair, 0) + 1
    for a, b, kind, mutual, count in raw:
        shift = 0 if kinds_per_pair[frozenset((a, b))] == 1 else (-7 if kind == "listen" else 7)
        drawn.append(_draw_tie(canvas, at, a, b, kind, mutual, count, shift, size))
    for person in people:
        x, y = at[person.key]
        canvas.draw.ellipse((x - size, y - size, x + size, y + size), fill=NODE_COLOUR,
                            outline=(255, 255, 255), width=3 if size > 10 else 1)
        canvas.marks[f"node:{person.key}"] = (x - size, y - size, x + size, y + size)
        _label(canvas, person.name, x, y, size, (CENTRE[0] + margin, CENTRE[1]))
    _legend(canvas)
    return canvas.finish(), drawn


def _label(canvas: Canvas, name: str, x: int, y: int, size: int,
           centre: tuple[int, int]) -> None:
    """A name outside the circle: beside a node on the sides, above or below at the top and
    bottom, so it never covers a node."""
    width = canvas.image.width
    where = side(x, y, centre)
    if where == "right":
        canvas.text((x + size + 8, y), name, 16, width=width - 8 - (x + size + 8), anchor="lm",
                    name=True)
    elif where == "left":
        canvas.text((x - size - 8, y), name, 16, width=x - size - 16, anchor="rm", name=True)
    elif where == "above":
        canvas.text((x, y - size - 6), name, 16, width=320, anchor="md", name=True)
    else:
        canvas.text((x, y + size + 6), name, 16, width=320, anchor="ma", name=True)


def _draw_tie(canvas: Canvas, at: dict[str, tuple[int, int]], a: str, b: str, kind: str,
              mutual: bool, count: int, shift: int, size: int) -> Line:
    (x1, y1), (x2, y2) = at[a], at[b]
    length = math.hypot(x2 - x1, y2 - y1) or 1.0
    ux, uy = (x2 - x1) / length, (y2 - y1) / length
    # Shifted sideways (the same side whichever way the tie goes) so listening and help between
    # the same two people are both seen.
    sign = 1 if a < b else -1
    px, py = -uy * shift * sign, ux * shift * sign
    start = (x1 + ux * (size + 4) + px, y1 + uy * (size + 4) + py)
    end = (x2 - ux * (size + 6) + px, y2 - uy * (size + 6) + py)
    width = 2 + min(count - 1, 6)
    mid = (round((start[0] + end[0]) / 2), round((start[1] + end[1]) / 2))
    if mutual:
        colour = LISTEN if kind == "listen" else HELP
        canvas.draw.line((start, end), fill=colour, width=width)
    else:
        _dashed(canvas, start, end, width, DASHES[kind])
        _arrow(canvas, end, (ux, uy), width)
    return Line(a, b, kind, mutual, count, mid)


def _dashed(canvas: Canvas, start: tuple[float, float], end: tuple[float, float], width: int,
            pattern: tuple[int, int]) -> None:
    """Dashes laid out from the middle outwards, so the middle is always inked."""
    on, off = pattern
    length = math.hypot(end[0] - start[0], end[1] - start[1])
    ux, uy = (end[0] - start[0]) / length, (end[1] - start[1]) / length
    half = length / 2

    def point(t: float) -> tuple[float, float]:
        return (start[0] + ux * t, start[1] + uy * t)

    canvas.draw.line((point(half - on / 2), point(half + on / 2)), fill=ONE_SIDED, width=width)
    offset = on / 2 + off
    while offset < half:
        tip = min(offset + on, half)
        for a, b in ((half + offset, half + tip), (half - tip, half - offset)):
            canvas.draw.line((point(a), point(b)), fill=ONE_SIDED, width=width)
        offset += on + off


def _arrow(canvas: Canvas, tip: tuple[float, float], direction: tuple[float, float],
           width: int) -> None:
    ux, uy = direction
    size = 10 + width
    back = (tip[0] - ux * size, tip[1] - uy * size)
    left = (back[0] - uy * size / 2, back[1] + ux * size / 2)
    right = (back[0] + uy * size / 2, back[1] - ux * size / 2)
    canvas.draw.polygon([tip, left, right], fill=ONE_SIDED)


def _legend(canvas: Canvas) -> None:
    """The three kinds of line, on one row, or two where they do not fit."""
    items = (("listened both ways", LISTEN, None), ("helped both ways", HELP, None),
             ("one way so far (arrow: to whom)", ONE_SIDED, DASHES["listen"]))
    widths = [38 + int(text_width(label, 14)) + 24 for label, _, _ in items]
    rows = 1 if sum(widths) - 24 <= canvas.image.width - 48 else 2
    y = HEIGHT - 40 - 24 * (rows - 1)
    x = 24
    for (label, colour, dash), step in zip(items, widths, strict=True):
        if x + step - 24 > canvas.image.width - 24:
            x, y = 24, y + 24
        if dash:
            canvas.draw.line((x, y + 8, x + 12, y + 8), fill=colour, width=4)
            canvas.draw.line((x + 18, y + 8, x + 30, y + 8), fill=colour, width=4)
        else:
            canvas.draw.line((x, y + 8, x + 30, y + 8), fill=colour, width=4)
        canvas.text((x + 38, y), label, 14, fill=INK)
        x += step
