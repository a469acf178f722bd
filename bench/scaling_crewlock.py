"""One crew at a time across processes: the races of reliability/races.py with and without
the crew lock, printed as one markdown section.

    .venv/bin/python -m bench.scaling_crewlock [--quick] [--runs N] [--database URL]

Two engines on one PostgreSQL (two bot processes' worth) race on the same crew, many crews
per run; each run's end is read from the tables and judged against GAME.md. Then the same
races with the lock left off (UnitOfWork(hold_crews=False)), to show what it prevents. The
database (CREWBOT_TEST_DATABASE_URL or --database) is emptied first."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time

from reliability.races import BAD, SCENARIOS, open_side
from storage.engine import empty_public_schema


async def measure(url: str, runs: int, hold: bool) -> list[tuple[str, dict[str, int], float]]:
    await empty_public_schema(url)
    a, b = await open_side(url, hold), await open_side(url, hold)
    rows = []
    try:
        for name, scenario in SCENARIOS.items():
            started = time.perf_counter()
            race = await scenario(a, b, runs, random.Random(name))
            rows.append((race.name, dict(race.outcomes), time.perf_counter() - started))
    finally:
        await a.close()
        await b.close()
    return rows


def section(runs: int, held: list, unheld: list, load: tuple[float, ...]) -> str:
    lines = [
        "## Races on one crew, with the crew lock and without",
        "",
        f"Each race {runs} times on PostgreSQL: two engines on one database (two bot "
        "processes' worth), many crews at once, each crew's two sides started together; each "
        "run's end read from the ledger and the tables (`reliability/races.py`). Then the same "
        "races with the crew lock off (`UnitOfWork(hold_crews=False)`). Reproduce with "
        "`python -m bench.scaling_crewlock`.",
        "",
        "| Race | Lock | Runs | Not allowed | Allowed outcomes | Seconds |",
        "|---|---|---|---|---|---|",
    ]
    for lock, rows in (("held", held), ("off", unheld)):
        for name, outcomes, seconds in rows:
            allowed = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()) if k != BAD)
            lines.append(f"| {name} | {lock} | {sum(outcomes.values())} | "
                         f"{outcomes.get(BAD, 0)} | {allowed} | {seconds:.1f} |")
    lines += [
        "",
        "Without the lock, the due-work races end in states GAME.md forbids: a confirmation "
        "recorded in a circle closed as incomplete (nobody scored), or a member marked present "
        "and charged as absent. The two-command races end correctly either way: unique keys "
        "and conditional writes already decide them (the loser's transaction is retried); "
        "with the lock it waits instead. The seconds include setting the crews up, on a "
        f"shared 2-core machine (load average {load[0]:.2f} at the end): they move between runs.",
        "",
    ]
    return "\n".join(lines)


async def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.scaling_crewlock", description=__doc__)
    p.add_argument("--quick", action="store_true", help="20 runs per race: seconds")
    p.add_argument("--runs", type=int, help="runs per race (default 200, --quick 20)")
    p.add_argument("--database", default=os.environ.get("CREWBOT_TEST_DATABASE_URL", ""),
                   help="PostgreSQL URL (default: CREWBOT_TEST_DATABASE_URL); emptied first")
    args = p.parse_args(argv)
    if not args.database.startswith("postgresql"):
        print("This benchmark needs PostgreSQL: set CREWBOT_TEST_DATABASE_URL or pass "
              "--database postgresql+asyncpg://...", file=sys.stderr)
        return 2
    runs = args.runs or (20 if args.quick else 200)
    held = await measure(args.database, runs, hold=True)
    unheld = await measure(args.database, runs, hold=False)
    print(section(runs, held, unheld, os.getloadavg()))
    return 1 if any(outcomes.get(BAD) for _, outcomes, _ in held) else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
