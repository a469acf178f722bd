"""The monthly meeting's recap: who came (names), how many could not (a count), the month."""

from __future__ import annotations

from collections.abc import Sequence

from bot.pictures.drawing import (
    LEVEL_COLOURS,
    MAX_LABEL,
    MUTED,
    PLAIN_BAR,
    RGB,
    Canvas,
    Drawn,
    fit,
)

WIDTH = 480
PAD = 20
DOT = 9
PRESENT: RGB = (70, 168, 110)
ABSENT: RGB = (190, 188, 180)
LABEL_W = 130
BAR_X = PAD + LABEL_W + 8
BAR_W = 220
ROW = 24
BAR_H = 14


def draw_recap(title: str, present: Sequence[str], absent: int, month_heading: str,
               month_bars: Sequence[tuple[str, int, int]]) -> Drawn:
    """`present` are named; the absent are only counted (hollow dots). `month_bars` are
    (label, value, level) rows, level 0 for a plain bar."""
    height = PAD + 30 + 34 + 24 + 28 + ROW * len(month_bars) + PAD
    canvas = Canvas(WIDTH, height)
    canvas.text((PAD, PAD), title, 20, width=WIDTH - 2 * PAD)
    y = PAD + 34
    x = PAD + DOT
    for i in range(len(present) + absent):
        if x > WIDTH - PAD - DOT:
            break
        box = (x - DOT, y - DOT + 10, x + DOT, y + DOT + 10)
        if i < len(present):
            canvas.draw.ellipse(box, fill=PRESENT)
        else:
            canvas.draw.ellipse(box, outline=ABSENT, width=3)
        canvas.marks[f"dot:{i}"] = box
        x += 2 * DOT + 6
    y += 30
    present = [fit(name, 15, 140, MAX_LABEL) for name in present]
    who = f"Present ({len(present)}): " + ", ".join(present) if present else (
        "Nobody marked presence")
    if absent:
        who += f" \u00b7 {absent} could not make it"
    canvas.text((PAD, y), who, 15, width=WIDTH - 2 * PAD)
    canvas.names.extend(present)
    y += 28
    canvas.text((PAD, y), month_heading, 15, fill=MUTED, width=WIDTH - 2 * PAD)
    y += 26
    top = max([v for _, v, _ in month_bars] + [1])
    for label, value, level in month_bars:
        canvas.text((PAD, y + BAR_H // 2), label, 14, width=LABEL_W, anchor="lm")
        colour = LEVEL_COLOURS.get(level, PLAIN_BAR)
        canvas.bar(f"bar:{label}", BAR_X, y, round(BAR_W * max(value, 0) / top), BAR_H,
                   [(colour, 1)], track=BAR_W)
        canvas.text((BAR_X + BAR_W + 8, y + BAR_H // 2), str(value), 14, anchor="lm",
                    width=WIDTH - BAR_X - BAR_W - 8 - PAD // 2)
        y += ROW
    return canvas.finish()
