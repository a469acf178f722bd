"""Congregations as pure rules: join codes, a crew's places, and the limits on knocking."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

# The essay's crew size: a crew is full at 8 unless it chose a smaller max_size.
CREW_SIZE = 8
# Letters and digits no one mistakes for another when reading a code aloud (no 0/O, 1/I/L).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
NAME_LIMIT = 60
WORDS_LIMIT = 300  # a person's few words in the lobby
KNOCKS_PER_DAY = 3  # knocks one person may make in a day, over all crews
KNOCK_WINDOW = timedelta(days=1)
DECLINED_FOR = timedelta(days=30)  # a crew that declined is not asked again by the same person


@dataclass(frozen=True)
class Congregation:
    id: int
    name: str
    code: str


@dataclass(frozen=True)
class Lobby:
    congregation_id: int
    platform: str
    chat_id: str


@dataclass(frozen=True)
class Looking:
    """A person looking for a crew, in a congregation's lobby: their words live only here."""

    id: int
    congregation_id: int
    platform: str
    user_id: str
    name: str
    words: str
    since: datetime


@dataclass(frozen=True)
class Knock:
    id: int
    congregation_id: int
    crew_id: int
    platform: str
    user_id: str
    name: str
    status: str  # waiting | invited | declined | joined
    at: datetime


def new_code() -> str:
    """A join code: eight letters and digits, read aloud without confusion."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def typed_code(text: str) -> str:
    """A code as typed (any case, spaces or dashes) in the form it is stored."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


def capacity(settings: Mapping[str, Any]) -> int:
    """How many members make the crew full: its max_size, by default the essay's 8."""
    return int(settings.get("max_size", CREW_SIZE))


def free_places(size: int, settings: Mapping[str, Any]) -> int:
    return max(0, capacity(settings) - size)


def is_open(size: int, settings: Mapping[str, Any]) -> bool:
    """Whether the crew takes knocks: its admins opened it and it is not full."""
    return settings.get("open") == "yes" and free_places(size, settings) > 0


def may_knock(knocks_today: int) -> bool:
    return knocks_today < KNOCKS_PER_DAY


def clean_name(text: str) -> str:
    return " ".join(text.split())[:NAME_LIMIT]
