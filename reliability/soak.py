"""The soak run: `python -m reliability.soak --minutes N --rounds N [--db URL]` plays random games
in process, through Telegram delivering everything twice, through crashes, with several processes
on one database, fuzzes bad input and builds the authorisation matrix; it prints its figures and
writes them into docs/RELIABILITY.md."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.app import App, open_app
from bot.clock import SimClock
from reliability import authz
from reliability.check import Census, census, differences
from reliability.crash import CrashRun
from reliability.drive import play_in_process
from reliability.scenario import Game, Step
from storage.engine import empty_public_schema, redacted

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DOC = ROOT / "docs" / "RELIABILITY.md"


@dataclass
class Section:
    name: str
    runs: int = 0
    seconds: float = 0.0
    figures: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, **figures: int) -> None:
        for key, value in figures.items():
            self.figures[key] = self.figures.get(key, 0) + value

    def row(self) -> str:
        shown = ", ".join(f"{v:,} {k}" for k, v in self.figures.items())
        verdict = "OK" if not self.problems else f"FAILED ({len(self.problems)} problems)"
        return f"| {self.name} | {self.runs} | {shown} | {self.seconds:.1f} s | {verdict} |"


class Databases:
    """Fresh, empty databases: SQLite files in a temporary folder, or the --db PostgreSQL
    database emptied (DROP SCHEMA public) before each use."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        self.folder = tempfile.TemporaryDirectory(prefix="crewbot-soak-")
        self.count = 0

    @property
    def label(self) -> str:
        return redacted(self.url) if self.url else "SQLite (temporary files)"

    async def fresh(self) -> str:
        self.count += 1
        if not self.url:
            return str(Path(self.folder.name) / f"soak-{self.count}.sqlite3")
        await empty_public_schema(self.url)
        return self.url


def judged(seed: int, game: Game, found: Census, crew: str, unanswered: list[str]
           ) -> list[str]:
    """What a run got wrong: the census's own problems, the ledger against the model, and
    every action that got no answer."""
    return [f"seed {seed}: {p}" for p in [
        *found.problems, *differences(game.model.ledger(), found.crew(crew)),
        *(f"unanswered: {line}" for line in unanswered)]]


async def games(db: Databases, seed: int, section: Section) -> None:
    game = Game(seed, START)
    steps = game.play(400)
    url = await db.fresh()
    driver = await play_in_process(url, steps, START)
    found = await census(url)
    section.add(steps=len(steps), **{"ledger rows checked": found.rows})
    section.problems += judged(seed, game, found, "crew", driver.unanswered)


async def through(fake: Any, driver_for: Callable[[Any, App, SimClock], Any], url: str,
                  steps: list[Step], seed: int, section: Section) -> Any:
    """Plays `steps` on a fresh app through a platform fake and the driver made for it; the
    adapter's own errors are problems too. Returns the driver, for its counts."""
    clock = SimClock(START)
    app = await open_app(url, clock)
    try:
        async with fake as remote:
            async with driver_for(remote, app, clock) as driver:
                for step in steps:
                    await driver.run(step)
            section.problems += [f"seed {seed}: adapter error {e!r}" for e in driver.adapter.errors]
    finally:
        await app.close()
    return driver


async def redelivery(db: Databases, seed: int, section: Section) -> None:
    from reliability.platforms import CREW, TelegramDriver
    from tests.fakes.telegram_api import FakeTelegram

    game = Game(seed, START)
    steps = game.play(250)
    url = await db.fresh()
    driver = await through(FakeTelegram(bot_username="crewbot"), lambda tg, app, clock:
                           TelegramDriver(tg, app, clock, twice=True, replay_every=10,
                                          seed=seed), url, steps, seed, section)
    found = await census(url)
    section.add(steps=len(steps), updates=len(driver.pushed), redelivered=driver.redelivered,
                **{"ledger rows checked": found.rows})
    section.problems += judged(seed, game, found, str(CREW), driver.unanswered)


