"""A PostgreSQL session advisory lock on a connection of its own: one leader among processes."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

log = logging.getLogger("crewbot.leader")

# The two-key form of the advisory locks: a space of its own, apart from one-key (bigint) locks
# any other code takes. The first key says "crewbot's Telegram poller"; the second is derived
# from the bot's id, so two bots sharing a database elect their pollers independently.
TELEGRAM_POLLER = 0x43_52_57_50  # "CRWP"


def poller_key(bot_id: int) -> tuple[int, int]:
    """The lock's two 32-bit keys for the Telegram poller of this bot (by its numeric id)."""
    digest = hashlib.blake2b(str(bot_id).encode(), digest_size=4).digest()
    return TELEGRAM_POLLER, int.from_bytes(digest, "big", signed=True)


class LeaderLock:
    """`pg_try_advisory_lock` held on one dedicated connection (never the game's pool): the server
    frees it when that connection ends, so a process killed in any way gives it up at once.

    Every method answers within `timeout` seconds and never raises for a database that is down:
    it reports "not held" and drops the connection, and the next call opens a new one."""

    def __init__(self, url: URL, key: tuple[int, int], timeout: float = 2.0) -> None:
        self.engine: AsyncEngine = create_async_engine(url, poolclass=NullPool,
                                                       hide_parameters=True)
        self.key = key
        self.timeout = timeout
        self.connection: AsyncConnection | None = None
        self.held = False

    async def try_acquire(self) -> bool:
        """True when this process holds the lock (now, or already)."""
        if self.held:
            return await self.still_held()
        got = await self._ask("SELECT pg_try_advisory_lock(:a, :b)")
        self.held = bool(got)
        return self.held

    async def still_held(self) -> bool:
        """Asks the server whether this connection still holds the lock: False once the
        connection is lost (server restart, network, pg_terminate_backend)."""
        if not self.held:
            return False
        held = await self._ask(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
            "AND pid = pg_backend_pid() AND classid = (:a)::int::oid "
            "AND objid = (:b)::int::oid AND objsubid = 2 AND granted)")
        self.held = bool(held)
        return self.held

    async def release(self) -> None:
        """Gives the lock up by closing its connection (the server frees it)."""
        self.held = False
        await self._drop()

    async def close(self) -> None:
        await self.release()
        await self.engine.dispose()

    async def _ask(self, sql: str) -> bool | None:
        """The query's one boolean, or None (and the connection dropped) on any failure."""
        try:
            async with asyncio.timeout(self.timeout):
                if self.connection is None:
                    connection = await self.engine.connect()
                    self.connection = await connection.execution_options(
                        isolation_level="AUTOCOMMIT")  # no transaction left open between checks
                result = await self.connection.execute(text(sql),
                                                       {"a": self.key[0], "b": self.key[1]})
                return bool(result.scalar())
        except Exception as error:  # down, unreachable or too slow: the lock is not ours
            log.debug("event=leader_lock outcome=failed error=%s", type(error).__name__)
            self.held = False
            await self._drop()
            return None

    async def _drop(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.timeout):
                    await connection.invalidate()  # never returned to a pool, never reused
            with contextlib.suppress(Exception):
                await connection.close()
