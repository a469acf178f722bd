"""Section 2: /leaderboard and /score as the ledger grows (bulk-loaded ledger and totals)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import (
    SQLITE,
    START,
    Report,
    Row,
    Settings,
    analyze,
    bulk_insert,
    drop_schema,
    fresh_database,
    indexes_dropped,
    ms,
    now,
    open_app_in_schema,
    percentile,
    resync_sequences,
    sqlite_path,
    verdict,
)
from bot.app import App, open_app
from bot.clock import SimClock
from bot.commands.events import Actor, Chat, CommandReceived
from bot.rules.points import (
    ASK,
    LISTENING_CIRCLE,
    MEETING_MISSED,
    MUTUAL_REGARD,
    OFFER,
    Award,
    meeting_attended,
)
from storage.models import CrewRow, LedgerRow, MemberRow

SECTION = "2. History"
MEMBERS = 8
ROWS_PER_OTHER_CREW = 5_000
MONTHS = 36
RATIO_TARGET = 1.5
SCHEMA = "bench_history_"  # PostgreSQL: one schema per size in the bench database
BLOCK = 20  # calls per command and size before moving on to the next size
BIG_LOAD = 50_000  # rows added at once above which indexes are rebuilt rather than maintained
AWARDS: tuple[Award, ...] = (LISTENING_CIRCLE, ASK, OFFER, MUTUAL_REGARD, meeting_attended(3),
                             MEETING_MISSED)
TOTALS_SQL = """
INSERT INTO totals (crew_id, period, member_id, level, points)
SELECT crew_id, 'all', member_id, level, SUM(points) FROM ledger
GROUP BY crew_id, member_id, level
UNION ALL
SELECT crew_id, month, member_id, level, SUM(points) FROM ledger
GROUP BY crew_id, month, member_id, level
"""


def months_back(count: int) -> list[tuple[str, datetime]]:
    """(YYYY-MM, an instant in it) for the `count` months up to START's."""
    out = []
    year, month = START.year, START.month
    for _ in range(count):
        out.append((f"{year:04d}-{month:02d}", datetime(year, month, 1, 12, tzinfo=UTC)))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out


