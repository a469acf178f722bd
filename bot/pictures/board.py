"""The board as a picture: a headline (the crew's total) and sections of bars."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.pictures.drawing import LEVEL_COLOURS, MUTED, PLAIN_BAR, Canvas, Drawn, font

WIDTH = 640
PAD = 24
LABEL_W = 170
BAR_X = PAD + LABEL_W + 10
BAR_W = 330
ROW = 30
BAR_H = 18


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


def bar_key(section: Section, bar: Bar) -> str:
    return f"bar:{section.heading}:{bar.label}"


def draw_board(title: str, headline: str, sections: Sequence[Section],
               legend: dict[int, str] | None = None) -> Drawn:
    """Bars in each section share one scale: the longest value fills the width."""
    rows = sum(len(s.bars) + 1 for s in sections)
    height = PAD + 74 + rows * ROW + len(sections) * 8 + (34 if legend else 0) + PAD // 2
    canvas = Canvas(WIDTH, height)
    canvas.text((PAD, PAD), title, 24, width=WIDTH - 2 * PAD)
    canvas.text((PAD, PAD + 36), headline, 18, width=WIDTH - 2 * PAD)
    y = PAD + 34 + 32 + 8
    for section in sections:
        canvas.text((PAD, y + 6), section.heading, 16, fill=MUTED, width=WIDTH - 2 * PAD)
        y += ROW
        top = max([b.value for b in section.bars] + [1])
        for bar in section.bars:
            canvas.text((PAD, y + BAR_H // 2), bar.label, 16, width=LABEL_W, anchor="lm",
                        name=bar.person)
            length = round(BAR_W * max(bar.value, 0) / top)
            colour = LEVEL_COLOURS.get(bar.level, PLAIN_BAR)
            parts = [(LEVEL_COLOURS[lv], n) for lv, n in bar.parts] if bar.parts else [
                (colour, 1)]
            canvas.bar(bar_key(section, bar), BAR_X, y, length, BAR_H, parts, track=BAR_W)
            canvas.text((BAR_X + BAR_W + 10, y + BAR_H // 2), str(bar.value), 16,
                        width=WIDTH - BAR_X - BAR_W - 10 - PAD // 2, anchor="lm")
            y += ROW
        y += 8
    if legend:
        x = PAD
        y += 6
        for level, name in legend.items():
            canvas.draw.rectangle((x, y + 3, x + 11, y + 14), fill=LEVEL_COLOURS[level])
            shown = canvas.text((x + 16, y), name, 14, width=100)
            x += 16 + int(canvas.draw.textlength(shown, font=font(14))) + 14
    return canvas.finish()

