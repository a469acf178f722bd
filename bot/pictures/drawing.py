"""What every picture shares: fonts, colours, safe labels, bars and PNG bytes."""

from __future__ import annotations

import io
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bot.rules.levels import BY_NUMBER

RGB = tuple[int, int, int]
Box = tuple[int, int, int, int]

BACKGROUND: RGB = (250, 248, 243)
INK: RGB = (38, 40, 52)
MUTED: RGB = (118, 120, 132)
TRACK: RGB = (232, 229, 221)  # the empty part of a bar
PLAIN_BAR: RGB = (72, 132, 170)  # a bar that is not split by level
MAX_LABEL = 32  # characters: a longer name is cut with an ellipsis
ELLIPSIS = "\u2026"
MIN_BAR = 4  # pixels: a positive amount is never thinner than this, however small beside others

# Shipped with the package (licences beside them): DejaVu Sans covers Latin with its accents,
# Greek, Cyrillic, Hebrew, Arabic and many symbols; Crewbot Emoji is Noto Color Emoji with its
# bitmaps scaled down (scripts/build_emoji_font.py), which only draws at its one strike size.
FONTS = Path(__file__).with_name("fonts")
TEXT_FONT = FONTS / "DejaVuSans.ttf"
BOLD_FONT = FONTS / "DejaVuSans-Bold.ttf"
EMOJI_FONT = FONTS / "CrewbotEmoji.ttf"
EMOJI_STRIKE = 32
UNKNOWN = "\ufffd"  # drawn for a character no shipped font has, instead of an empty box
NOT_A_CHARACTER = "\U0010ffff"
KEPT_FORMATS = {"\u200c", "\u200d"}  # joiners: emoji sequences, Persian and Indic spelling
EMOJI_MARKS = {"\ufe0f", "\u200d", "\u20e3", *map(chr, range(0x1F3FB, 0x1F400))}


def level_colour(number: int) -> RGB:
    """A level's colour (bot.rules.levels); a plain bar's for 0, a bar of no level."""
    level = BY_NUMBER.get(number)
    return level.colour if level else PLAIN_BAR


@dataclass(frozen=True)
class Drawn:
    """A rendered picture: the PNG, every text drawn on it, the people named in it, and named
    boxes (bars, nodes) so tests and callers can find what was drawn where."""

    png: bytes
    size: tuple[int, int]
    texts: tuple[str, ...]
    names: tuple[str, ...]
    marks: dict[str, Box] = field(default_factory=dict)


@lru_cache(maxsize=32)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """The text font (DejaVu Sans, shipped in bot/pictures/fonts) at `size` pixels."""
    return ImageFont.truetype(str(BOLD_FONT if bold else TEXT_FONT), size)


@lru_cache(maxsize=1)
def emoji_font() -> ImageFont.FreeTypeFont | None:
    """The colour emoji font, or None where this Pillow's FreeType cannot draw its bitmaps
    (emoji are then drawn as the replacement character, never as an empty box)."""
    try:
        face = ImageFont.truetype(str(EMOJI_FONT), EMOJI_STRIKE)
        face.getmask("\U0001f331", mode="RGBA")
    except OSError:
        return None
    return face


def _rendered(face: ImageFont.FreeTypeFont, text: str) -> bytes:
    left, top, right, bottom = face.getbbox(text)
    image = Image.new("L", (max(1, right - left), max(1, bottom - top)))
    ImageDraw.Draw(image).text((-left, -top), text, font=face, fill=255)
    return image.tobytes() + repr((left, top, right, bottom)).encode()


@lru_cache(maxsize=8192)
def in_text_font(ch: str) -> bool:
    """Whether DejaVu Sans has a glyph for `ch`: it is not drawn as the font's missing box."""
    return _rendered(font(16), ch) != _rendered(font(16), NOT_A_CHARACTER)


@lru_cache(maxsize=8192)
def in_emoji_font(ch: str) -> bool:
    face = emoji_font()
    if face is None:
        return False
    _, top, _, bottom = face.getbbox(ch)
    return bottom > top  # the emoji font's missing glyph is empty


def _is_regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _extends(cluster: str, ch: str) -> bool:
    """Whether `ch` belongs to the character cluster before it (an accent, a joiner and what
    it joins, a variation or skin tone, a tag, the second half of a flag)."""
    code = ord(ch)
    return (unicodedata.category(ch) in ("Mn", "Mc", "Me") or ch in EMOJI_MARKS
            or cluster.endswith("\u200d") or 0xFE00 <= code <= 0xFE0F
            or 0xE0020 <= code <= 0xE007F
            or (len(cluster) == 1 and _is_regional(cluster) and _is_regional(ch)))


def clusters(text: str) -> list[str]:
    """`text` cut into what a reader sees as single characters (never inside an emoji)."""
    out: list[str] = []
    for ch in text:
        if out and _extends(out[-1], ch):
            out[-1] += ch
        else:
            out.append(ch)
    return out


def _kind(cluster: str) -> str:
    first = cluster[0]
    # Both fonts have some (DejaVu has ☺ ❤ and even 😀 in black and white): pictographs past
    # U+1F000 are emoji, older symbols too when a variation, skin tone or joiner says so.
    if in_emoji_font(first) and (not in_text_font(first) or ord(first) >= 0x1F000
                                 or EMOJI_MARKS & set(cluster[1:])):
        return "emoji"
    if in_text_font(first):
        return "text"
    return "emoji" if in_emoji_font(first) else "unknown"


def runs(text: str) -> list[tuple[str, str]]:
    """(kind, text) pieces drawn with one font each: "text" (DejaVu) or "emoji"; a cluster no
    font has becomes the replacement character in a text piece."""
    out: list[tuple[str, str]] = []
    for cluster in clusters(text):
        kind = _kind(cluster)
        if kind == "unknown":
            kind, cluster = "text", UNKNOWN
        if out and out[-1][0] == kind:
            out[-1] = (kind, out[-1][1] + cluster)
        else:
            out.append((kind, cluster))
    return out


def _emoji_scale(size: int) -> float:
    return size / EMOJI_STRIKE


def text_width(text: str, size: int, bold: bool = False) -> float:
    """How many pixels `text` (already clean) takes when drawn at `size`."""
    total = 0.0
    for kind, run in runs(text):
        if kind == "emoji":
            face = emoji_font()
            assert face is not None  # no emoji run without the emoji font
            total += face.getlength(run) * _emoji_scale(size)
        else:
            total += font(size, bold).getlength(run)
    return total


def clean(text: str) -> str:
    """One line of printable text: control and formatting characters out (but the joiners
    inside emoji and words), spaces collapsed."""
    kept = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C"
                   or ch in KEPT_FORMATS or 0xE0020 <= ord(ch) <= 0xE007F)
    return " ".join(kept.split())


def fit(text: str, size: int, width: float, limit: int = 300, bold: bool = False) -> str:
    """`text` cleaned and cut (with an ellipsis, never inside a character or an emoji) to at
    most `limit` characters and `width` pixels at `size`."""
    parts = clusters(clean(text))
    text = "".join(parts)
    if len(text) > limit:
        while parts and len("".join(parts)) > limit - 1:
            parts.pop()
        text = "".join(parts).rstrip() + ELLIPSIS
    while len(parts) > 1 and text_width(text, size, bold) > width:
        parts.pop()
        text = "".join(parts).rstrip() + ELLIPSIS
    return text


def wrap(pieces: Sequence[str], size: int, width: float, bold: bool = False
         ) -> list[list[str]]:
    """`pieces` (words, or names kept whole) cleaned and laid out on lines of at most `width`
    pixels, a space between two on a line; only a piece wider than a line is cut. Each piece
    is drawn on its own (Canvas.pieces), so a right-to-left name never reorders its line."""
    lines: list[list[str]] = []
    space = text_width(" ", size, bold)
    used = 0.0
    for piece in filter(None, map(clean, pieces)):
        piece_w = text_width(piece, size, bold)
        if lines and used + space + piece_w <= width:
            lines[-1].append(piece)
            used += space + piece_w
        else:
            piece = fit(piece, size, width, bold=bold)
            lines.append([piece])
            used = text_width(piece, size, bold)
    return lines


