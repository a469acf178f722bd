"""Section 5: resident memory and start-up time, each measured in a fresh Python process."""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # before the heavy imports, for the child's own import time

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import sqlite3  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from bench.common import (  # noqa: E402
    SQLITE,
    START,
    Report,
    Row,
    Settings,
    median,
    ms,
    now,
    rss_mb,
    verdict,
)

SECTION = "5. Footprint"
RSS_TARGET = 150.0
STARTUP_TARGET = 2.0
TOUCHED = 100  # crews that get a command, and tallies run, in the loaded process


async def child_startup(path: str) -> dict[str, Any]:
    from bot.app import open_app
    from bot.clock import SimClock

    imported = time.perf_counter()
    began = time.perf_counter()
    app = await open_app(path, SimClock(START))
    opened = time.perf_counter() - began
    rss, peak = rss_mb()
    await app.close()
    return {"imports": imported - STARTED, "open_app": opened, "rss": rss, "peak": peak}


async def child_loaded(path: str) -> dict[str, Any]:
    from sqlalchemy import text

    from bench.due import TALLY_AT
    from bot.app import open_app
    from bot.clock import SimClock
    from bot.commands.events import Actor, Chat, CommandReceived

    app = await open_app(path, SimClock(START))
    idle = await app.game.run_due(START)
    rss_idle, _ = rss_mb()
    tallied = await app.game.run_due(TALLY_AT)
    async with app.engine.connect() as conn:
        crews = int(await conn.scalar(text("SELECT COUNT(*) FROM crews")) or 0)
    for i in range(1, min(TOUCHED, crews) + 1):
        chat = Chat("telegram", f"-100{i:010d}", f"Crew {i}")
        await app.game.handle(CommandReceived(chat, Actor(f"{i}-0", "Member 0", is_admin=True),
                                              "/leaderboard", message_id="1",
                                              event_id=f"footprint:{i}"))
    rss, peak = rss_mb()
    await app.close()
    return {"idle_done": idle, "tallied": tallied, "rss_idle": rss_idle, "rss": rss,
            "peak": peak, "touched": min(TOUCHED, crews)}


def prepare_loaded(snapshot: Path, target: Path) -> int:
    """A copy of the crews database where only the first TOUCHED tallies fall due."""
    source = sqlite3.connect(str(snapshot))
    copy = sqlite3.connect(str(target))
    try:
        source.backup(copy)
        copy.execute("UPDATE due_work SET due_at = '2030-01-01 00:00:00.000000' WHERE kind = "
                     "'meeting_tally' AND done_at IS NULL AND crew_id = subject_id "
                     "AND subject_id > ?", (TOUCHED,))
        copy.commit()
        return int(copy.execute("SELECT COUNT(*) FROM crews").fetchone()[0])
    finally:
        copy.close()
        source.close()


async def spawn(*args: str) -> tuple[dict[str, Any], float]:
    """Runs this module as a child; returns its JSON answer and the wall time to get it."""
    began = now()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.footprint", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    took = now() - began
    if process.returncode != 0:
        raise RuntimeError(f"bench: footprint child {args} failed: {err.decode()[-2000:]}")
    return json.loads(out.decode().strip().splitlines()[-1]), took


async def run(settings: Settings, report: Report) -> None:
    starts: list[dict[str, Any]] = []
    walls: list[float] = []
    for i in range(settings.sizes.startups):
        path = settings.workdir / f"startup-{i}.sqlite3"
        result, wall = await spawn("startup", str(path))
        starts.append(result)
        walls.append(wall)
    rss_idle = median(s["rss"] for s in starts)
    report.add(Row(
        key="footprint.rss_idle", section=SECTION, measure="RSS idle, after open_app",
        backend=SQLITE, result=f"{rss_idle:.1f} MiB", target="< 150 MB",
        verdict=verdict(rss_idle < RSS_TARGET),
        note=f"median of {len(starts)} processes; peak {median(s['peak'] for s in starts):.1f}"
             " MiB"))
    snapshot = settings.workdir / "crews.sqlite3"
    label = f"RSS with {settings.sizes.due_crews:,} crews (schedules in due_work)"
    if snapshot.exists():
        loaded = []
        crews = 0
        for i in range(settings.sizes.loaded_runs):
            target = settings.workdir / f"loaded-{i}.sqlite3"
            crews = await asyncio.to_thread(prepare_loaded, snapshot, target)
            loaded.append((await spawn("loaded", str(target)))[0])
        rss = median(x["rss"] for x in loaded)
        report.add(Row(
            key="footprint.rss_crews", section=SECTION, measure=label, backend=SQLITE,
            result=f"{rss:.1f} MiB", target="< 150 MB", verdict=verdict(rss < RSS_TARGET),
            note=f"{crews:,} crews; after an idle tick "
                 f"({median(x['rss_idle'] for x in loaded):.1f} MiB), {loaded[0]['tallied']} "
                 f"tallies and {loaded[0]['touched']} commands; peak "
                 f"{median(x['peak'] for x in loaded):.1f} MiB; median of {len(loaded)}"))
    else:
        report.add(Row(key="footprint.rss_crews", section=SECTION, measure=label,
                       backend=SQLITE, result="skipped (section 3 made no database)",
                       target="< 150 MB", verdict="-"))
    opened = median(s["open_app"] for s in starts)
    report.add(Row(
        key="footprint.startup", section=SECTION,
        measure="start-up: open_app + migrations, empty SQLite file", backend=SQLITE,
        result=ms(opened), target="< 2 s", verdict=verdict(opened < STARTUP_TARGET),
        note=f"median of {len(starts)} fresh processes"))
    wall = median(walls)
    report.add(Row(
        key="footprint.launch", section=SECTION,
        measure="start-up: process launch to ready (imports too)", backend=SQLITE,
        result=ms(wall), target="< 2 s", verdict=verdict(wall < STARTUP_TARGET),
        note=f"imports {ms(median(s['imports'] for s in starts))}; median of {len(walls)}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=("startup", "loaded"))
    parser.add_argument("path")
    args = parser.parse_args()
    work = child_startup if args.mode == "startup" else child_loaded
    print(json.dumps(asyncio.run(work(args.path))), flush=True)


if __name__ == "__main__":
    main()
