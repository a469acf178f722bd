"""The per-member command rate limit (crew setting `rate_limit`), counted in the database by
every process that serves the bot."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from bot.commands.context import Refusal
from bot.commands.events import ButtonPressed, CommandReceived, Event
from bot.rules.text import plural

WINDOW = timedelta(minutes=1)


class Throttled(Refusal):
    """A command refused for the rate limit: it is not counted (it changed nothing)."""


class Throttle:
    """Each member's commands in a chat are counted in a window of a minute that starts with
    their first command after the last window ended (`Store.count_command`, in the event's
    first statement); the count is the database's, so every process sees every command."""

    def __init__(self) -> None:
        self.enabled = True  # a benchmark of the hot path turns it off

    def since(self, event: Event, now: datetime) -> datetime | None:
        """For a command or a button press, when the member's last window must have started
        for it to go on (a minute ago); None for what is not counted."""
        if not self.enabled:
            return None
        if isinstance(event, ButtonPressed) or (
                isinstance(event, CommandReceived) and event.text.lstrip().startswith("/")):
            return now - WINDOW
        return None

    @staticmethod
    def check(window: tuple[datetime, int], limit: int, now: datetime) -> None:
        """Refuses the command counted in `window` (its start, the count with it) when it goes
        over `limit` a minute (0: no limit)."""
        started, count = window
        if not limit or count <= limit:
            return
        before = count - 1
        wait = max(1, math.ceil((started + WINDOW - now).total_seconds()))
        raise Throttled(f"Slow down: you sent {plural(before, 'command')} in the last minute "
                        f"and this crew allows {limit} a minute. Try again in {wait} s; nothing "
                        "was changed.")
