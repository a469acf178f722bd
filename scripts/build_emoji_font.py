"""Builds bot/pictures/fonts/CrewbotEmoji.ttf: Noto Color Emoji with its bitmaps scaled down.

Noto Color Emoji (SIL Open Font License 1.1) holds one 109-pixel strike of PNG bitmaps, about
11 MB; the pictures draw emoji at 14 to 24 pixels, so a smaller strike is as sharp there and a
third of the size. Every glyph, the emoji sequences (GSUB) and the character map are kept; the
family is renamed, as a modified version. Needs fontTools (in the `test` extras):

    apt-get download fonts-noto-color-emoji && dpkg-deb -x fonts-noto-color-emoji_*.deb noto
    .venv/bin/python scripts/build_emoji_font.py \
        noto/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from fontTools.ttLib import TTFont
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "bot" / "pictures" / "fonts" / "CrewbotEmoji.ttf"
PPEM = 32  # bot/pictures/drawing.py EMOJI_STRIKE must match
FAMILY = "Crewbot Emoji"
COLOURS = 64


def scaled(value: int, factor: float) -> int:
    return round(value * factor)


def shrink_png(data: bytes, size: tuple[int, int]) -> bytes:
    image = Image.open(io.BytesIO(data)).convert("RGBA").resize(size, Image.Resampling.LANCZOS)
    # A palette keeps each bitmap under a kilobyte (RGBA would be larger than the 109-pixel
    # original, which is already palette-optimised); at 14-24 pixels no one sees the difference.
    image = image.quantize(COLOURS, method=Image.Quantize.FASTOCTREE)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def build(source: Path, target: Path, ppem: int) -> None:
    font = TTFont(source, recalcTimestamp=False)  # the same bytes from the same source
    (strike,) = font["CBLC"].strikes
    table = strike.bitmapSizeTable
    factor = ppem / table.ppemY
    for glyph in font["CBDT"].strikeData[0].values():
        m = glyph.metrics
        width, height = max(1, scaled(m.width, factor)), max(1, scaled(m.height, factor))
        glyph.imageData = shrink_png(glyph.imageData, (width, height))
        m.width, m.height = width, height
        m.BearingX, m.BearingY = scaled(m.BearingX, factor), scaled(m.BearingY, factor)
        m.Advance = scaled(m.Advance, factor)
    table.ppemX = table.ppemY = ppem
    for lines in (table.hori, table.vert):
        for name in ("ascender", "descender", "widthMax"):
            setattr(lines, name, scaled(getattr(lines, name), factor))
    names = font["name"]
    for record in list(names.names):
        if record.nameID in (1, 3, 4, 16):
            names.setName(FAMILY, record.nameID, record.platformID, record.platEncID,
                          record.langID)
        elif record.nameID == 6:
            names.setName(FAMILY.replace(" ", ""), 6, record.platformID, record.platEncID,
                          record.langID)
        elif record.nameID == 10:
            names.setName(f"Noto Color Emoji with its bitmaps scaled to {ppem} pixels.", 10,
                          record.platformID, record.platEncID, record.langID)
    target.parent.mkdir(parents=True, exist_ok=True)
    font.save(target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="NotoColorEmoji.ttf")
    parser.add_argument("--target", type=Path, default=TARGET)
    parser.add_argument("--ppem", type=int, default=PPEM)
    args = parser.parse_args()
    build(args.source, args.target, args.ppem)
    print(f"{args.target}: {args.target.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