class Canvas:
    """A picture being drawn, keeping the texts and names it shows."""

    def __init__(self, width: int, height: int) -> None:
        self.image = Image.new("RGB", (width, height), BACKGROUND)
        self.draw = ImageDraw.Draw(self.image)
        self.texts: list[str] = []
        self.names: list[str] = []
        self.marks: dict[str, Box] = {}

    def text(self, xy: tuple[float, float], text: str, size: int, fill: RGB = INK,
             width: float = 10_000, anchor: str = "la", name: bool = False,
             bold: bool = False) -> str:
        """`text` on one line, cut to `width` (a name also to MAX_LABEL characters); `anchor`
        as Pillow's: l/m/r then a/m/d/s (ascender, middle, descender, baseline)."""
        shown = fit(text, size, width, MAX_LABEL if name else 300, bold)
        if shown:
            self.line(xy, shown, size, fill, anchor, bold)
            self.texts.append(shown)
            if name:
                self.names.append(shown)
        return shown

    def pieces(self, xy: tuple[float, float], pieces: Sequence[str], size: int,
               fill: RGB = INK) -> None:
        """One line of `pieces` (from `wrap`) left to right, a space between two."""
        x, y = xy
        space = text_width(" ", size)
        for piece in pieces:
            self.text((x, y), piece, size, fill=fill)
            x += text_width(piece, size) + space

    def line(self, xy: tuple[float, float], text: str, size: int, fill: RGB, anchor: str,
             bold: bool) -> None:
        """Draws clean text piece by piece: words in DejaVu Sans, emoji from the colour
        font's bitmaps scaled to the text's size."""
        face = font(size, bold)
        ascent, descent = face.getmetrics()
        total = text_width(text, size, bold)
        x = xy[0] - {"l": 0.0, "m": total / 2, "r": total}[anchor[0]]
        base = xy[1] + {"a": ascent, "m": (ascent - descent) / 2, "d": -descent,
                        "s": 0}[anchor[1]]
        for kind, run in runs(text):
            if kind == "emoji":
                x += self._emoji(x, base, run, size)
            else:
                self.draw.text((x, base), run, fill=fill, font=face, anchor="ls")
                x += face.getlength(run)

    def _emoji(self, x: float, base: float, run: str, size: int) -> float:
        face = emoji_font()
        assert face is not None
        above, below = face.getmetrics()
        tile = Image.new("RGBA", (math.ceil(face.getlength(run)) + 1, above + below))
        ImageDraw.Draw(tile).text((0, above), run, font=face, anchor="ls", embedded_color=True)
        scale = _emoji_scale(size)
        tile = tile.resize((max(1, round(tile.width * scale)), max(1, round(tile.height * scale))),
                           Image.Resampling.LANCZOS)
        self.image.paste(tile, (round(x), round(base - above * scale)), tile)
        return face.getlength(run) * scale

    def bar(self, key: str, x: int, y: int, length: int, height: int,
            parts: list[tuple[RGB, int]], track: int = 0) -> None:
        """A horizontal bar `length` pixels long, split among `parts` (colour, weight); each
        positive part gets at least MIN_BAR pixels, so a small one beside a huge one shows."""
        if track:
            self.draw.rectangle((x, y, x + track - 1, y + height - 1), fill=TRACK)
            self.marks[f"track:{key.removeprefix('bar:')}"] = (x, y, x + track - 1, y + height - 1)
        weights = [(colour, w) for colour, w in parts if w > 0]
        if length <= 0 or not weights:
            self.marks[key] = (x, y, x, y + height - 1)
            return
        start = x
        for colour, pixels in zip((c for c, _ in weights),
                                  shares([w for _, w in weights], length), strict=True):
            self.draw.rectangle((start, y, start + pixels - 1, y + height - 1), fill=colour)
            start += pixels
        self.marks[key] = (x, y, start - 1, y + height - 1)

    def finish(self) -> Drawn:
        buffer = io.BytesIO()
        self.image.save(buffer, "PNG")
        return Drawn(buffer.getvalue(), self.image.size, tuple(self.texts), tuple(self.names),
                     dict(self.marks))


def shares(weights: list[int], length: int) -> list[int]:
    """`length` pixels split in proportion to positive `weights`, each share at least MIN_BAR
    (taken from the largest), the shares adding up to max(length, MIN_BAR per share)."""
    length = max(length, MIN_BAR * len(weights))
    total = sum(weights)
    ends = [round(length * sum(weights[: i + 1]) / total) for i in range(len(weights))]
    out = [end - start for start, end in zip([0, *ends[:-1]], ends, strict=True)]
    for i, pixels in enumerate(out):
        if pixels < MIN_BAR:
            out[out.index(max(out))] -= MIN_BAR - pixels
            out[i] = MIN_BAR
    return out
