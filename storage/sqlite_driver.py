"""SQLAlchemy's aiosqlite adapter running statements on the event loop's own thread."""

from __future__ import annotations

import asyncio
import collections
import logging
import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

Outcome = tuple[Any, list[Any], int, int | None]
BUSY_WAIT = 30.0  # seconds to wait for another connection's write lock, as busy_timeout was
CHECKPOINT_EVERY = 200  # commits between checkpoints: a few hundred pages of WAL each time
# A PASSIVE checkpoint racing steady writes may never let the WAL start over; past this many
# pages the worker waits for the write lock instead (RESTART), and the writers wait on the loop.
RESTART_PAGES = 4000

log = logging.getLogger("crewbot.storage")


class Checkpoints:
    """Keeps WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside the
    COMMIT that crosses 1,000 pages and fsyncs the database file (~5 ms on this disk), which on
    the loop's thread would stall every task; so the bot's connections never checkpoint
    (wal_autocheckpoint=0) and every CHECKPOINT_EVERY commits one PASSIVE checkpoint runs on
    its own connection in a worker thread, which never blocks a writer (until the WAL passes
    RESTART_PAGES)."""

    def __init__(self) -> None:
        self.path = ""
        self.uri = False
        self.commits = 0
        self.done = 0
        self.running = False
        self.worker = ThreadPoolExecutor(1, thread_name_prefix="crewbot-checkpoint")
        self.conn: sqlite3.Connection | None = None  # used on the worker's thread only

    def committed(self) -> None:
        self.commits += 1
        if self.commits < CHECKPOINT_EVERY or self.running or not self.path:
            return
        self.commits, self.running = 0, True
        self.worker.submit(self._checkpoint).add_done_callback(self._finished)

    def _checkpoint(self) -> None:
        if self.conn is None:
            self.conn = sqlite3.connect(self.path, timeout=30, uri=self.uri)
        _, pages, _ = self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if pages > RESTART_PAGES:
            self.conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()

    def _finished(self, future: Future) -> None:
        self.running = False
        if future.exception():
            log.warning("sqlite checkpoint failed: %s", future.exception())
        else:
            self.done += 1


async def _ready(outcome: Outcome) -> Outcome:
    return outcome


class LoopCursor(AsyncAdapt_aiosqlite_cursor):
    """Opens a sqlite3 cursor, executes, fetches every row and closes it right here, on the
    event loop's thread. The stock adapter hands each of those four steps to aiosqlite's
    thread and back (~60 us of wake-ups each, more on a busy machine), while a game action's
    statements take microseconds in SQLite itself. Nothing here waits inside SQLite: the
    connection's busy timeout is 0, and a write lock held by another connection or process
    (SQLITE_BUSY, at BEGIN IMMEDIATE) is waited for on the loop, with asyncio.sleep, for up to
    BUSY_WAIT seconds. A long statement (an export, a bulk load) does hold up the loop while
    it runs; the bot's own statements are all by key."""

    __slots__ = ("_description", "_lastrowid", "_rowcount", "_size")

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._size = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._size

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._size = value

    async def _async_soft_close(self) -> None:
        pass

    def close(self) -> None:
        self._rows.clear()

    def _run(self, step: Any) -> None:
        conn: sqlite3.Connection = self._connection._conn
        delay, waited = 0.001, 0.0
        while True:
            cursor = conn.cursor()
            try:
                step(cursor)
                rows = cursor.fetchall() if cursor.description else []
                outcome: Outcome = (cursor.description, rows, cursor.rowcount,
                                    cursor.lastrowid)
                break
            except sqlite3.OperationalError as error:
                # SQLITE_BUSY and its extended codes (another connection recovering the WAL)
                if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or waited >= BUSY_WAIT:
                    self._adapt_connection._handle_exception(error)
            except Exception as error:
                self._adapt_connection._handle_exception(error)
            finally:
                cursor.close()
            await_(asyncio.sleep(delay))  # failed whole, so safe to run again
            waited += delay
            delay = min(delay * 2, 0.05)
        # SQLAlchemy's async engine insists each call awaited something; this costs two
        # greenlet switches, not a trip round the loop.
        self._description, rows, self._rowcount, self._lastrowid = await_(_ready(outcome))
        self._rows = collections.deque(rows)

    def execute(self, operation: Any, parameters: Any = None) -> None:
        self._run(lambda c: c.execute(operation) if parameters is None
                  else c.execute(operation, parameters))

    def executemany(self, operation: Any, seq_of_parameters: Any) -> None:
        self._run(lambda c: c.executemany(operation, seq_of_parameters))


class LoopConnection(AsyncAdapt_aiosqlite_connection):
    """Commits and rolls back on the loop's thread too: a WAL commit with synchronous=NORMAL
    writes the WAL without an fsync, and the pool's rollback on return is a no-op once the
    transaction is over, so neither is worth a trip to aiosqlite's thread and back."""

    __slots__ = ()
    _cursor_cls = LoopCursor

    def _end(self, how: str) -> None:
        if not self._connection._connection:  # closed: nothing to end, as the stock adapter
            return
        try:
            getattr(self._connection._conn, how)()
        except Exception as error:
            self._handle_exception(error)
        if how == "commit":
            self.dbapi.checkpoints.committed()
        await_(_ready((None, [], -1, None)))  # the async engine wants something awaited

    def commit(self) -> None:
        self._end("commit")

    def rollback(self) -> None:
        self._end("rollback")


class LoopSQLite(AsyncAdapt_aiosqlite_dbapi):
    """Pass as `module=` to create_async_engine for a sqlite+aiosqlite URL, with
    connect_args check_same_thread=False and timeout=0 (see LoopCursor)."""

    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)
        self.checkpoints = Checkpoints()

    def connect(self, *arg: Any, **kw: Any) -> LoopConnection:
        path = arg[0] if arg else kw.get("database", "")
        if isinstance(path, str) and path and path != ":memory:":
            self.checkpoints.path, self.checkpoints.uri = path, bool(kw.get("uri"))
        connection = super().connect(*arg, **kw)
        connection.__class__ = LoopConnection  # same slots: only the cursor class differs
        return connection  # type: ignore[return-value]