async def discord_twice(db: Databases, seed: int, section: Section) -> None:
    from reliability.platforms import CHANNEL, DiscordDriver
    from tests.fakes.discord_api import FakeDiscord

    game = Game(seed, START)
    steps = game.play(200)
    url = await db.fresh()
    driver = await through(FakeDiscord(application_id=1300000000000000001),
                           lambda dc, app, clock: DiscordDriver(dc, app, clock, twice=True),
                           url, steps, seed, section)
    found = await census(url)
    section.add(steps=len(steps), **{"events dispatched": driver.dispatched,
                                     "ledger rows checked": found.rows})
    section.problems += judged(seed, game, found, str(CHANNEL), driver.unanswered)


async def crashes(db: Databases, seed: int, section: Section, kills: int) -> None:
    game = Game(seed, START)
    steps = game.play(max(120, kills * 6))
    url = await db.fresh()
    run = CrashRun(url, steps, START, kills=kills, seed=seed, max_delay=0.1)
    report = await run.run()
    found = await census(url)
    section.add(steps=len(steps), kills=report.kills, restarts=report.restarts,
                **{"in-flight found done": report.found_done, "in-flight sent again":
                   report.retried, "ledger rows checked": found.rows})
    section.problems += [f"seed {seed}: {p}" for p in [
        *found.problems, *differences(run.model.ledger(), found.crew("crew")),
        *(f"unanswered: {line}" for line in report.unanswered)]]


async def concurrency(db: Databases, seed: int, section: Section) -> None:
    from tests.conftest import Transcript
    from tests.test_due_claims import ROOM, run_together
    from tests.test_due_claims import census as due_census
    from tests.test_reliability_concurrency import CONFLICTS, DUE_AT, ROOMS, expected_ledger

    for processes in (2, 4):
        url = await db.fresh()
        app = await open_app(url, SimClock(START))
        try:
            play = Transcript(app, SimClock(START))
            for room in ROOMS:
                await play(f":room {room}\n{ROOM}\n{CONFLICTS}")
        finally:
            await app.close()
        done = await run_together(url, processes, DUE_AT, open_first=True)
        found = await due_census(url)
        section.add(processes=processes, **{"due items done": sum(done)})
        if sum(done) != 6 * len(ROOMS) or found["ledger"] != expected_ledger() or (
                found["posts"] != 8 * len(ROOMS)):
            section.problems.append(f"{processes} processes: {done} {found}")


def fuzz(examples: int, db: Databases, section: Section) -> None:
    env = {**os.environ, "RELIABILITY_FUZZ_EXAMPLES": str(examples)}
    if db.url:
        env["CREWBOT_TEST_DATABASE_URL"] = db.url
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/test_reliability_fuzz.py", "-k", "sqlite or rendering"
                           if not db.url else "postgres or rendering"],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    passed = re.search(r"(\d+) passed", done.stdout)
    section.add(properties=int(passed[1]) if passed else 0, **{"examples each": examples})
    if done.returncode != 0:
        section.problems.append(done.stdout[-3000:])


async def matrix(db: Databases, section: Section) -> str:
    url = await db.fresh()
    app = await open_app(url, SimClock(START))
    try:
        rows = await authz.matrix(app, START)
    finally:
        await app.close()
    section.add(actions=len(rows), attempts=sum(c is not None for _, cells in rows for c in cells))
    section.problems += authz.mismatches(rows)
    return authz.table(rows)


async def timed(section: Section, work: Callable[[], Awaitable[object]]) -> None:
    began = time.monotonic()
    try:
        await work()
    except Exception as error:  # a failed round is a finding, reported with the others
        section.problems.append(f"{type(error).__name__}: {error}"[:2000])
    section.runs += 1
    section.seconds += time.monotonic() - began


