"""What every picture shares: fonts, colours, safe labels, bars and PNG bytes."""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

RGB = tuple[int, int, int]
Box = tuple[int, int, int, int]

BACKGROUND: RGB = (250, 248, 243)
INK: RGB = (38, 40, 52)
MUTED: RGB = (118, 120, 132)
TRACK: RGB = (232, 229, 221)  # the empty part of a bar
PLAIN_BAR: RGB = (72, 132, 170)  # a bar that is not split by level
LEVEL_COLOURS: dict[int, RGB] = {
    1: (76, 140, 214),   # listening
    2: (70, 168, 110),   # money
    3: (232, 170, 50),   # consistency
    4: (210, 92, 88),    # conflict
    5: (140, 100, 196),  # co-owners
}
MAX_LABEL = 32  # characters: a longer name is cut with an ellipsis
ELLIPSIS = "\u2026"


@dataclass(frozen=True)
class Drawn:
    """A rendered picture: the PNG, every text drawn on it, the people named in it, and named
    boxes (bars, nodes) so tests and callers can find what was drawn where."""

    png: bytes
    size: tuple[int, int]
    texts: tuple[str, ...]
    names: tuple[str, ...]
    marks: dict[str, Box] = field(default_factory=dict)


@lru_cache(maxsize=16)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's own scalable font (no system fonts needed)."""
    return ImageFont.load_default(size=size)


def clean(text: str) -> str:
    """One line of printable text: control and formatting characters out, spaces collapsed."""
    kept = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    return " ".join(kept.split())


def fit(text: str, size: int, width: float, limit: int = 300) -> str:
    """`text` cleaned and cut (with an ellipsis) to at most `limit` characters and `width`
    pixels at `size`."""
    text = clean(text)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + ELLIPSIS
    face = font(size)
    while len(text) > 1 and face.getlength(text) > width:
        text = text[:-2].rstrip() + ELLIPSIS
    return text


class Canvas:
    """A picture being drawn, keeping the texts and names it shows."""

    def __init__(self, width: int, height: int) -> None:
        self.image = Image.new("RGB", (width, height), BACKGROUND)
        self.draw = ImageDraw.Draw(self.image)
        self.texts: list[str] = []
        self.names: list[str] = []
        self.marks: dict[str, Box] = {}

    def text(self, xy: tuple[float, float], text: str, size: int, fill: RGB = INK,
             width: float = 10_000, anchor: str = "la", name: bool = False) -> str:
        shown = fit(text, size, width, MAX_LABEL if name else 300)
        if shown:
            self.draw.text(xy, shown, fill=fill, font=font(size), anchor=anchor)
            self.texts.append(shown)
            if name:
                self.names.append(shown)
        return shown

    def bar(self, key: str, x: int, y: int, length: int, height: int,
            parts: list[tuple[RGB, int]], track: int = 0) -> None:
        """A horizontal bar `length` pixels long, split among `parts` (colour, weight)."""
        if track:
            self.draw.rectangle((x, y, x + track, y + height - 1), fill=TRACK)
        total = sum(w for _, w in parts if w > 0)
        if length <= 0 or total <= 0:
            self.marks[key] = (x, y, x, y + height - 1)
            return
        start = x
        done = 0
        for colour, weight in parts:
            if weight <= 0:
                continue
            done += weight
            end = x + round(length * done / total)
            if end > start:
                self.draw.rectangle((start, y, end - 1, y + height - 1), fill=colour)
            start = end
        self.marks[key] = (x, y, x + length - 1, y + height - 1)

    def finish(self) -> Drawn:
        buffer = io.BytesIO()
        self.image.save(buffer, "PNG")
        return Drawn(buffer.getvalue(), self.image.size, tuple(self.texts), tuple(self.names),
                     dict(self.marks))
