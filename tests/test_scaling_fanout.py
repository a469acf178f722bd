"""The fan-out benchmark's quick run: two real `crewbot run` processes on one PostgreSQL send
every queued post and every reply once, with no 429 from the fake's Telegram limits."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_URL

ROOT = Path(__file__).resolve().parent.parent


def figure(output: str, measure: str) -> str:
    found = re.search(rf"^\| {re.escape(measure)} \| ([^|]+) \|", output, re.MULTILINE)
    assert found, f"no row {measure!r} in:\n{output}"
    return found.group(1).strip()


def test_two_processes_fan_out_every_message_once_within_the_limits() -> None:
    if not PG_URL:
        if os.environ.get("CREWBOT_REQUIRE_POSTGRES"):
            pytest.fail("CREWBOT_REQUIRE_POSTGRES is set but CREWBOT_TEST_DATABASE_URL is not")
        pytest.skip("CREWBOT_TEST_DATABASE_URL is not set: the processes share PostgreSQL")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREWBOT_")}
    done = subprocess.run([sys.executable, "-m", "bench.scaling_fanout", "--quick",
                           "--database", PG_URL], capture_output=True, text=True, cwd=ROOT,
                          env={**env, "PYTHONPATH": str(ROOT)}, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.startswith("## ")
    sent, expected = figure(out, "messages sent / expected").split(" / ")
    assert sent == expected and int(sent) > 0
    assert figure(out, "duplicates") == "0"
    assert figure(out, "429 Too Many Requests") == "0"
    assert figure(out, "posts left in the outbox") == "0"
