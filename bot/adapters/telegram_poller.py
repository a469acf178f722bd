"""Which of several `crewbot run` processes long-polls Telegram: an election on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol

log = logging.getLogger("crewbot.telegram")

Role = Literal["polling", "standby", "webhook"]

RETRY_SECONDS = 2.0  # how often a standby asks for the lock
CHECK_SECONDS = 1.0  # how often the poller checks that its lock connection still holds the lock
CHECK_TIMEOUT = 2.0  # a check that takes longer counts as the lock lost
# A new poller waits this long after winning the lock before it polls. The lock is freed when the
# old poller's connection ends, and the old poller stops polling on its next failed check: at most
# CHECK_SECONDS + CHECK_TIMEOUT later, plus the moment its stop takes. Waiting longer than that
# keeps two processes from ever polling at once (docs/RELIABILITY.md, "One poller").
TAKEOVER_DELAY = CHECK_SECONDS + CHECK_TIMEOUT + 1.0


class Lock(Protocol):
    async def try_acquire(self) -> bool: ...

    async def still_held(self) -> bool: ...

    async def release(self) -> None: ...

    async def close(self) -> None: ...


class PollerElection:
    """Runs beside a Telegram adapter: polls while this process holds the lock, stands by (still
    sending, still serving due work) while another does, and stops polling at once when the lock
    connection is lost, then rejoins the election."""

    def __init__(self, lock: Lock, retry: float = RETRY_SECONDS, check: float = CHECK_SECONDS,
                 takeover_delay: float = TAKEOVER_DELAY) -> None:
        self.lock = lock
        self.retry = retry
        self.check = check
        self.takeover_delay = takeover_delay
        self.task: asyncio.Task[None] | None = None

    def begin(self, start_polling: Callable[[], Awaitable[None]],
              stop_polling: Callable[[], Awaitable[None]],
              polls_fine: Callable[[], bool] = lambda: True) -> None:
        """`polls_fine` says whether polling still works from here: a poller that cannot reach
        Telegram while another process might steps down."""
        self.task = asyncio.create_task(self.run(start_polling, stop_polling, polls_fine),
                                        name="crewbot:telegram-poller-election")

    async def run(self, start_polling: Callable[[], Awaitable[None]],
                  stop_polling: Callable[[], Awaitable[None]],
                  polls_fine: Callable[[], bool] = lambda: True) -> None:
        said_standby = False
        while True:
            if not await self.lock.try_acquire():
                if not said_standby:
                    log.info("Telegram: standing by, another process polls (or the database is "
                             "out of reach); trying again every %g s", self.retry)
                    said_standby = True
                await asyncio.sleep(self.retry)
                continue
            stepped_down = False
            try:
                stepped_down = await self.lead(start_polling, polls_fine)
            except Exception as error:  # Telegram refused to start: try again, as a standby
                log.error("Telegram: polling failed to start (%s); trying again in %g s",
                          type(error).__name__, self.retry, exc_info=error)
            try:
                await stop_polling()
            except Exception as error:  # stopped anyway: PTB marks it stopped first
                log.warning("Telegram: stopping the poll failed (%s)", type(error).__name__)
            await self.lock.release()
            said_standby = False
            # after stepping down, let the others try first
            await asyncio.sleep(self.retry * (3 if stepped_down else 1))

    async def lead(self, start_polling: Callable[[], Awaitable[None]],
                   polls_fine: Callable[[], bool]) -> bool:
        """Polls from the moment it is safe until the lock is lost (False) or polling has
        failed for a while (True: stepping down)."""
        await asyncio.sleep(self.takeover_delay)  # any old poller has stopped by now
        if not await self.lock.still_held():
            return False
        await start_polling()
        log.info("Telegram: this process is now the poller")
        while await self.lock.still_held():
            if not polls_fine():
                log.warning("Telegram: polls from this process have failed for a while; "
                            "stepping down so that another process can poll")
                return True
            await asyncio.sleep(self.check)
        log.warning("Telegram: lost the poller lock (its database connection failed); stopping "
                    "polling now and rejoining the election")
        return False

    async def stop(self, stop_polling: Callable[[], Awaitable[None]]) -> None:
        """Ends the election, stops polling, then gives the lock up (in that order, so the next
        poller never overlaps this one)."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
        await stop_polling()
        await self.lock.close()
