"""Shared pieces of the harness: settings, result rows, statistics, databases and bulk loading."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import App
from bot.commands.game import Game
from storage.engine import empty_public_schema, make_engine
from storage.migrate import upgrade
from storage.unit_of_work import UnitOfWork

SQLITE = "SQLite"
POSTGRES = "PostgreSQL"
DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/crewbot_bench"
FORBIDDEN_PG_DATABASES = frozenset({"test", "postgres", "template0", "template1"})
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday, as in the tests


@dataclass(frozen=True)
class Sizes:
    """How much work each section does; `full`, `quick` and `smoke` differ only here."""

    crews: int  # section 1: crews of six members per round
    rounds: int  # section 1: repeats of every action block
    history: tuple[int, ...]  # section 2: ledger rows in the database
    history_samples: int  # section 2: /leaderboard and /score calls per size
    due_crews: int  # section 3: crews with schedules
    due_tallies: int  # section 3: tallies that fall due at once
    idle_ticks: int  # section 3: repeats of the nothing-due tick
    tally_repeats: int  # section 3: repeats of the tally tick
    tg_chats: int  # section 4: chats per updates/s repeat (6 members x 3 commands each)
    tg_repeats: int  # section 4: repeats of the updates/s run
    fanout: int  # section 4: scheduled posts against the rate-limited fake (0: skipped)
    fanout_per_group: int  # section 4: posts per group in the fan-out
    startups: int  # section 5: processes started for start-up time and idle memory
    loaded_runs: int  # section 5: processes started for memory with the crews loaded


FULL = Sizes(crews=12, rounds=3, history=(1_000, 100_000, 1_000_000), history_samples=200,
             due_crews=10_000, due_tallies=1_000, idle_ticks=30, tally_repeats=1,
             tg_chats=30, tg_repeats=3, fanout=5_000, fanout_per_group=5, startups=5,
             loaded_runs=2)
QUICK = Sizes(crews=6, rounds=2, history=(1_000, 10_000), history_samples=50,
              due_crews=10_000, due_tallies=100, idle_ticks=10, tally_repeats=1,
              tg_chats=6, tg_repeats=2, fanout=150, fanout_per_group=5, startups=2,
              loaded_runs=1)
SMOKE = Sizes(crews=1, rounds=1, history=(200, 1_000), history_samples=5,
              due_crews=200, due_tallies=10, idle_ticks=3, tally_repeats=1,
              tg_chats=2, tg_repeats=1, fanout=0, fanout_per_group=5, startups=1,
              loaded_runs=1)


@dataclass
class Settings:
    """What one run of the harness measures, where, and how big."""

    mode: str
    sizes: Sizes
    pg_url: str | None
    workdir: Path
    pin: bool
    limit_model: str
    command: str

    @property
    def backends(self) -> list[str]:
        return [SQLITE, POSTGRES] if self.pg_url else [SQLITE]


@dataclass
class Row:
    """One line of the results table; `key` is stable, `measure` is what a reader sees."""

    key: str
    section: str
    measure: str
    backend: str
    result: str
    p50: str = ""
    p99: str = ""
    vs: str = ""
    target: str = ""
    verdict: str = ""
    note: str = ""


@dataclass
class Report:
    """Every row of a run, in order, plus free-text notes printed under the table."""

    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted samples."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), -(-len(ordered) * q // 100)))
    return ordered[int(rank) - 1]


def median(values: Iterable[float]) -> float:
    listed = list(values)
    return statistics.median(listed) if listed else float("nan")


def ms(seconds: float) -> str:
    if seconds != seconds:  # NaN
        return "-"
    value = seconds * 1000
    if value >= 1000:
        return f"{seconds:.2f} s"
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"


def rate(value: float, unit: str) -> str:
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:,.1f} {unit}"


def verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def now() -> float:
    return time.perf_counter()


# machine


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, str]:
    return {
        "CPU": cpu_model(),
        "Cores": str(os.cpu_count() or 0),
        "Memory": memory_total(),
        "OS": f"{platform.system()} {platform.release()}",
        "Python": sys.version.split()[0],
        "SQLAlchemy": version("sqlalchemy"),
        "asyncpg": version("asyncpg"),
        "aiosqlite": version("aiosqlite"),
        "SQLite": sqlite_version(),
        "python-telegram-bot": version("python-telegram-bot"),
        "PostgreSQL": "",
    }


def sqlite_version() -> str:
    return sqlite3.sqlite_version


def memory_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MiB, from /proc/self/status."""
    values = {"VmRSS": 0.0, "VmHWM": 0.0}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            name = line.split(":", 1)[0]
            if name in values:
                values[name] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return values["VmRSS"], values["VmHWM"]


