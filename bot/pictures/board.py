"""The board as a picture: a headline (the crew's total) and sections of bars."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.pictures.drawing import (
    MAX_LABEL,
    MUTED,
    Canvas,
    Drawn,
    fit,
    level_colour,
    text_width,
)
from bot.rules.levels import Level

WIDTH = 640  # at least; wider only when a label needs it
PAD = 24
MIN_LABEL = 110
GAP = 14  # between the label column and the bars
MIN_BARS = 260  # the bar area is never narrower than this
ROW = 30
BAR_H = 18
VALUE_GAP = 6  # between a bar's end and its number
SIZE = 16
RANK = re.compile(r"\d+\. ")


@dataclass(frozen=True)
class Bar:
    """One row: a label, the number shown, and the bar's coloured parts as (level, amount);
    `level` colours a bar of one part; `person` says the label is someone's name."""

    label: str
    value: int
    parts: tuple[tuple[int, int], ...] = ()
    level: int = 0
    person: bool = False


@dataclass(frozen=True)
class Section:
    heading: str
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Layout:
    """Where the columns go: labels as wide as the widest one (never cut, but a name past
    MAX_LABEL characters), then the bars, each number right after its bar."""

    width: int
    bar_x: int
    bar_w: int  # the track
    longest: int  # the longest bar: the track less room for its number

    @classmethod
    def of(cls, sections: Sequence[Section]) -> Layout:
        bars = [bar for section in sections for bar in section.bars]
        label_w = max([MIN_LABEL] + [
            int(text_width(shown(bar), SIZE)) + 1 for bar in bars])
        number_w = max([0] + [int(text_width(str(bar.value), SIZE)) + 1 for bar in bars])
        bar_x = PAD + label_w + GAP
        bar_w = max(MIN_BARS, WIDTH - PAD - bar_x)
        return cls(bar_x + bar_w + PAD, bar_x, bar_w, bar_w - number_w - 2 * VALUE_GAP)


def shown(bar: Bar) -> str:
    """The label as drawn: a name is cut only past MAX_LABEL characters (its rank, "12. ",
    aside)."""
    rank = RANK.match(bar.label) if bar.person else None
    limit = MAX_LABEL + len(rank.group()) if rank else MAX_LABEL if bar.person else 300
    return fit(bar.label, SIZE, 10_000, limit)


def bar_key(section: Section, bar: Bar) -> str:
    return f"bar:{section.heading}:{bar.label}"


def draw_board(title: str, headline: str, sections: Sequence[Section],
               legend: Sequence[Level] = ()) -> Drawn:
    """Bars in each section share one scale: the longest value fills the track but for room
    for its number; every positive value shows at least a sliver, its number beside it."""
    layout = Layout.of(sections)
    width = layout.width
    rows = sum(len(s.bars) + 1 for s in sections)
    height = PAD + 74 + rows * ROW + len(sections) * 8 + (34 if legend else 0) + PAD // 2
    canvas = Canvas(width, height)
    canvas.text((PAD, PAD), title, 24, width=width - 2 * PAD, bold=True)
    canvas.text((PAD, PAD + 36), headline, 18, width=width - 2 * PAD)
    y = PAD + 34 + 32 + 8
    for section in sections:
        canvas.text((PAD, y + 6), section.heading, SIZE, fill=MUTED, width=width - 2 * PAD)
        y += ROW
        top = max([b.value for b in section.bars] + [1])
        for bar in section.bars:
            label = shown(bar)
            canvas.text((PAD, y + BAR_H // 2), label, SIZE, anchor="lm")
            if bar.person:
                canvas.names.append(label)
            length = round(layout.longest * max(bar.value, 0) / top)
            if bar.value > 0:
                length = max(length, 1)  # Canvas.bar widens it to a visible sliver
            parts = [(level_colour(lv), n) for lv, n in bar.parts] if bar.parts else [
                (level_colour(bar.level), 1)]
            key = bar_key(section, bar)
            canvas.bar(key, layout.bar_x, y, length, BAR_H, parts, track=layout.bar_w)
            end = canvas.marks[key][2] if length > 0 and bar.value > 0 else layout.bar_x
            canvas.text((end + VALUE_GAP, y + BAR_H // 2), str(bar.value), SIZE, anchor="lm")
            y += ROW
        y += 8
    if legend:
        x = PAD
        y += 6
        for level in legend:
            canvas.draw.rectangle((x, y + 3, x + 11, y + 14), fill=level.colour)
            shown_name = canvas.text((x + 16, y), level.name, 14)
            x += 16 + int(text_width(shown_name, 14)) + 14
    return canvas.finish()
