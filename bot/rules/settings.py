"""Crew settings: their defaults (GAME.md's), ranges, and how a typed value is read."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from difflib import get_close_matches
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


def _int_range(name: str, low: int, high: int, example: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        hint = f" Try /settings {name} {example}."
        try:
            value = int(text)
        except ValueError:
            raise SettingError(f"{name} takes a whole number from {low} to {high}.{hint}"
                               ) from None
        if not low <= value <= high:
            raise SettingError(f"{name} must be from {low} to {high}, not {value}.{hint}")
        return value

    return parse


MODES = ("points", "gentle", "rhythm")


def _choice(name: str, choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text.lower() not in choices:
            raise SettingError(f"{name} is one of: " + ", ".join(choices)
                               + f". Try /settings {name} {choices[0]}.")
        return text.lower()

    return parse


def parse_timezone(text: str) -> str:
    try:
        if len(text) > 64:
            raise ValueError(text)
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # a folder such as 'Europe' is OSError
        raise SettingError(
            f"'{text[:60]}' is not a time zone I know. Use a name such as Europe/Berlin or "
            "America/New_York, e.g. /settings timezone Europe/Berlin."
        ) from None
    return text


def parse_emoji(text: str) -> list[str]:
    items = text.split()
    if [i.lower() for i in items] == ["any"]:
        return []
    if not items or len(items) > 20 or any(len(i) > 16 for i in items):
        raise SettingError("listening_emoji takes 'any' or up to 20 emoji separated by spaces. "
                           "Try /settings listening_emoji \U0001F442 \u2764\ufe0f.")
    return items


def parse_practice(text: str) -> str:
    if text.lower() not in PRACTICES:
        raise SettingError("practice is one of: " + ", ".join(PRACTICES)
                           + ". Try /settings practice feelz.")
    return text.lower()


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting("timezone", "UTC", "the crew's time zone, e.g. Europe/Berlin", parse_timezone),
        Setting("circle_hours", 24, "hours a check-in circle stays open (1 to 168)",
                _int_range("circle_hours", 1, 168, 24)),
        Setting("ask_cap", 3, "asks a day that score, for each member (0 to 50)",
                _int_range("ask_cap", 0, 50, 3)),
        Setting("offer_cap", 5, "offers a day that score, for each member (0 to 50)",
                _int_range("offer_cap", 0, 50, 5)),
        Setting("reflect_days", 3, "days before a meeting that the reflection prompts come "
                "(0 to 14)", _int_range("reflect_days", 0, 14, 3)),
        Setting("attendance_hours", 3, "hours after a meeting starts to mark presence (1 to 24)",
                _int_range("attendance_hours", 1, 24, 3)),
        Setting("conflict_days", 30, "days an accepted conflict has to be resolved (2 to 365)",
                _int_range("conflict_days", 2, 365, 30)),
        Setting("listening_emoji", [], "emoji that confirm listening: any, or a list",
                parse_emoji),
        Setting("practice", "none", "extra reflection prompts: " + ", ".join(PRACTICES),
                parse_practice),
        Setting("mode", "points", "points (as the essay), gentle (no negative points) or "
                "rhythm (no points)", _choice("mode", MODES)),
        Setting("excused_absence", "off", "on: an absence announced with /away costs nothing",
                _choice("excused_absence", ("on", "off"))),
        Setting("open", "no", "yes: the crew takes knocks from its congregation's lobby",
                _choice("open", ("yes", "no"))),
        Setting("max_size", 8, "members that make the crew full (2 to 30; 2 is a partnership)",
                _int_range("max_size", 2, 30, 8)),
        Setting("congregation_board", "yes", "no: the crew stays off its congregation's board",
                _choice("congregation_board", ("yes", "no"))),
        Setting("rate_limit", 20, "commands a member may send a minute (0 to 600; 0 is no "
                "limit)", _int_range("rate_limit", 0, 600, 20)),
    )
}


def effective(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The crew's settings: its overrides on top of the defaults."""
    return {name: overrides.get(name, s.default) for name, s in SETTINGS.items()}


def parse_setting(name: str, text: str) -> tuple[str, Any]:
    key = name.lower()
    if key not in SETTINGS:
        near = get_close_matches(key, SETTINGS, n=1)
        guess = f" Did you mean {near[0]}?" if near else ""
        raise SettingError(f"There is no setting '{name[:40]}'.{guess} The settings are: "
                           + ", ".join(SETTINGS) + ".")
    return key, SETTINGS[key].parse(text.strip())


def show(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(value) if value else "any"
    return str(value)
