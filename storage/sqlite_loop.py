"""SQLite units of work on the event loop's own thread, through a synchronous SQLAlchemy engine."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, Result
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

# A game action's statements take microseconds in SQLite itself; handing each of them to
# aiosqlite's thread and back (open, execute, fetch, close) cost ~60 us of wake-ups per step.
# So the units of work run on a plain synchronous engine (pysqlite) right on the loop's
# thread, and nothing there ever waits inside SQLite: the busy timeout is 0, another
# connection's write lock is waited for with asyncio.sleep at BEGIN IMMEDIATE, and WAL
# checkpoints (which fsync) run in a worker thread. A long statement (an export) does hold up
# the loop while it runs; the bot's own statements are all by key.

BUSY_WAIT = 30.0  # seconds to wait for another connection's write lock, as busy_timeout was
CHECKPOINT_EVERY = 200  # commits between checkpoints: a few hundred pages of WAL each time
# A PASSIVE checkpoint racing steady writes may never let the WAL start over; past this many
# pages the worker waits for the write lock instead (RESTART), and the writers wait on the loop.
RESTART_PAGES = 4000

log = logging.getLogger("crewbot.storage")


class Checkpoints:
    """Keeps WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside the
    COMMIT that crosses 1,000 pages and fsyncs the database file (~5 ms on this disk), which on
    the loop's thread would stall every task; so the loop's connections never checkpoint
    (wal_autocheckpoint=0) and every CHECKPOINT_EVERY commits one PASSIVE checkpoint runs on
    its own connection in a worker thread, which never blocks a writer (until the WAL passes
    RESTART_PAGES)."""

    def __init__(self, path: str, uri: bool) -> None:
        self.path = path
        self.uri = uri
        self.commits = 0
        self.done = 0
        self.running = False
        self.worker: ThreadPoolExecutor | None = None  # started with the first checkpoint
        self.conn: sqlite3.Connection | None = None  # used on the worker's thread only

    def committed(self) -> None:
        self.commits += 1
        if self.commits < CHECKPOINT_EVERY or self.running:
            return
        self.commits, self.running = 0, True
        if self.worker is None:
            self.worker = ThreadPoolExecutor(1, thread_name_prefix="crewbot-checkpoint")
        self.worker.submit(self.checkpoint).add_done_callback(self.finished)

    def checkpoint(self) -> None:
        if self.conn is None:
            self.conn = sqlite3.connect(self.path, timeout=30, uri=self.uri,
                                        check_same_thread=False)
        _, pages, _ = self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if pages > RESTART_PAGES:
            self.conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()

    def finished(self, future: Future) -> None:
        self.running = False
        if future.exception():
            log.warning("sqlite checkpoint failed: %s", future.exception())
        else:
            self.done += 1

    def close(self) -> None:
        """Waits for a running checkpoint; a later commit starts a new worker."""
        if self.worker is not None:
            self.worker.shutdown(wait=True)
            self.worker = None
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _loop_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # isolation_level None: sqlite3 sends no BEGIN of its own (LoopConnection sends BEGIN
    # IMMEDIATE); busy_timeout=0: a lock is waited for on the loop, never inside SQLite;
    # wal_autocheckpoint=0: checkpoints run in a worker thread (Checkpoints).
    dbapi_connection.isolation_level = None
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON",
                   "busy_timeout=0", "wal_autocheckpoint=0"):
        dbapi_connection.execute(f"PRAGMA {pragma}")


class LoopSQLite:
    """The synchronous engine that runs a SQLite file's units of work on the loop's thread,
    beside the async engine (migrations, checks and tools use that one, on aiosqlite)."""

    def __init__(self, engine: AsyncEngine) -> None:
        url = engine.url.set(drivername="sqlite+pysqlite")
        self.engine: Engine = create_engine(
            url, hide_parameters=True,
            connect_args={"timeout": 0, "check_same_thread": False})
        event.listen(self.engine, "connect", _loop_pragmas)
        self.checkpoints = Checkpoints(url.database or "", bool(url.query.get("uri")))

    async def connect(self) -> LoopConnection:
        return LoopConnection(self.engine.connect(), self.checkpoints)

    def dispose(self) -> None:
        self.engine.dispose()
        self.checkpoints.close()


_LOOPS: weakref.WeakKeyDictionary[Engine, LoopSQLite] = weakref.WeakKeyDictionary()


def loop_sqlite(engine: AsyncEngine) -> LoopSQLite | None:
    """The loop-thread engine of a SQLite file's async engine (made once, disposed with it);
    None for PostgreSQL and for an in-memory database (which another engine could not see)."""
    sync = engine.sync_engine
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    if sync not in _LOOPS:
        loop = _LOOPS[sync] = LoopSQLite(engine)
        event.listen(sync, "engine_disposed", lambda _engine: loop.dispose())
    return _LOOPS[sync]


class LoopConnection:
    """What the store uses of an AsyncConnection, on a synchronous connection whose statements
    run right here. Its transaction is SQLite's BEGIN IMMEDIATE, so two processes serialise
    instead of deadlocking; another connection's write lock is waited for with asyncio.sleep."""

    def __init__(self, sync: Connection, checkpoints: Checkpoints) -> None:
        self.sync = sync
        self.dialect = sync.dialect
        self.raw: sqlite3.Connection = sync.connection.driver_connection  # type: ignore[assignment]
        self.checkpoints = checkpoints
        self.begun = False  # BEGIN IMMEDIATE sent, and not yet committed or rolled back

    async def __aenter__(self) -> LoopConnection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def in_transaction(self) -> bool:
        return self.sync.in_transaction()

    async def begin(self) -> None:
        if self.begun:
            if not self.raw.in_transaction:  # SQLite ended it (an I/O error, a full disk)
                raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError(
                    "the transaction was rolled back by SQLite"), hide_parameters=True)
            return
        if not self.sync.in_transaction():
            self.sync.begin()  # SQLAlchemy's bookkeeping: pysqlite's own BEGIN sends nothing
        delay, waited = 0.001, 0.0
        while True:
            try:
                self.raw.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as error:
                # SQLITE_BUSY and its extended codes (another connection recovering the WAL)
                if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or waited >= BUSY_WAIT:
                    self.sync.exec_driver_sql("BEGIN IMMEDIATE")  # raised as SQLAlchemy does
                    break
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 0.05)
        self.begun = True

    async def execute(self, statement: Any, parameters: Any = None) -> Result[Any]:
        if not (self.begun and self.raw.in_transaction):
            await self.begin()
        return self.sync.execute(statement, parameters)

    async def exec_driver_sql(self, statement: str, parameters: Any = None) -> Result[Any]:
        if not (self.begun and self.raw.in_transaction):
            await self.begin()
        return self.sync.exec_driver_sql(statement, parameters)

    def ended(self, committed: bool) -> None:
        if self.begun and committed:
            self.checkpoints.committed()
        self.begun = False

    async def commit(self) -> None:
        if self.begun and not self.raw.in_transaction:
            await self.begin()  # raises: SQLite rolled the work back, so nothing is committed
        self.sync.commit()
        self.ended(True)

    async def rollback(self) -> None:
        self.sync.rollback()
        self.ended(False)

    async def close(self) -> None:
        self.begun = False
        self.sync.close()