def pin_to_one_cpu() -> int | None:
    """Pins this process to its first allowed CPU (actions/s 'on one core'); returns it."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None
    os.sched_setaffinity(0, {allowed[0]})
    return allowed[0]


def bot_cpu() -> float:
    """CPU seconds this process has used (every thread: the loop and SQLite's checkpoints)."""
    return time.process_time()


def server_cpu(url: str | None) -> float | None:
    """CPU seconds used so far by this machine's PostgreSQL processes, when the server in `url`
    runs here (None otherwise, or without /proc). Read around a block of work, the difference
    is the server's share: its backends live as long as the pool's connections. schedstat
    counts nanoseconds, where /proc/PID/stat's 10 ms ticks are too coarse for a block."""
    if not url or make_url(url).host not in (None, "", "localhost", "127.0.0.1", "::1"):
        return None
    nanoseconds = 0
    try:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if (entry / "comm").read_text().strip() != "postgres":
                        continue
                    nanoseconds += int((entry / "schedstat").read_text().split()[0])
                except OSError:
                    continue  # ended meanwhile
    except OSError:
        return None
    return nanoseconds / 1e9


def other_cpus() -> set[int]:
    """The machine's CPUs but the one this process is pinned to, for helper processes."""
    if not hasattr(os, "sched_getaffinity"):
        return set()
    mine = os.sched_getaffinity(0)
    every = set(range(os.cpu_count() or 1))
    return (every - mine) or every


# databases


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="crewbot-bench-"))


def sqlite_path(settings: Settings, name: str) -> str:
    path = settings.workdir / f"{name}.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return str(path)


def check_pg_url(url: str) -> str:
    """Refuses the test suite's database (and the server's own ones): the bench wipes its db."""
    parsed = make_url(url)
    name = parsed.database or ""
    test_url = os.environ.get("CREWBOT_TEST_DATABASE_URL", "")
    test_db = make_url(test_url).database if test_url else None
    if name in FORBIDDEN_PG_DATABASES or (test_db and name == test_db):
        raise SystemExit(f"bench: refusing to use PostgreSQL database '{name}': the harness "
                         "drops everything in it. Use a database of its own (crewbot_bench).")
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


async def ensure_pg_database(url: str) -> str | None:
    """Creates the bench database if missing; returns the server version, or None if down."""
    import asyncpg

    parsed = make_url(url)
    dsn = parsed.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False)
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return None
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1",
                                     parsed.database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{parsed.database}"')
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


async def open_app_in_schema(url: str, schema: str, clock: Callable[[], datetime]) -> App:
    """The bot's app (as bot.app.open_app builds it) in a PostgreSQL schema of its own, so
    several databases of different sizes can be open side by side in the bench database."""
    plain = make_engine(url)
    try:
        async with plain.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    finally:
        await plain.dispose()
    engine = make_engine(url)

    def search_path(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f'SET search_path TO "{schema}"')
        cursor.close()

    event.listen(engine.sync_engine, "connect", search_path)
    await upgrade(engine)
    return App(engine, Game(UnitOfWork(engine), clock))


