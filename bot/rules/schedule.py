"""Level 3 rules: monthly meeting rules, their next occurrence in a time zone, and durations."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.rules.numbers import is_number

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
RULE_HELP = "Write it as 'first|second|third|fourth|last <weekday> HH:MM' or 'day N HH:MM'."


class RuleError(ValueError):
    """A meeting rule the bot cannot read."""


@dataclass(frozen=True)
class MeetingRule:
    """Either the nth weekday of a month (n=-1: last) or a day of the month, at a local time."""

    at: time
    ordinal: int | None = None
    weekday: int | None = None
    day: int | None = None

    def __str__(self) -> str:
        hhmm = self.at.strftime("%H:%M")
        if self.day is not None:
            return f"day {self.day} {hhmm}"
        name = next(k for k, v in ORDINALS.items() if v == self.ordinal)
        return f"{name} {WEEKDAYS[self.weekday or 0]} {hhmm}"

    def local_date(self, year: int, month: int) -> date:
        days = calendar.monthrange(year, month)[1]
        if self.day is not None:
            return date(year, month, min(self.day, days))
        assert self.weekday is not None and self.ordinal is not None
        matching = [d for d in range(1, days + 1) if date(year, month, d).weekday() == self.weekday]
        return date(year, month, matching[self.ordinal - 1 if self.ordinal > 0 else -1])


def parse_rule(text: str) -> MeetingRule:
    words = text.lower().split()
    if len(words) != 3:
        raise RuleError(RULE_HELP)
    at = parse_hhmm(words[2])
    if words[0] == "day":
        if not is_number(words[1]) or not 1 <= int(words[1]) <= 31:
            raise RuleError("The day of the month is a number from 1 to 31. " + RULE_HELP)
        return MeetingRule(at=at, day=int(words[1]))
    if words[0] not in ORDINALS:
        raise RuleError(RULE_HELP)
    days = [i for i, w in enumerate(WEEKDAYS) if len(words[1]) >= 2 and w.startswith(words[1])]
    if len(days) != 1:
        raise RuleError(f"'{words[1][:20]}' is not a weekday (write e.g. tuesday or tue). "
                        + RULE_HELP)
    return MeetingRule(at=at, ordinal=ORDINALS[words[0]], weekday=days[0])


def parse_hhmm(text: str) -> time:
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", text)
    if not match:
        raise RuleError(f"'{text[:20]}' is not a time of day like 19:00. " + RULE_HELP)
    return time(int(match[1]), int(match[2]))


def to_utc(local_day: date, at: time, tz: ZoneInfo) -> datetime:
    """A wall-clock time in `tz` as UTC; a time skipped by a DST change moves forward."""
    # fold=0 maps a time skipped by spring-forward to the instant after the gap (02:30 -> 03:30)
    # and an ambiguous autumn time to its first occurrence.
    return datetime.combine(local_day, at).replace(tzinfo=tz, fold=0).astimezone(UTC)


def month_key(instant: datetime, tz: ZoneInfo) -> str:
    return instant.astimezone(tz).strftime("%Y-%m")


def occurrences_after(rule: MeetingRule, after: datetime, tz: ZoneInfo, count: int = 24):
    """Meeting instants (UTC) strictly after `after`, in order, at most `count` of them."""
    local = after.astimezone(tz)
    year, month = local.year, local.month
    found = 0
    while found < count:
        start = to_utc(rule.local_date(year, month), rule.at, tz)
        if start > after:
            found += 1
            yield start
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


DURATION = re.compile(r"(\d+)([mhdw])")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """`90m`, `25h`, `3d`, `2w`, `1d12h`: a positive span of time."""
    text = text.strip().lower()
    parts = DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError("write a duration like 90m, 25h, 3d, 2w or 1d12h")
    if any(len(number) > 7 for number, _ in parts):
        raise ValueError("a duration can be at most ten years")
    span = sum((timedelta(**{UNITS[unit]: int(number)}) for number, unit in parts), timedelta())
    if span > timedelta(days=3660):
        raise ValueError("a duration can be at most ten years")
    if not span:
        raise ValueError("a duration must be longer than zero, e.g. 90m")
    return span