class LoopSession:
    """What the store uses of an AsyncSession, on a synchronous ORM session that works in the
    LoopConnection's transaction (its commit and rollback are the connection's)."""

    def __init__(self, conn: LoopConnection) -> None:
        self.conn = conn
        self.sync = Session(bind=conn.sync, expire_on_commit=False,
                            join_transaction_mode="control_fully")

    async def _began(self) -> Session:
        if not (self.conn.begun and self.conn.raw.in_transaction):
            await self.conn.begin()
        return self.sync

    async def execute(self, statement: Any, params: Any = None, **kw: Any) -> Result[Any]:
        return (await self._began()).execute(statement, params, **kw)

    async def scalar(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        return (await self._began()).scalar(statement, params, **kw)

    async def scalars(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        return (await self._began()).scalars(statement, params, **kw)

    async def get(self, entity: Any, ident: Any, **kw: Any) -> Any:
        return (await self._began()).get(entity, ident, **kw)

    async def get_one(self, entity: Any, ident: Any, **kw: Any) -> Any:
        return (await self._began()).get_one(entity, ident, **kw)

    async def flush(self) -> None:
        (await self._began()).flush()

    def add(self, instance: object) -> None:
        self.sync.add(instance)

    async def commit(self) -> None:
        if self.conn.begun and not self.conn.raw.in_transaction:
            await self.conn.begin()  # raises, as LoopConnection.commit
        (await self._began()).commit()  # a flush of pending rows goes inside BEGIN IMMEDIATE
        self.conn.ended(True)

    async def rollback(self) -> None:
        self.sync.rollback()
        self.conn.ended(False)

    async def close(self) -> None:
        self.sync.close()
