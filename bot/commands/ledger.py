"""Writing awards and queued posts: the two ways the core changes what members see later."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.commands.events import Message
from bot.commands.store import Store
from bot.rules import settings as crew_settings
from bot.rules.model import Crew
from bot.rules.points import Award
from bot.rules.schedule import month_key
from bot.rules.text import signed


def crew_tz(crew: Crew) -> ZoneInfo:
    return ZoneInfo(crew_settings.effective(crew.settings)["timezone"])


def mode(crew: Crew) -> str:
    """points (GAME.md as written), gentle (no negative points) or rhythm (no points)."""
    return str(crew_settings.effective(crew.settings)["mode"])


def scored(crew: Crew, points: int) -> int:
    """What an award is worth in the crew's mode; the event is recorded either way."""
    crew_mode = mode(crew)
    if crew_mode == "rhythm" or (crew_mode == "gentle" and points < 0):
        return 0
    return points


def no_points(crew: Crew) -> bool:
    return mode(crew) == "rhythm"


def worth(crew: Crew, points: int) -> str:
    """' (+5)' as a reply shows it, or nothing in rhythm mode."""
    return "" if mode(crew) == "rhythm" else f" ({signed(scored(crew, points))})"


async def give(store: Store, crew: Crew, member_id: int, award: Award, source: str,
               now: datetime, month_of: datetime | None = None, exact: bool = False) -> bool:
    """Records one award, worth what the crew's mode says (`exact`: as given, for corrections);
    False if this exact award (member, reason, source) was made before. It counts in the
    crew-local month of `month_of` (default: now)."""
    points = award.points if exact else scored(crew, award.points)
    return await store.ledger.award(crew.id, member_id, points, award.level, award.reason, source,
                                    month_key(month_of or now, crew_tz(crew)), now)


async def give_many(store: Store, crew: Crew, awards: list[tuple[int, Award]], source: str,
                    now: datetime, exact: bool = False) -> int:
    """`give` for several (member id, award) pairs of one source, in two statements; returns
    how many were not made before."""
    points = (lambda a: a.points) if exact else (lambda a: scored(crew, a.points))
    return await store.ledger.awards(
        crew.id, [(member_id, points(a), a.level, a.reason, source) for member_id, a in awards],
        month_key(now, crew_tz(crew)), now)


async def post(store: Store, crew: Crew, message: Message, now: datetime) -> None:
    """Queues a message for the crew's chat; the adapter delivers it after commit."""
    await store.outbox.add_post(crew.id, crew.platform, message.to_json(), now)


async def post_many(store: Store, crew: Crew, messages: list[Message], now: datetime) -> None:
    """Queues messages for the crew's chat in one statement, in this order."""
    await store.outbox.add_posts(crew.id, crew.platform, [m.to_json() for m in messages], now)
