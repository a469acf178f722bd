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


def crew_tz(crew: Crew) -> ZoneInfo:
    return ZoneInfo(crew_settings.effective(crew.settings)["timezone"])


async def give(store: Store, crew: Crew, member_id: int, award: Award, source: str,
               now: datetime, month_of: datetime | None = None) -> bool:
    """Records one award; False if this exact award (member, reason, source) was made before.
    It counts in the crew-local month of `month_of` (default: now)."""
    return await store.award(crew.id, member_id, award.points, award.level, award.reason, source,
                             month_key(month_of or now, crew_tz(crew)), now)


async def post(store: Store, crew: Crew, message: Message, now: datetime) -> None:
    """Queues a message for the crew's chat; the adapter delivers it after commit."""
    await store.add_post(crew.id, crew.platform, message.to_json(), now)