async def drop_schema(url: str, schema: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await engine.dispose()


async def fresh_database(settings: Settings, backend: str, name: str) -> str:
    """An empty database for one measurement: a new SQLite file, or the reset bench db."""
    if backend == SQLITE:
        return sqlite_path(settings, name)
    assert settings.pg_url
    await empty_public_schema(settings.pg_url)
    return settings.pg_url


# bulk loading, straight to the tables (setup only, never measured)


@functools.lru_cache(maxsize=4096)
def _sqlite_time(value: datetime) -> str:
    # SQLAlchemy's SQLite DATETIME storage format, naive UTC as storage.models keeps it.
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return _sqlite_time(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def _pg_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


async def bulk_insert(engine: AsyncEngine, table: Table, columns: Sequence[str],
                      rows: Iterable[Sequence[Any]], chunk: int = 50_000) -> int:
    """Inserts rows fast: COPY on PostgreSQL, one executemany per chunk on SQLite."""
    count = 0
    batch: list[Sequence[Any]] = []

    async def flush() -> None:
        nonlocal batch
        if not batch:
            return
        if engine.dialect.name == "postgresql":
            async with engine.begin() as conn:
                # The rows are consistent by construction; per-row foreign-key triggers would
                # make COPY ~15x slower. Setup only: the measured work keeps every check.
                await conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
                raw = await conn.get_raw_connection()
                driver = raw.driver_connection
                assert driver is not None
                await driver.copy_records_to_table(
                    table.name, columns=list(columns),
                    records=[tuple(_pg_value(v) for v in row) for row in batch])
        else:
            path = engine.url.database
            assert path
            marks = ", ".join("?" for _ in columns)
            sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"
            await asyncio.to_thread(
                _sqlite_load, path, sql, [tuple(_sqlite_value(v) for v in row) for row in batch])
        batch = []

    for row in rows:
        batch.append(row)
        count += 1
        if len(batch) >= chunk:
            await flush()
    await flush()
    return count


def _sqlite_load(path: str, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """One executemany on a plain sqlite3 connection, foreign-key checks off (setup only)."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA cache_size=-262144")  # 256 MiB: index inserts stay in memory
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
    finally:
        conn.close()


@asynccontextmanager
async def indexes_dropped(engine: AsyncEngine, table: str) -> AsyncIterator[None]:
    """For a big load: drops a table's secondary indexes (and, on PostgreSQL, its unique
    constraints), then recreates each from its own stored definition."""
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            constraints = (await conn.execute(text(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = CAST(:t AS regclass) AND contype = 'u'"), {"t": table})).all()
            indexes = (await conn.execute(text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                " AND tablename = :t AND indexname NOT IN (SELECT conname FROM pg_constraint "
                "WHERE conrelid = CAST(:t AS regclass))"), {"t": table})).all()
            for name, _ in constraints:
                await conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
        else:  # a UNIQUE constraint's autoindex cannot be dropped in SQLite; it stays
            constraints = []
            indexes = (await conn.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t "
                "AND sql IS NOT NULL"), {"t": table})).all()
        for name, _ in indexes:
            await conn.execute(text(f'DROP INDEX "{name}"'))
    try:
        yield
    finally:
        async with engine.begin() as conn:
            for name, definition in constraints:
                await conn.execute(text(
                    f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))
            for _, definition in indexes:
                await conn.execute(text(definition))


async def resync_sequences(engine: AsyncEngine, tables: Iterable[str]) -> None:
    """After loading explicit ids into PostgreSQL, moves each id sequence past them."""
    if engine.dialect.name != "postgresql":
        return
    async with engine.begin() as conn:
        for name in tables:
            await conn.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"COALESCE((SELECT max(id) FROM {name}), 0) + 1, false)"))


async def analyze(engine: AsyncEngine) -> None:
    """Fresh planner statistics on PostgreSQL, as autovacuum would gather after a big load.
    SQLite gets none: the bot never runs ANALYZE there, so neither does the harness."""
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE"))