async def soak(args: argparse.Namespace) -> tuple[list[Section], str]:
    db = Databases(args.db)
    sections = {name: Section(name) for name in (
        "random games in process (400 steps)", "Telegram, every update twice + replays",
        "Discord, every event twice",
        f"SIGKILL crashes ({args.kills} a run)", "2 and 4 processes on due work",
        f"hypothesis fuzzing ({args.examples} examples)", "authorisation matrix")}
    s = list(sections.values())
    table = ""
    if not args.authz_only:
        deadline = time.monotonic() + args.minutes * 60
        for round_no in range(args.rounds):
            seed = args.seed + round_no
            await timed(s[0], lambda seed=seed: games(db, seed, s[0]))
            await timed(s[1], lambda seed=seed: redelivery(db, seed, s[1]))
            await timed(s[2], lambda seed=seed: discord_twice(db, seed, s[2]))
            await timed(s[3], lambda seed=seed: crashes(db, seed, s[3], args.kills))
            await timed(s[4], lambda seed=seed: concurrency(db, seed, s[4]))
            print(f"round {round_no + 1}: " + "; ".join(
                f"{x.name}: {'OK' if not x.problems else 'FAILED'}" for x in s[:5]), flush=True)
            if time.monotonic() > deadline:
                break
        await timed(s[5], lambda: asyncio.to_thread(fuzz, args.examples, db, s[5]))

    async def build() -> None:
        nonlocal table
        table = await matrix(db, s[6])

    await timed(s[6], build)
    return (s if not args.authz_only else [s[6]]), table


def report(sections: list[Section], command: str, label: str) -> str:
    lines = [f"Command: `{command}`  ",
             f"Database: {label}; run finished {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on "
             f"{os.cpu_count()} CPUs.", "",
             "| check | runs | figures | time | result |", "|---|---|---|---|---|"]
    lines += [x.row() for x in sections]
    return "\n".join(lines)


def write(doc: Path, marker: str, body: str) -> None:
    old = doc.read_text()
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if not pattern.search(old):
        raise SystemExit(f"{doc} has no {begin} ... {end} section")
    doc.write_text(pattern.sub(lambda _: f"{begin}\n{body}\n{end}", old))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m reliability.soak", description=__doc__)
    p.add_argument("--minutes", type=float, default=5, help="stop starting rounds after this")
    p.add_argument("--rounds", type=int, default=3, help="at most this many rounds")
    p.add_argument("--db", help="a PostgreSQL URL to use (everything in it is dropped); "
                   "default: temporary SQLite files")
    p.add_argument("--kills", type=int, default=30, help="SIGKILLs per crash run")
    p.add_argument("--examples", type=int, default=500, help="hypothesis examples a property")
    p.add_argument("--seed", type=int, default=1000)
    p.add_argument("--out", help="write the figures (and the matrix) into this markdown file, "
                   "between its <!-- soak:NAME:begin/end --> markers")
    p.add_argument("--authz-only", action="store_true", help="only the authorisation matrix")
    return p


def main() -> int:
    args = parser().parse_args()
    if args.out and not Path(args.out).is_file():  # checked first: a soak run takes minutes
        raise SystemExit(f"--out {args.out}: no such file; give docs/RELIABILITY.md (its marked "
                         "sections are rewritten) or leave --out off to only print")
    command = "python -m reliability.soak " + shlex.join(
        a if not (args.db and a == args.db) else redacted(args.db) for a in sys.argv[1:])
    sections, table = asyncio.run(soak(args))
    db_label = Databases(args.db).label
    text_out = report(sections, command, db_label)
    print(text_out)
    print()
    print(table)
    for x in sections:
        for problem in x.problems[:20]:
            print(f"PROBLEM [{x.name}]: {problem}")
    if args.out:
        doc = Path(args.out)
        key = "postgres" if args.db else "sqlite"
        if not args.authz_only:
            write(doc, f"soak:{key}", text_out)
        write(doc, "soak:authz", f"Generated by `{command}`.\n\n{table}")
    return 1 if any(x.problems for x in sections) else 0


if __name__ == "__main__":
    sys.exit(main())
