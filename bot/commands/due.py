"""Scheduled work: the database says what is due; each item is claimed with its result."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.commands import conflicts, listening, meetings
from bot.commands.ledger import post
from bot.commands.store import Store
from bot.rules.model import Crew


async def _close_circle(store: Store, crew: Crew, circle_id: int, now: datetime) -> None:
    for message in await listening.close_due_circle(store, crew, circle_id, now):
        await post(store, crew, message, now)


WORK: dict[str, Callable[[Store, Crew, int, datetime], Awaitable[None]]] = {
    "circle_close": _close_circle,
    "meeting_prompt": meetings.prompt_due,
    "meeting_reminder": meetings.reminder_due,
    "meeting_start": meetings.start_due,
    "meeting_tally": meetings.tally_due,
    "conflict_lapse": conflicts.lapse_due,
    "conflict_half": conflicts.half_due,
    "conflict_deadline": conflicts.deadline_due,
}
