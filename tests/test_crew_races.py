"""One crew at a time across processes (PostgreSQL): two engines on one database, as two bot
processes, race on the same crew 200 times per race; every run ends in an outcome GAME.md
allows, read back from the ledger and the tables (reliability/races.py)."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from reliability.races import BAD, SCENARIOS, open_side
from storage.engine import empty_public_schema
from tests.conftest import PG_URL

RUNS = 200
ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="the races are PostgreSQL's: SQLite's writers take turns by design "
                       "(CREWBOT_TEST_DATABASE_URL is not set)")

# The outcomes each race must show at least once in 200 runs, so that a race never run as a
# race (one side always first) fails instead of passing; the two-command races have one.
BOTH_WAYS = {"circle": {"reaction first", "closing first"}, "here": {"/here first", "tally first"}}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_two_processes_racing_on_one_crew_end_in_an_allowed_state(scenario):
    await empty_public_schema(PG_URL)
    a, b = await open_side(PG_URL), await open_side(PG_URL)
    try:
        race = await SCENARIOS[scenario](a, b, RUNS, random.Random(scenario))
    finally:
        await a.close()
        await b.close()
    assert sum(race.outcomes.values()) == RUNS
    assert race.outcomes[BAD] == 0, race.bad[:5]
    assert BOTH_WAYS.get(scenario, set()) <= set(race.outcomes), race.outcomes


def test_the_benchmark_runs_quick_and_the_lock_holds(tmp_path):
    """bench/scaling_crewlock.py --quick: one markdown section; with the lock no run ends in a
    state GAME.md forbids (its exit status says so)."""
    done = subprocess.run([sys.executable, "-m", "bench.scaling_crewlock", "--quick",
                           "--database", PG_URL], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("## Races on one crew, with the crew lock and without")
    held = [line for line in done.stdout.splitlines() if "| held |" in line]
    assert len(held) == len(SCENARIOS) and all("| 20 | 0 |" in line for line in held), held
