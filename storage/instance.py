"""This process's identity among the bot's processes, alive exactly as long as it runs."""

from __future__ import annotations

import logging
import secrets

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger("crewbot.storage")

# The first key of PostgreSQL's two-key advisory locks that stand for a running process (the
# second is the process's number); two-key locks never meet the one-key (bigint) ones.
PROCESS_LOCKS = 0x43524557  # "CREW"
TAKE = text("SELECT pg_try_advisory_lock(:kind, :id)")


def new_id() -> int:
    return secrets.randbelow(2**31 - 2) + 1


class Instance:
    """A number for this process; on PostgreSQL it holds a session advisory lock on it on a
    connection of its own, so any other process can tell whether it still runs (the server
    drops the lock the moment the connection dies, a killed process's too). On SQLite there is
    one process per database, so any number but ours is a process that has ended."""

    def __init__(self, engine: AsyncEngine, number: int | None = None) -> None:
        self.engine = engine
        self.id = number or new_id()
        self.conn: AsyncConnection | None = None
        self.wanted = False  # started and not stopped: keep_alive keeps the lock

    async def start(self) -> None:
        if self.engine.dialect.name != "postgresql" or self.conn is not None:
            return
        self.wanted = True
        conn = await self.engine.connect()
        try:
            while not (await conn.execute(TAKE, {"kind": PROCESS_LOCKS, "id": self.id})
                       ).scalar():
                self.id = new_id()  # another process has this number
            await conn.commit()  # the lock is the session's: it outlives the transaction
        except BaseException:
            await conn.close()
            raise
        self.conn = conn
        log.info("event=instance outcome=started id=%d", self.id)

    async def keep_alive(self) -> None:
        """Takes the lock again on a new connection if the old one was lost (the database
        restarted): until then the others count this process as ended."""
        if not self.wanted:
            return
        if self.conn is None:  # the last try to take it again failed
            await self.start()
            return
        try:
            await self.conn.execute(text("SELECT 1"))
            await self.conn.commit()
            return
        except Exception:  # any failure: the session, and the lock, may be gone
            log.warning("event=instance outcome=reconnecting id=%d", self.id)
        try:
            await self.conn.invalidate()
        except Exception:  # already broken; the server ended the session
            log.debug("event=instance outcome=invalidate_failed")
        self.conn = None
        await self.start()

    async def stop(self) -> None:
        self.wanted = False
        if self.conn is not None:
            # invalidate, not just close: a pooled connection would keep the session (and the
            # lock) for the next user
            await self.conn.invalidate()
            await self.conn.close()
            self.conn = None
