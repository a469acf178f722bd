"""Telegram's flood limits kept on our side, and updates of different chats handled at once."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter, BaseUpdateProcessor
from telegram.warnings import PTBDeprecationWarning

if TYPE_CHECKING:
    from storage.send_slots import Slot

log = logging.getLogger("crewbot.telegram")

# Telegram: about 30 messages a second overall, at most 20 a minute in one group.
OVERALL = (30, 1.0)
PER_GROUP = (20, 60.0)
MESSAGE_CALLS = ("send", "edit", "forward", "copy")  # what the limits count
CONCURRENT_UPDATES = 32
# Shared slots count each send from when it ended (as the in-process Window does), and one
# still to go or in flight from its slot: each window is this share longer than Telegram's
# (30 ms a second, 1.2 s a minute) for those arriving a little apart. Each process holds at
# most IN_FLIGHT slots not yet ended, so a window's oldest send has nearly always ended (and
# been moved to that time) when a slot is worked out from it, however late it went.
OVERALL_MARGIN = 0.03
PER_GROUP_MARGIN = 0.02
IN_FLIGHT = 4
FORGET_EVERY = 600.0  # seconds between clearing out the slots of groups gone quiet


class Slots(Protocol):
    """Send slots every process of the bot shares (storage.send_slots.SendSlots)."""

    async def claim(self, bot: tuple[str, int, float],
                    group: tuple[str, int, float] | None = None) -> Slot:
        """A send's slot: no sooner than `due` (the loop's clock), or, not `claimed`, when to
        ask again."""
        ...

    async def sent(self, bot: str, group: str | None, slot: Slot) -> None:
        """The send is over: its slot counts from now."""
        ...

    async def hold(self, key: str, limit: int, after: float) -> None: ...

    async def forget(self, older: float) -> None: ...


class Window:
    """At most `limit` calls in any `period` seconds, measured from when each call *ended*
    to when the next *starts*: however long a request takes to arrive, Telegram never sees
    more than `limit` in one period. A call in flight counts as inside the window."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit, self.period = limit, period
        self.ended: collections.deque[float] = collections.deque()
        self.in_flight = 0

    def idle(self, now: float) -> bool:
        return not self.in_flight and (not self.ended or self.ended[-1] <= now - self.period)

    async def __aenter__(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            while self.ended and self.ended[0] <= now - self.period:
                self.ended.popleft()
            if len(self.ended) + self.in_flight < self.limit:
                self.in_flight += 1
                return
            # Full of calls in flight: look again shortly; otherwise when the oldest leaves.
            await asyncio.sleep(self.ended[0] + self.period - now if self.ended else 0.005)

    async def __aexit__(self, *exc: object) -> None:
        self.in_flight -= 1
        self.ended.append(asyncio.get_running_loop().time())


class WindowRateLimiter(BaseRateLimiter[int]):
    """Sends as fast as Telegram's limits allow and no faster (PTB's AIORateLimiter lets a
    burst of 30 through and then leaks, which a strict 30-a-second window answers with 429s).
    Posts to one group wait only for that group's window; a 429 anyway pauses and retries."""

    def __init__(self, overall: tuple[int, float] = OVERALL,
                 per_group: tuple[int, float] = PER_GROUP, max_retries: int = 3,
                 shared: Slots | None = None, bot: str = "telegram") -> None:
        """`shared`: the windows are kept there for every process of the bot (`bot` names its
        rows, such as its id), instead of in this process's memory."""
        self.overall = Window(*overall)
        self.overall_limit = overall
        self.per_group = per_group
        self.groups: dict[int | str, Window] = {}
        self.max_retries = max_retries
        self.shared, self.bot = shared, bot
        self.in_flight = asyncio.Semaphore(IN_FLIGHT)
        self.forgotten = time.monotonic()

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    def _group(self, chat_id: int | str) -> Window:
        if len(self.groups) > 10_000:  # forget groups not written to within their period
            now = asyncio.get_running_loop().time()
            self.groups = {k: w for k, w in self.groups.items() if not w.idle(now)}
        return self.groups.setdefault(chat_id, Window(*self.per_group))

    async def process_request(
        self, callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] |
                                                   list[dict[str, Any]]]],
        args: Any, kwargs: dict[str, Any], endpoint: str, data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat_id = data.get("chat_id")
        if chat_id is None or not endpoint.startswith(MESSAGE_CALLS):
            return await callback(*args, **kwargs)
        with contextlib.suppress(TypeError, ValueError):
            chat_id = int(chat_id)
        group = chat_id if isinstance(chat_id, str) or chat_id < 0 else None
        retries = rate_limit_args or self.max_retries
        for attempt in range(retries + 1):
            try:
                if self.shared is not None:
                    return await self._shared_send(self.shared, group, callback, args, kwargs)
                if group is None:
                    async with self.overall:
                        return await callback(*args, **kwargs)
                async with self._group(group), self.overall:
                    return await callback(*args, **kwargs)
            except RetryAfter as error:
                if attempt == retries:
                    raise
                with warnings.catch_warnings():  # int now, timedelta in a later PTB
                    warnings.simplefilter("ignore", PTBDeprecationWarning)
                    wait = error.retry_after
                seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
                log.info("platform=telegram outcome=retry_after seconds=%s", seconds)
                if self.shared is not None:  # every process holds back, not only this one
                    limit = (self.per_group if group is not None else self.overall_limit)[0]
                    await self.shared.hold(self._key(group), limit, seconds + 0.1)
                else:
                    await asyncio.sleep(seconds + 0.1)
        raise AssertionError("unreachable")

    def _key(self, group: int | str | None) -> str:
        return self.bot if group is None else f"{self.bot}:{group}"

    async def _shared_send(self, shared: Slots, group: int | str | None,
                           callback: Callable[..., Awaitable[Any]], args: Any,
                           kwargs: dict[str, Any]) -> Any:
        """Sends in a slot of the bot's window and the group's, which the database gives out
        to all processes, so that together they keep to the limits; once the send is over, its
        slot is moved to that time."""
        limit, period = self.overall_limit
        bot = (self.bot, limit, period * (1 + OVERALL_MARGIN))
        in_group = None
        if group is not None:
            limit, period = self.per_group
            in_group = (self._key(group), limit, period * (1 + PER_GROUP_MARGIN))
        loop = asyncio.get_running_loop()
        while True:
            async with self.in_flight:
                slot = await shared.claim(bot, in_group)
                if slot.claimed:
                    await asyncio.sleep(slot.due - loop.time())
                    try:
                        return await callback(*args, **kwargs)
                    finally:
                        # Shielded: a send cancelled in flight may have reached Telegram.
                        await asyncio.shield(shared.sent(self.bot, in_group and in_group[0],
                                                         slot))
                        await self._forget_now_and_then(shared)
            await asyncio.sleep(slot.due - loop.time())  # the group's window is full until then

    async def _forget_now_and_then(self, shared: Slots) -> None:
        """Clears out the windows of groups gone quiet, every FORGET_EVERY seconds."""
        if time.monotonic() - self.forgotten > FORGET_EVERY:
            self.forgotten = time.monotonic()
            await shared.forget(self.per_group[1] * (1 + PER_GROUP_MARGIN))


class ChatOrderedUpdates(BaseUpdateProcessor):
    """Handles updates of different chats concurrently (one waiting on Telegram's answer no
    longer holds up the others), and those of one chat one at a time, in arrival order."""

    def __init__(self, max_concurrent_updates: int = CONCURRENT_UPDATES) -> None:
        super().__init__(max_concurrent_updates)
        self.chats: dict[object, tuple[asyncio.Lock, int]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = getattr(getattr(update, "effective_chat", None), "id", None)
        lock, users = self.chats.get(chat) or (asyncio.Lock(), 0)
        self.chats[chat] = (lock, users + 1)
        try:
            async with lock:
                await coroutine
        finally:
            lock, users = self.chats[chat]
            if users > 1:
                self.chats[chat] = (lock, users - 1)
            else:
                del self.chats[chat]

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass
