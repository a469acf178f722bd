"""Names in any common script draw as letters, and emoji as colour glyphs, never as the font's
missing-glyph box; the fonts that make it so ship with the package, licences beside them."""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from bot.pictures.board import Bar, Section, draw_board
from bot.pictures.drawing import BACKGROUND, MAX_LABEL, Canvas, font
from bot.pictures.network import Person, Tie, draw_network
from bot.pictures.recap import draw_recap

NAMES = ["Zoë Müller", "Ñandú", "Юлия", "Αλέξης", "Łukasz Żółć", "Ayşe Çağlar", "Nguyễn Thị Ánh"]
EMOJI = ["🌻", "🦊", "😀", "🥳", "👍🏽", "🧑🏽\u200d🚀", "🇫🇷", "❤️", "🫶"]
MISSING = "\U0010ffff"  # not a character: every font draws its missing glyph for it
FONTS = Path(__file__).resolve().parent.parent / "bot" / "pictures" / "fonts"


def png(canvas: Canvas) -> Image.Image:
    return Image.open(io.BytesIO(canvas.finish().png)).convert("RGB")


def drawn_alone(text: str, size: int = 16) -> Image.Image:
    """`text` as the pictures draw a label."""
    canvas = Canvas(90, 40)
    canvas.text((10, 20), text, size, anchor="lm")
    return png(canvas)


def missing_box(size: int = 16) -> Image.Image:
    """What the pictures' font draws for a character it lacks, in the same place."""
    image = Image.new("RGB", (90, 40), BACKGROUND)
    ImageDraw.Draw(image).text((10, 20), MISSING, font=font(size), anchor="lm", fill=(38, 40, 52))
    return image


def coloured(image: Image.Image) -> int:
    """How many pixels are clearly coloured (not grey): emoji are, text is not."""
    saturation = image.convert("HSV").getchannel("S")
    return saturation.point(lambda s: 255 if s > 90 else 0).histogram()[255]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size", [14, 16, 24])
def test_every_letter_of_a_name_is_drawn_not_the_missing_box(name, size):
    box = missing_box(size).tobytes()
    assert drawn_alone(MISSING + MISSING, size).tobytes() != box  # the check can tell
    for ch in name:
        if ch.isspace() or unicodedata.category(ch).startswith("M"):
            continue
        alone = drawn_alone(ch, size)
        assert alone.tobytes() != box, f"{ch!r} (U+{ord(ch):04X}) of {name!r} is a box"
        assert alone.getbbox() is not None


@pytest.mark.parametrize("emoji", EMOJI)
def test_an_emoji_is_drawn_in_colour(emoji):
    image = drawn_alone(emoji)
    assert image.tobytes() != missing_box().tobytes()
    assert coloured(image) >= 40, emoji  # a glyph of ~20 px, not a grey outline


def test_a_flag_and_a_family_are_each_one_glyph():
    """Sequences draw as one emoji (as wide as a single one), not as their parts."""
    one = drawn_alone("🌻").getbbox()
    for sequence in ("🇫🇷", "👨\u200d👩\u200d👧"):
        bbox = drawn_alone(sequence).getbbox()
        assert bbox is not None and one is not None
        assert bbox[2] - bbox[0] <= (one[2] - one[0]) + 3, sequence


def test_the_board_shows_names_in_every_script_whole_and_emoji_in_colour():
    names = [*NAMES, "🌻 Sunny", "Юлия 🦊"]
    bars = tuple(Bar(f"{i}. {name}", 10 - i, ((1, 10 - i),), person=True)
                 for i, name in enumerate(names, 1))
    drawn = draw_board("Garden \u00b7 Сад \u00b7 Κήπος 🌱", "Crew total: 45 points.",
                       [Section("Members", bars)])
    assert drawn.names == tuple(bar.label for bar in bars)  # none cut
    image = Image.open(io.BytesIO(drawn.png)).convert("RGB")
    for bar in bars:
        _, top, _, bottom = drawn.marks[f"bar:Members:{bar.label}"]
        labels = image.crop((0, top - 4, drawn.marks[f"track:Members:{bar.label}"][0] - 1,
                             bottom + 4))
        assert (coloured(labels) > 30) == any(e in bar.label for e in ("🌻", "🦊")), bar.label


def test_network_and_recap_draw_the_same_names():
    people = [Person(str(i), name) for i, name in enumerate(["Zoë", "Юлия", "Αλέξης", "🌻 Sunny"])]
    drawn, _ = draw_network("Garden", people, [Tie("0", "1", "listen", 1)])
    assert drawn.names == ("Zoë", "Юлия", "Αλέξης", "🌻 Sunny")
    recap = draw_recap("Meeting", ["Zoë", "Юлия", "🌻 Sunny"], 1, "month", [("Listening", 1, 1)])
    assert recap.names == ("Zoë", "Юлия", "🌻 Sunny")
    assert recap.texts[1:6] == ("Present (3):", "Zoë,", "Юлия,", "🌻 Sunny",
                                "\u00b7 1 could not make it")


def test_the_shipped_fonts_cover_latin_greek_and_cyrillic_letters_and_emoji():
    ttlib = pytest.importorskip("fontTools.ttLib", reason="fontTools comes with the test extras")
    text = ttlib.TTFont(FONTS / "DejaVuSans.ttf").getBestCmap()
    blocks = {"Latin-1 and Latin Extended-A/B": (0x00C0, 0x024F), "Greek": (0x0370, 0x03FF),
              "Cyrillic": (0x0400, 0x04FF), "Latin Extended Additional": (0x1E00, 0x1EFF)}
    for block, (low, high) in blocks.items():
        letters = [c for c in range(low, high + 1) if unicodedata.category(chr(c)) in ("Lu", "Ll")]
        lacking = [f"U+{c:04X}" for c in letters if c not in text]
        assert len(lacking) <= len(letters) // 50, (block, lacking)  # a few archaic ones at most
    emoji = ttlib.TTFont(FONTS / "CrewbotEmoji.ttf").getBestCmap()
    for sample in "😀🌻🦊🥳🫶🧑🦩🪴🫠":  # Unicode 6 to 14
        assert ord(sample) in emoji, sample


def test_every_shipped_font_has_its_licence_and_is_package_data():
    fonts = sorted(p.name for p in FONTS.glob("*.ttf"))
    assert fonts == ["CrewbotEmoji.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans.ttf"]
    assert "Bitstream" in (FONTS / "DejaVu-LICENSE.txt").read_text()
    assert "SIL OPEN FONT LICENSE Version 1.1" in (FONTS / "NotoColorEmoji-OFL.txt").read_text()
    pyproject = (FONTS.parent.parent.parent / "pyproject.toml").read_text()
    assert 'bot = ["pictures/fonts/*.ttf", "pictures/fonts/*.txt"]' in pyproject


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=60))
def test_any_text_as_a_name_draws_and_is_never_longer_than_the_rule(name):
    bar = Bar(name, 2, ((1, 1), (5, 1)), person=True)
    drawn = draw_board("t", "h", [Section("Members", (bar,))])
    (shown,) = drawn.names
    assert len(shown) <= MAX_LABEL
    assert not any(unicodedata.category(ch) == "Cc" for ch in shown)
    Image.open(io.BytesIO(drawn.png)).verify()
    recap = draw_recap("t", [name, name], 1, name, [(name, 1, 0)])
    Image.open(io.BytesIO(recap.png)).verify()
