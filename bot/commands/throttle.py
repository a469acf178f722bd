"""The per-member command rate limit (crew setting `rate_limit`), kept in this process's memory."""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime, timedelta

from bot.commands.context import Refusal
from bot.rules.text import plural

WINDOW = timedelta(minutes=1)


class Throttle:
    """Counts each member's commands over the last minute, per chat. It lives in one process:
    with several bot processes on one database, each counts the events it receives."""

    def __init__(self) -> None:
        self.enabled = True  # a benchmark of the hot path turns it off
        self.sent: dict[tuple[str, str, str], deque[tuple[datetime, object]]] = {}

    def check(self, key: tuple[str, str, str], limit: int, now: datetime, event: object) -> None:
        """Counts one command, or refuses it when `limit` were sent in the last minute (0: no
        limit). The same event tried again (a lost database race) is counted once."""
        if not self.enabled:
            return
        times = self.sent.get(key)
        if times is None:
            times = self.sent[key] = deque()
        while times and times[0][0] <= now - WINDOW:
            times.popleft()
        if times and times[-1][1] is event:
            return
        if limit and len(times) >= limit:
            wait = max(1, math.ceil((times[0][0] + WINDOW - now).total_seconds()))
            raise Refusal(f"Slow down: you sent {plural(len(times), 'command')} in the last "
                          f"minute and this crew allows {limit} a minute. Try again in {wait} s; "
                          "nothing was changed.")
        times.append((now, event))
        if len(self.sent) > 10_000:  # forget members who went quiet
            for stale in [k for k, t in self.sent.items() if not t or t[-1][0] <= now - WINDOW]:
                del self.sent[stale]
