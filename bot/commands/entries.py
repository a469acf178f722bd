"""Ledger entries as a member reads them: the words table, with what it needs fetched."""

from __future__ import annotations

from datetime import datetime

from bot.commands.store import Store
from bot.rules import settings as crew_settings
from bot.rules.model import Crew, LedgerEntry
from bot.rules.points import REVOKED
from bot.rules.text import local_time, signed
from bot.rules.words import Lookup, corrected_ids, entry_words, needs

MANY_MEETINGS = 3  # past this, one query for all the crew's tallied meetings beats one each


async def tallied_meetings(store: Store, crew: Crew) -> dict[int, datetime]:
    """When each of the crew's tallied meetings started: entries name them by day."""
    return {m.id: m.starts_at
            for m in await store.meetings.meetings_with_status(crew.id, "tallied")}


async def lookup_for(store: Store, crew: Crew, entries: list[LedgerEntry]) -> Lookup:
    """The meeting days and corrected entries that the words of `entries` need."""
    tz = str(crew_settings.effective(crew.settings)["timezone"])
    meeting_ids, original_ids = needs(entries)
    originals = {e.id: e for e in entries}
    for entry_id in original_ids - originals.keys():
        found = await store.ledger.entry(entry_id)
        if found is not None and found.crew_id == crew.id:
            originals[entry_id] = found
    meeting_ids |= needs(list(originals.values()))[0]
    starts = {}
    if len(meeting_ids) > MANY_MEETINGS:
        starts = await tallied_meetings(store, crew)
    for meeting_id in meeting_ids - starts.keys():
        held = await store.meetings.meeting(meeting_id)
        if held is not None and held.crew_id == crew.id:
            starts[meeting_id] = held.starts_at
    return Lookup(starts, originals, tz)


def entry_line(entry: LedgerEntry, lookup: Lookup, corrected: set[int],
               for_admin: bool = False) -> str:
    """One entry for one reader: words, points and time; an admin also gets how to correct it
    (the entry's number is only ever shown privately)."""
    when = local_time(entry.at, lookup.tz)
    line = f"{entry_words(entry, lookup)}: {signed(entry.points)} ({when}"
    if entry.id in corrected:
        line += "; corrected since"
    elif for_admin and entry.reason != REVOKED:
        line += f"; /revoke {entry.id} corrects it"
    return line + ")"


async def entry_lines(store: Store, crew: Crew, entries: list[LedgerEntry],
                      for_admin: bool = False) -> list[str]:
    lookup = await lookup_for(store, crew, entries)
    corrected = corrected_ids(entries)
    return [entry_line(e, lookup, corrected, for_admin) for e in entries]
