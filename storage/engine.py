"""Builds the async engine from a URL or a file path: SQLite (WAL) or PostgreSQL (asyncpg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

DEFAULT_SQLITE = "crewbot.sqlite3"
PG_POOL_SIZE = 20  # PostgreSQL connections kept open per process; as many more for a burst


def database_url(url_or_path: str | None) -> URL:
    """`postgresql://...` gets the asyncpg driver, `sqlite:///x` aiosqlite, a bare path a file."""
    if not url_or_path:
        url_or_path = DEFAULT_SQLITE
    if "://" not in url_or_path:
        path = Path(url_or_path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        # Built, not parsed: a path is a path even with '?', '#' or '%' in it.
        return URL.create("sqlite+aiosqlite", database=str(path))
    url = make_url(url_or_path)
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        url = url.set(drivername="postgresql+asyncpg")
    elif url.drivername in ("sqlite", "sqlite+pysqlite"):
        url = url.set(drivername="sqlite+aiosqlite")
    if url.drivername not in ("postgresql+asyncpg", "sqlite+aiosqlite"):
        raise ValueError(
            f"unsupported database URL scheme '{url.drivername}': use postgresql://... or a "
            "SQLite file path"
        )
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # This engine's connections run on aiosqlite's thread, so waiting for a lock inside
    # SQLite (busy_timeout) blocks no task; the units of work run on the loop's thread
    # instead (storage.sqlite_loop), with pragmas of their own.
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON",
                   "busy_timeout=30000"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()
    # SQLAlchemy's documented recipe for SQLite transactions: aiosqlite sends no BEGIN of its
    # own, and the "begin" event below sends BEGIN IMMEDIATE.
    dbapi_connection.isolation_level = None


def _begin_immediate(conn: Any) -> None:
    # The write lock is taken at BEGIN, so two processes serialise instead of deadlocking.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url_or_path: str | None, pool_size: int = PG_POOL_SIZE) -> AsyncEngine:
    """hide_parameters: a database error names no value, so no member's words reach a log.
    `pool_size`: PostgreSQL connections kept open (as many more are opened for a burst)."""
    url = database_url(url_or_path)
    if url.drivername.startswith("sqlite"):
        engine = create_async_engine(url, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        return engine
    # No pool_pre_ping: it costs a round trip on every unit of work. A connection the server
    # dropped fails its first statement instead; SQLAlchemy then invalidates the pool and
    # Game.handle retries on a fresh connection (SqlStore.retryable); pool_recycle keeps
    # connections younger than typical server or proxy idle timeouts.
    # The pool keeps as many connections as the adapters have chats in flight (Telegram handles
    # 32 at once): with the default 5, every busier moment closed the extra connections after
    # use, and each new one paid a connect, type introspection and its statements' PREPAREs.
    return create_async_engine(url, pool_recycle=1800, hide_parameters=True,
                               pool_size=pool_size, max_overflow=pool_size)


def redacted(url_or_path: str | None) -> str:
    """The URL fit for a log line: never a password."""
    return database_url(url_or_path).render_as_string(hide_password=True)


async def empty_public_schema(url: str) -> None:
    """Drops everything in a PostgreSQL database's public schema: for the databases the tests,
    benchmarks and soak runs own, never a crew's."""
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()
