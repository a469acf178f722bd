"""The README's first command: `python3 dev.py run` with no token opens the console and plays."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STAMP = ROOT / ".venv" / ".crewbot-installed"


@pytest.mark.skipif(not STAMP.exists(), reason="dev.py has not set up .venv here yet "
                    "(`python3 dev.py test` does it)")
def test_dev_py_run_opens_the_console_without_tokens(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREWBOT_")}
    env["CREWBOT_DATABASE_URL"] = str(tmp_path / "quick.sqlite3")
    # dev.py runs in the clone, where a developer's own .env may set tokens: these win over it.
    env["CREWBOT_TELEGRAM_TOKEN"] = env["CREWBOT_DISCORD_TOKEN"] = ""
    result = subprocess.run(
        [sys.executable, str(ROOT / "dev.py"), "run"], input="alice: /checkin hello\n",
        capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "#1 alice: /checkin hello"
    assert lines[1].startswith("#2 bot: alice checked in")
    assert (tmp_path / "quick.sqlite3").exists()
