"""Section 3: scheduled work for many crews: an idle tick, and many tallies falling due at once."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import (
    SQLITE,
    START,
    Report,
    Row,
    Settings,
    analyze,
    bulk_insert,
    fresh_database,
    median,
    ms,
    now,
    percentile,
    resync_sequences,
    verdict,
)
from bot.app import open_app
from bot.clock import SimClock
from bot.commands.game import Game
from storage.models import CrewRow, DueRow, MeetingRow, MemberRow, RosterRow

SECTION = "3. Due work"
MEMBERS = 6
PRESENT = 4  # of the six on each tallied roster
IDLE_TARGET = 0.050
TALLY_TARGET = 10.0
RACED = 100  # tallies re-run by two racing workers, to check exactly-once under a race
NEXT_START = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)  # first Tuesday of December, 19:00
TALLY_AT = START + timedelta(hours=1)  # the open meetings end, their tallies fall due


@dataclass
class DueResult:
    idle: list[float] = field(default_factory=list)
    tallies: list[float] = field(default_factory=list)
    concurrent: float = 0.0
    raced: int = 0
    load: float = 0.0
    due_rows: int = 0


def crew_rows(crews: int) -> Iterator[tuple[object, ...]]:
    for i in range(1, crews + 1):
        yield (i, "telegram", f"-100{i:010d}", f"Crew {i}", {}, "first tuesday 19:00", False,
               START - timedelta(days=90))


def member_rows(crews: int) -> Iterator[tuple[object, ...]]:
    for i in range(1, crews + 1):
        for k in range(MEMBERS):
            yield ((i - 1) * MEMBERS + k + 1, i, f"{i}-{k}", f"Member {k}", None, True, False,
                   START - timedelta(days=90))


def meeting_rows(crews: int, tallies: int) -> Iterator[tuple[object, ...]]:
    for i in range(1, tallies + 1):  # this month's meeting: open, its window ending now
        yield (i, i, "2026-11", START - timedelta(hours=2), TALLY_AT, True, "open")
    for i in range(1, crews + 1):  # next month's: planned, as start_due plans it
        yield (crews + i, i, "2026-12", NEXT_START, NEXT_START + timedelta(hours=3), True,
               "planned")


def roster_rows(tallies: int) -> Iterator[tuple[object, ...]]:
    for i in range(1, tallies + 1):
        for k in range(MEMBERS):
            present = START - timedelta(hours=1) if k < PRESENT else None
            yield ((i - 1) * MEMBERS + k + 1, i, (i - 1) * MEMBERS + k + 1, True, present, False)


def due_rows(crews: int, tallies: int) -> Iterator[tuple[object, ...]]:
    serial = 0
    for i in range(1, crews + 1):
        planned = crews + i
        for kind, at in (("meeting_prompt", NEXT_START - timedelta(days=3)),
                         ("meeting_reminder", NEXT_START - timedelta(hours=1)),
                         ("meeting_start", NEXT_START),
                         ("meeting_tally", NEXT_START + timedelta(hours=3))):
            serial += 1
            yield (serial, i, kind, planned, at, None)
    for i in range(1, tallies + 1):  # this month's: done, but the tally now falling due
        for kind, at in (("meeting_prompt", START - timedelta(days=3)),
                         ("meeting_reminder", START - timedelta(hours=3)),
                         ("meeting_start", START - timedelta(hours=2))):
            serial += 1
            yield (serial, i, kind, i, at, at)
        serial += 1
        yield (serial, i, "meeting_tally", i, TALLY_AT, None)


async def load(engine: AsyncEngine, crews: int, tallies: int) -> int:
    """Bulk-creates crews with schedules, their meetings and timers; returns due_work rows."""
    await bulk_insert(engine, CrewRow.__table__, ("id", "platform", "chat_id", "title",
                                                  "settings", "schedule", "size_warned",
                                                  "created_at"), crew_rows(crews))
    await bulk_insert(engine, MemberRow.__table__, ("id", "crew_id", "user_id", "name", "handle",
                                                    "active", "hidden", "joined_at"),
                      member_rows(crews))
    await bulk_insert(engine, MeetingRow.__table__, ("id", "crew_id", "month", "starts_at",
                                                     "ends_at", "scheduled", "status"),
                      meeting_rows(crews, tallies))
    await bulk_insert(engine, RosterRow.__table__, ("id", "meeting_id", "member_id", "at_start",
                                                    "present_at", "excused"),
                      roster_rows(tallies))
    count = await bulk_insert(engine, DueRow.__table__, ("id", "crew_id", "kind", "subject_id",
                                                         "due_at", "done_at"),
                              due_rows(crews, tallies))
    await resync_sequences(engine, ("crews", "members", "meetings", "meeting_roster",
                                    "due_work"))
    await analyze(engine)
    return count


# A summary post has no private recipient; an absent member's note has one (dm_to).
DM = "CAST(payload AS TEXT) LIKE '%\"dm_to\": [%'"
COUNTS = {
    "claimed": "SELECT COUNT(*) FROM due_work WHERE kind = 'meeting_tally' "
               "AND subject_id <= :tallies AND done_at IS NOT NULL",
    "tallied": "SELECT COUNT(*) FROM meetings WHERE status = 'tallied'",
    "attended": "SELECT COUNT(*) FROM ledger WHERE reason = 'meeting_attended'",
    "missed": "SELECT COUNT(*) FROM ledger WHERE reason = 'meeting_missed'",
    "summaries": f"SELECT COUNT(*) FROM outbox WHERE NOT ({DM})",
    "crews_posted_twice": f"SELECT COUNT(*) FROM (SELECT crew_id FROM outbox WHERE NOT ({DM}) "
                          "GROUP BY crew_id HAVING COUNT(*) > 1) t",
    "dms": f"SELECT COUNT(*) FROM outbox WHERE {DM}",
}


async def counts(engine: AsyncEngine, tallies: int) -> dict[str, int]:
    """What the tallies left behind, counted in the tables themselves."""
    out = {}
    async with engine.connect() as conn:
        for name, sql in COUNTS.items():
            params = {"tallies": tallies} if ":tallies" in sql else {}
            out[name] = int(await conn.scalar(text(sql), params) or 0)
    return out


def check(found: dict[str, int], tallies: int, fresh: int, done: int) -> None:
    """Every one of `tallies` claimed and tallied once; the `fresh` ones just run left exactly
    one summary, one award per roster member and one note per absent member."""
    wanted = {"claimed": tallies, "tallied": tallies, "attended": PRESENT * fresh,
              "missed": (MEMBERS - PRESENT) * fresh, "summaries": fresh,
              "crews_posted_twice": 0, "dms": (MEMBERS - PRESENT) * fresh}
    if done != fresh or found != wanted:
        raise RuntimeError(f"bench: tallies not done exactly once: run_due did {done}, "
                           f"found {found}, wanted {wanted}")


async def rearm(engine: AsyncEngine, tallies: int) -> None:
    """Puts the first tallies back as due and forgets every effect, for another run."""
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE due_work SET done_at = NULL WHERE kind = "
                                "'meeting_tally' AND subject_id <= :n"), {"n": tallies})
        await conn.execute(text("UPDATE meetings SET status = 'open' WHERE id <= :n"),
                           {"n": tallies})
        for table in ("ledger", "totals", "outbox"):
            await conn.execute(text(f"DELETE FROM {table}"))


def snapshot(source: str, target: Path) -> None:
    """A consistent copy of a SQLite database (WAL included), for the footprint section."""
    target.unlink(missing_ok=True)
    src = sqlite3.connect(source)
    dst = sqlite3.connect(str(target))
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


async def tally_tick(games: list[Game], engine: AsyncEngine, tallies: int, fresh: int
                     ) -> float:
    began = now()
    done = sum(await asyncio.gather(*(g.run_due(TALLY_AT) for g in games)))
    took = now() - began
    check(await counts(engine, tallies), tallies, fresh, done)
    if await games[0].run_due(TALLY_AT) != 0:
        raise RuntimeError("bench: a second tick found work the first one left")
    return took


async def measure(settings: Settings, backend: str) -> DueResult:
    sizes = settings.sizes
    url = await fresh_database(settings, backend, "due")
    app = await open_app(url, SimClock(START))
    result = DueResult()
    try:
        began = now()
        result.due_rows = await load(app.engine, sizes.due_crews, sizes.due_tallies)
        result.load = now() - began
        if backend == SQLITE:
            await asyncio.to_thread(snapshot, url, settings.workdir / "crews.sqlite3")
        game = app.game
        await game.run_due(START)  # warm
        for _ in range(sizes.idle_ticks):
            began = now()
            done = await game.run_due(START)
            result.idle.append(now() - began)
            if done:
                raise RuntimeError(f"bench: {done} items were due in the idle tick")
        tallies = sizes.due_tallies
        for repeat in range(sizes.tally_repeats):
            if repeat:
                await rearm(app.engine, tallies)
            result.tallies.append(await tally_tick([game], app.engine, tallies, tallies))
        # Two workers racing over the same due work: still each tally exactly once.
        result.raced = min(tallies, RACED)
        await rearm(app.engine, result.raced)
        rival = Game(game.uow, game.clock)
        result.concurrent = await tally_tick([game, rival], app.engine, tallies, result.raced)
        return result
    finally:
        await app.close()


async def run(settings: Settings, report: Report) -> None:
    sizes = settings.sizes
    for backend in settings.backends:
        r = await measure(settings, backend)
        crews = f"{sizes.due_crews:,} crews"
        idle = percentile(r.idle, 50)
        report.add(Row(
            key=f"due.idle.{backend}", section=SECTION,
            measure=f"tick, nothing due ({crews})", backend=backend, result=ms(idle),
            p50=ms(idle), p99=ms(percentile(r.idle, 99)), target="< 50 ms",
            verdict=verdict(idle < IDLE_TARGET),
            note=f"n={len(r.idle)}; {r.due_rows:,} due_work rows; bulk load {r.load:.1f} s"))
        tally = median(r.tallies)
        limit = TALLY_TARGET * sizes.due_tallies / 1_000  # the 10 s per 1,000
        report.add(Row(
            key=f"due.tallies.{backend}", section=SECTION,
            measure=f"tick, {sizes.due_tallies:,} tallies due ({crews})", backend=backend,
            result=f"{tally:.2f} s", p50=f"{tally / sizes.due_tallies * 1000:.1f} ms/tally",
            vs=f"{sizes.due_tallies / tally:,.0f} tallies/s",
            target=f"< {limit:g} s, each once", verdict=verdict(tally < limit),
            note=f"{'median of ' + str(len(r.tallies)) if len(r.tallies) > 1 else 'one run'}; "
                 "each exactly once, counted in due_work, meetings, ledger and outbox; "
                 f"{r.raced} re-armed for 2 racing workers: {r.concurrent:.2f} s, "
                 "also exactly once"))