class Loader:
    """Grows the ledger in place: half of the rows to the measured crew, half to other crews."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.rows = 0
        self.target_rows = 0
        self.crews = 0
        self.members = 0
        self.serial = itertools.count(1)
        self.months = months_back(MONTHS)
        self.other_crew: tuple[int, int] | None = None  # (crew id, rows it has)

    async def add_crew(self) -> tuple[int, list[int]]:
        self.crews += 1
        crew_id = self.crews
        await bulk_insert(self.engine, CrewRow.__table__,
                          ("id", "platform", "chat_id", "title", "settings", "size_warned",
                           "created_at"),
                          [(crew_id, "telegram", f"-100{crew_id:010d}", f"Crew {crew_id}", {},
                            False, START - timedelta(days=3 * 365))])
        ids = list(range(self.members + 1, self.members + MEMBERS + 1))
        self.members += MEMBERS
        await bulk_insert(self.engine, MemberRow.__table__,
                          ("id", "crew_id", "user_id", "name", "handle", "active", "hidden",
                           "joined_at"),
                          [(m, crew_id, f"u{m}", f"Member {m}", f"member{m}", True, False,
                            START - timedelta(days=3 * 365)) for m in ids])
        return crew_id, ids

    def entries(self, crew_id: int, first_member: int, count: int
                ) -> Iterator[tuple[object, ...]]:
        for _ in range(count):
            n = next(self.serial)
            award = AWARDS[n % len(AWARDS)]
            month, at = self.months[(n // 7) % len(self.months)]
            yield (crew_id, first_member + n % MEMBERS, award.points, award.level, award.reason,
                   f"bench:{n:09d}", month, at)

    async def grow_to(self, total: int) -> None:
        columns = ("crew_id", "member_id", "points", "level", "reason", "source", "month", "at")
        if self.rows == 0:
            await self.add_crew()  # crew 1, members 1-8: the one measured
        adding = total - self.rows
        mine = adding // 2
        rest = adding - mine
        parts: list[tuple[int, int]] = [(1, mine)]
        while rest > 0:
            if self.other_crew is None or self.other_crew[1] >= ROWS_PER_OTHER_CREW:
                crew_id, _ = await self.add_crew()
                self.other_crew = (crew_id, 0)
            crew_id, have = self.other_crew
            take = min(rest, ROWS_PER_OTHER_CREW - have)
            parts.append((crew_id, take))
            self.other_crew = (crew_id, have + take)
            rest -= take
        rows = itertools.chain.from_iterable(
            self.entries(crew_id, (crew_id - 1) * MEMBERS + 1, count) for crew_id, count in parts)
        if adding >= BIG_LOAD:
            async with indexes_dropped(self.engine, "ledger"):
                await bulk_insert(self.engine, LedgerRow.__table__, columns, rows)
        else:
            await bulk_insert(self.engine, LedgerRow.__table__, columns, rows)
        self.target_rows += mine
        self.rows = total
        await self.rebuild_totals()
        await resync_sequences(self.engine, ("crews", "members", "ledger", "totals"))
        await analyze(self.engine)

    async def rebuild_totals(self) -> None:
        """The cached totals, recomputed from the ledger so the two agree exactly."""
        async with self.engine.begin() as conn:
            await conn.execute(text("DELETE FROM totals"))
            await conn.execute(text(TOTALS_SQL))

    async def check(self) -> None:
        async with self.engine.connect() as conn:
            ledger = await conn.scalar(select(func.count()).select_from(LedgerRow))
            by_ledger = await conn.scalar(text(
                "SELECT SUM(points) FROM ledger WHERE crew_id = 1"))
            by_totals = await conn.scalar(text(
                "SELECT SUM(points) FROM totals WHERE crew_id = 1 AND period = 'all'"))
        if ledger != self.rows or by_ledger != by_totals:
            raise RuntimeError(f"bench: ledger has {ledger} rows (wanted {self.rows}); crew 1 "
                               f"sums to {by_ledger} in the ledger, {by_totals} in totals")


async def sample(app: App, events: list[CommandReceived], fragment: str) -> list[float]:
    latencies = []
    for item in events:
        began = now()
        out = await app.game.handle(item)
        latencies.append(now() - began)
        if not out or fragment not in out[0].plain():
            raise RuntimeError(f"bench: unexpected reply {[m.plain()[:100] for m in out]}")
    return latencies


async def open_sized(settings: Settings, backend: str, index: int) -> App:
    """One database per size, side by side: a SQLite file, or a PostgreSQL schema."""
    if backend == SQLITE:
        app = await open_app(sqlite_path(settings, f"history-{index}"), SimClock(START))
    else:
        assert settings.pg_url
        app = await open_app_in_schema(settings.pg_url, f"{SCHEMA}{index}", SimClock(START))
    app.game.throttle.enabled = False  # the hot path is measured, not the rate limit
    return app


class Caller:
    """Commands from member 1 of the big crew, each with fresh message and event ids."""

    def __init__(self) -> None:
        self.chat = Chat("telegram", "-1000000000001", "Crew 1")
        self.who = Actor("u1", "Member 1", is_admin=False, handle="member1")
        self.ids = itertools.count(1)

    def __call__(self, words: str) -> CommandReceived:
        n = next(self.ids)
        return CommandReceived(self.chat, self.who, words, message_id=str(n),
                               event_id=f"bench:{n}")


async def check_score(app: App, command: Caller) -> None:
    """/score shows what the ledger itself sums to (the cache agrees with the ledger)."""
    async with app.engine.connect() as conn:
        expected = int(await conn.scalar(text(
            "SELECT COALESCE(SUM(points), 0) FROM ledger WHERE member_id = 1")) or 0)
    reply = await app.game.handle(command("/score"))
    shown = re.match(r".*?: (-?\d+) points?\.", reply[0].plain())
    if not shown or int(shown.group(1)) != expected:
        raise RuntimeError(f"bench: /score shows {reply[0].plain()[:80]!r}, the ledger "
                           f"says {expected}")


async def measure(settings: Settings, backend: str) -> dict[int, dict[str, list[float]]]:
    """Loads one database per size, then times the commands in alternating blocks, so that
    load from elsewhere on the machine falls on every size alike."""
    sizes = settings.sizes.history
    if backend != SQLITE:
        await fresh_database(settings, backend, "history")
    apps: dict[int, App] = {}
    out: dict[int, dict[str, list[float]]] = {}
    command = Caller()
    try:
        for index, size in enumerate(sizes):
            apps[size] = await open_sized(settings, backend, index)
            loader = Loader(apps[size].engine)
            began = now()
            await loader.grow_to(size)
            out[size] = {"/leaderboard": [], "/score": [], "load": [now() - began]}
            await loader.check()
            await check_score(apps[size], command)
        count = settings.sizes.history_samples
        for app in apps.values():  # warm-up, untimed
            await sample(app, [command("/leaderboard") for _ in range(5)], "Crew total")
            await sample(app, [command("/score") for _ in range(5)], "point")
        block = min(BLOCK, count)
        for _ in range(max(1, count // block)):
            for size, app in apps.items():
                out[size]["/leaderboard"] += await sample(
                    app, [command("/leaderboard") for _ in range(block)], "Crew total")
                out[size]["/score"] += await sample(
                    app, [command("/score") for _ in range(block)], "point")
        return out
    finally:
        for app in apps.values():
            await app.close()
        if backend != SQLITE and settings.pg_url:
            for index in range(len(sizes)):
                await drop_schema(settings.pg_url, f"{SCHEMA}{index}")


def size_label(rows: int) -> str:
    if rows >= 1_000_000 and rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}M"
    if rows >= 1_000 and rows % 1_000 == 0:
        return f"{rows // 1_000}k"
    return str(rows)


async def run(settings: Settings, report: Report) -> None:
    sizes = settings.sizes.history
    for backend in settings.backends:
        results = await measure(settings, backend)
        for command in ("/leaderboard", "/score"):
            base = percentile(results[sizes[0]][command], 50)
            for size in sizes:
                latencies = results[size][command]
                p50 = percentile(latencies, 50)
                last = size == sizes[-1]
                ratio = p50 / base
                report.add(Row(
                    key=f"history.{command}.{size_label(size)}.{backend}", section=SECTION,
                    measure=f"{command} at {size_label(size)} ledger rows", backend=backend,
                    result=f"{1 / p50:,.0f} calls/s" if p50 else "-", p50=ms(p50),
                    p99=ms(percentile(latencies, 99)),
                    vs=f"{ratio:.2f}x of {size_label(sizes[0])}",
                    target=f"<= {RATIO_TARGET}x of {size_label(sizes[0])}" if last else "",
                    verdict=verdict(ratio <= RATIO_TARGET) if last else "",
                    note=f"n={len(latencies)}, in blocks alternating with the other sizes "
                         f"(one database each); bulk load {results[size]['load'][0]:.1f} s"))
