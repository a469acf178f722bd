"""The one table of what each ledger reason means, in the words members read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.rules.model import LedgerEntry
from bot.rules.points import REVOKED


@dataclass(frozen=True)
class ReasonWords:
    """How members read one ledger reason: `entry`, one entry in a member's own list ({meeting}
    becomes the meeting's day, "Tue 5 Jan"; {original} the words of the corrected entry); `one`
    and `many`, the things counted on a crew board without points ("3 asks for help"); empty for
    what such a board never counts (penalties and corrections)."""

    entry: str
    one: str = ""
    many: str = ""


REASONS = {
    "listening_circle": ReasonWords("listened in a circle", "listening circle completed",
                                    "listening circles completed"),
    "ask": ReasonWords("asked for help", "ask for help", "asks for help"),
    "offer": ReasonWords("offered help", "offer", "offers"),
    "mutual_regard": ReasonWords("thanked for an offer", "thank-you", "thank-yous"),
    "meeting_attended": ReasonWords("came to the meeting of {meeting}", "meeting held",
                                    "meetings held"),
    "meeting_missed": ReasonWords("missed the meeting of {meeting}"),
    "conflict_resolved": ReasonWords("repaired a conflict", "repair completed",
                                     "repairs completed"),
    "conflict_unresolved": ReasonWords("left a conflict unresolved"),
    "coowners": ReasonWords("co-owned a venture", "venture co-owned", "ventures co-owned"),
    REVOKED: ReasonWords("correction of \u201c{original}\u201d"),
}
# What a crew board without points counts, in this order: (reason, one, many).
COUNTED = tuple((reason, w.one, w.many) for reason, w in REASONS.items() if w.one)
UNKNOWN = "other entry"
SOME_MEETING = "a meeting"


@dataclass(frozen=True)
class Lookup:
    """What the words of some entries need: meeting starts by meeting id, entries by id (the
    originals of corrections), and the crew's time zone."""

    meetings: Mapping[int, datetime]
    entries: Mapping[int, LedgerEntry]
    tz: str


def source_id(source: str, kind: str) -> int | None:
    """The id in a source reference such as `meeting:12`, if it is of that kind."""
    head, _, number = source.partition(":")
    return int(number) if head == kind and number.isdigit() else None


def meeting_day(start: datetime, tz: str) -> str:
    local = start.astimezone(ZoneInfo(tz))
    return f"{local:%a} {local.day} {local:%b}"


def entry_words(entry: LedgerEntry, lookup: Lookup, depth: int = 0) -> str:
    """An entry in plain words: "missed the meeting of Tue 5 Jan", "correction of ..."."""
    known = REASONS.get(entry.reason)
    template = known.entry if known else UNKNOWN
    meeting = original = ""
    if "{meeting}" in template:
        found = source_id(entry.source, "meeting")
        start = lookup.meetings.get(found) if found is not None else None
        meeting = meeting_day(start, lookup.tz) if start else ""
        if not meeting:
            template = template.replace("the meeting of {meeting}", SOME_MEETING)
    if "{original}" in template:
        found = source_id(entry.source, "ledger")
        corrected = lookup.entries.get(found) if found is not None else None
        if corrected is None or depth:
            return "correction of an earlier entry"
        original = entry_words(corrected, lookup, depth + 1)
    return template.format(meeting=meeting, original=original)


def corrected_ids(entries: list[LedgerEntry]) -> set[int]:
    """The ids of the entries that a correction among `entries` cancels."""
    return {o for e in entries if e.reason == REVOKED
            and (o := source_id(e.source, "ledger")) is not None}


def needs(entries: list[LedgerEntry]) -> tuple[set[int], set[int]]:
    """The meeting ids and corrected entry ids whose details the words of `entries` need."""
    meetings = {m for e in entries if (m := source_id(e.source, "meeting")) is not None}
    return meetings, corrected_ids(entries)
