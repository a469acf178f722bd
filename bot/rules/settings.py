"""Crew settings: their defaults (GAME.md's), ranges, and how a typed value is read."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PRACTICES: dict[str, tuple[str, ...]] = {
    "none": (),
    "feelz": ("What feeling is most alive in you this month, and what does it need?",),
    "carepod": (
        "What is your ideal self, the person you want to be in a few years?",
        "Which experiment toward it will you try before we meet again?",
    ),
    "stewardship": ("What support would help you most from your partner this month?",),
    "elephants": ("What is the elephant in your room: the thing you keep not talking about?",),
}


class SettingError(ValueError):
    """A setting name or value the bot cannot accept; the message says how to do it right."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    describe: str
    parse: Callable[[str], Any]


def _int_range(name: str, low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise SettingError(f"{name} takes a whole number from {low} to {high}.") from None
        if not low <= value <= high:
            raise SettingError(f"{name} must be from {low} to {high}, not {value}.")
        return value

    return parse


MODES = ("points", "gentle", "rhythm")


def _choice(name: str, choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text.lower() not in choices:
            raise SettingError(f"{name} is one of: " + ", ".join(choices) + ".")
        return text.lower()

    return parse


def parse_timezone(text: str) -> str:
    try:
        if len(text) > 64:
            raise ValueError(text)
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # a folder such as 'Europe' is OSError
        raise SettingError(
            f"'{text[:60]}' is not a time zone I know. Use an IANA name such as "
            "Europe/Berlin or America/New_York."
        ) from None
    return text


def parse_emoji(text: str) -> list[str]:
    items = text.split()
    if [i.lower() for i in items] == ["any"]:
        return []
    if not items or len(items) > 20 or any(len(i) > 16 for i in items):
        raise SettingError("listening_emoji takes 'any' or up to 20 emoji separated by spaces.")
    return items


def parse_practice(text: str) -> str:
    if text.lower() not in PRACTICES:
        raise SettingError("practice is one of: " + ", ".join(PRACTICES) + ".")
    return text.lower()


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting("timezone", "UTC", "IANA time zone of the crew", parse_timezone),
        Setting("circle_hours", 24, "hours a check-in circle stays open (1-168)",
                _int_range("circle_hours", 1, 168)),
        Setting("ask_cap", 3, "asks per member per day that score (0-50)",
                _int_range("ask_cap", 0, 50)),
        Setting("offer_cap", 5, "offers per member per day that score (0-50)",
                _int_range("offer_cap", 0, 50)),
        Setting("reflect_days", 3, "days before a meeting the reflection prompts come (0-14)",
                _int_range("reflect_days", 0, 14)),
        Setting("attendance_hours", 3, "hours after a meeting's start to mark presence (1-24)",
                _int_range("attendance_hours", 1, 24)),
        Setting("conflict_days", 30, "days an accepted conflict has to be resolved (2-365)",
                _int_range("conflict_days", 2, 365)),
        Setting("listening_emoji", [], "emoji that confirm listening ('any' or a list)",
                parse_emoji),
        Setting("practice", "none", "extra reflection prompts: " + "|".join(PRACTICES),
                parse_practice),
        Setting("mode", "points", "points (as the essay), gentle (no negative points) or "
                "rhythm (no points)", _choice("mode", MODES)),
        Setting("excused_absence", "off", "on: an absence announced with /away costs nothing",
                _choice("excused_absence", ("on", "off"))),
        Setting("rate_limit", 20, "commands a member may send a minute (0-600; 0: no limit)",
                _int_range("rate_limit", 0, 600)),
    )
}


def effective(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The crew's settings: its overrides on top of the defaults."""
    return {name: overrides.get(name, s.default) for name, s in SETTINGS.items()}


def parse_setting(name: str, text: str) -> tuple[str, Any]:
    key = name.lower()
    if key not in SETTINGS:
        raise SettingError(f"There is no setting '{name[:40]}'. Settings: " + ", ".join(SETTINGS))
    return key, SETTINGS[key].parse(text.strip())


def show(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(value) if value else "any"
    return str(value)
