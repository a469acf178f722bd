"""The monthly meeting's recap: who came (names), how many could not (a count), the month."""

from __future__ import annotations

from collections.abc import Sequence

from bot.pictures.drawing import (
    MAX_LABEL,
    MUTED,
    RGB,
    Canvas,
    Drawn,
    fit,
    level_colour,
    text_width,
    wrap,
)

WIDTH = 480  # at least; wider only when a month label needs it
PAD = 20
DOT = 9
PRESENT: RGB = (70, 168, 110)
ABSENT: RGB = (190, 188, 180)
MIN_LABEL = 90
GAP = 10
MIN_BARS = 200
ROW = 24
BAR_H = 14
LINE = 21  # the "Present" lines
VALUE_GAP = 6


def draw_recap(title: str, present: Sequence[str], absent: int, month_heading: str,
               month_bars: Sequence[tuple[str, int, int]]) -> Drawn:
    """`present` are named; the absent are only counted (hollow dots). `month_bars` are
    (label, value, level) rows, level 0 for a plain bar. Nothing is cut: the names wrap onto
    more lines, the label column is as wide as its longest label."""
    label_w = max([MIN_LABEL] + [int(text_width(fit(label, 14, 10_000), 14)) + 1
                                 for label, _, _ in month_bars])
    number_w = max([0] + [int(text_width(str(value), 14)) + 1 for _, value, _ in month_bars])
    bar_x = PAD + label_w + GAP
    bar_w = max(MIN_BARS, WIDTH - PAD - bar_x)
    width = bar_x + bar_w + PAD
    longest = bar_w - number_w - 2 * VALUE_GAP
    names = [fit(name, 15, 10_000, MAX_LABEL) for name in present]
    # Wrapped between names, never inside one: "Present (3):" "Zoë," "Юлия," "Sunny🌻"
    pieces = [f"Present ({len(names)}):", *(f"{name}," for name in names[:-1]), *names[-1:]
              ] if names else ["Nobody marked presence"]
    if absent:
        pieces.append(f"\u00b7 {absent} could not make it")
    lines = wrap(pieces, 15, width - 2 * PAD)
    height = PAD + 34 + 30 + LINE * len(lines) + 7 + 26 + ROW * len(month_bars) + PAD
    canvas = Canvas(width, height)
    canvas.text((PAD, PAD), title, 20, width=width - 2 * PAD, bold=True)
    y = PAD + 34
    x = PAD + DOT
    for i in range(len(present) + absent):
        if x > width - PAD - DOT:
            break
        box = (x - DOT, y - DOT + 10, x + DOT, y + DOT + 10)
        if i < len(present):
            canvas.draw.ellipse(box, fill=PRESENT)
        else:
            canvas.draw.ellipse(box, outline=ABSENT, width=3)
        canvas.marks[f"dot:{i}"] = box
        x += 2 * DOT + 6
    y += 30
    for line in lines:
        canvas.pieces((PAD, y), line, 15)
        y += LINE
    canvas.names.extend(names)
    y += 7
    canvas.text((PAD, y), month_heading, 15, fill=MUTED, width=width - 2 * PAD)
    y += 26
    top = max([v for _, v, _ in month_bars] + [1])
    for label, value, level in month_bars:
        canvas.text((PAD, y + BAR_H // 2), label, 14, anchor="lm")
        colour = level_colour(level)
        length = max(1, round(longest * value / top)) if value > 0 else 0
        canvas.bar(f"bar:{label}", bar_x, y, length, BAR_H, [(colour, 1)], track=bar_w)
        end = canvas.marks[f"bar:{label}"][2] if length else bar_x
        canvas.text((end + VALUE_GAP, y + BAR_H // 2), str(value), 14, anchor="lm")
        y += ROW
    return canvas.finish()
