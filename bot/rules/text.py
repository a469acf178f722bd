"""Small helpers for what people read: times in the crew's zone, lists of names, limits."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

MAX_TEXT = 2000


def local_time(instant: datetime, tz_name: str) -> str:
    local = instant.astimezone(ZoneInfo(tz_name))
    return f"{local:%a} {local.day} {local:%b %Y %H:%M} {local.tzname()}"


def names(items: Iterable[str]) -> str:
    listed = list(items)
    if len(listed) <= 1:
        return "".join(listed)
    return ", ".join(listed[:-1]) + " and " + listed[-1]


def quoted(text: str) -> str:
    """A person's words in quotes, ending one sentence: never a doubled full stop after them."""
    end = "" if text.rstrip("\u201d\"')").endswith((".", "!", "?", "\u2026")) else "."
    return f"\u201c{text}\u201d{end}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def signed(points: int) -> str:
    return f"+{points}" if points > 0 else str(points)
