"""The webhook scaling benchmark runs end to end (--quick) and its invariants hold."""

from __future__ import annotations

import asyncio
import sys

import pytest
from sqlalchemy.engine import make_url

from bench.common import ensure_pg_database
from tests.conftest import PG_URL
from tests.processes import ROOT, clean_env


@pytest.mark.skipif(not PG_URL, reason="CREWBOT_TEST_DATABASE_URL is not set: the benchmark "
                    "runs several processes on one PostgreSQL")
async def test_the_quick_webhook_benchmark_completes_with_nothing_lost_or_doubled():
    # The benchmark empties its database and refuses the server's own ones (CI's is `test`):
    # a database of its own on the same server.
    url = make_url(PG_URL).set(database="crewbot_bench_webhooks").render_as_string(
        hide_password=False)
    assert await ensure_pg_database(url) is not None, "PostgreSQL did not answer"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.scaling_webhooks", "--quick", "--database", url,
        cwd=ROOT, env=clean_env(), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 600)
    assert proc.returncode == 0, err.decode()[-3000:]
    section = out.decode()
    assert section.startswith("## ")
    rows = [line for line in section.splitlines() if line.startswith("| ") and "|---" not in line]
    assert len(rows) == 3  # the header and one row per process count
    assert "NO" not in section
    assert "exactly once: yes" in section and "GAME.md's awards: yes" in section
