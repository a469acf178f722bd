"""The benchmark harness in smoke mode (SQLite only, no fan-out): it runs and prints every row."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.common import SMOKE
from bench.history import size_label

ROOT = Path(__file__).resolve().parent.parent


def expected_rows() -> list[tuple[str, str, str]]:
    """(section, measure, database) of every row the smoke run must print; no figure checked."""
    rows: list[tuple[str, str, str]] = []
    for db in ("SQLite", "PostgreSQL"):
        rows.append(("1. Game actions", "floor: insert+commit of 1 row", db))
        rows += [("1. Game actions", action, db)
                 for action in ("/checkin", "reaction (listening)", "/ask", "/offer", "/thanks",
                                "/here", "/leaderboard")]
        rows += [("2. History", f"{command} at {size_label(size)} ledger rows", db)
                 for command in ("/leaderboard", "/score") for size in SMOKE.history]
        crews = f"{SMOKE.due_crews:,} crews"
        rows += [("3. Due work", f"tick, nothing due ({crews})", db),
                 ("3. Due work", f"tick, {SMOKE.due_tallies:,} tallies due ({crews})", db)]
    rows += [("4. Telegram", measure, "SQLite") for measure in (
        "updates/s, real PTB vs fake Bot API (no limits)",
        "fan-out vs 30/s + 20/min/group (window fake)",
        "fan-out vs 30/s + 20/min/group (bucket fake)")]
    rows += [("5. Footprint", measure, "SQLite") for measure in (
        "RSS idle, after open_app",
        f"RSS with {SMOKE.due_crews:,} crews (schedules in due_work)",
        "start-up: open_app + migrations, empty SQLite file",
        "start-up: process launch to ready (imports too)")]
    return rows


def test_the_harness_runs_in_smoke_mode_and_prints_every_row(tmp_path):
    out = tmp_path / "PERFORMANCE.md"
    env = {**os.environ, "CREWBOT_BENCH_SMOKE": "1"}
    done = subprocess.run([sys.executable, "-m", "bench.run", "--smoke", "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    missing = [row for row in expected_rows() if not any(
        line.startswith(row[0]) and f"  {row[1]}  " in line and f"  {row[2]}  " in line
        for line in lines)]
    assert missing == [], done.stdout
    assert "skipped (--smoke)" in done.stdout  # PostgreSQL and the fan-out, said so
    assert out.exists() and "## Results" in out.read_text()
    # The whole document, hand-written parts included (from bench/notes/), even in a new file.
    assert "## What was slow and what fixed it" in out.read_text()
    assert "## Before any fix" in out.read_text()
