"""Several `crewbot run` processes on one PostgreSQL: exactly one long-polls Telegram, a standby
takes over within 10 s of the poller's death, and play goes on with nothing lost or doubled."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from bench.failover_play import Crowd, Fleet, audit
from bot.adapters.telegram_poller import PollerElection
from storage.engine import database_url, make_engine
from storage.leader_lock import LeaderLock, poller_key
from tests.conftest import emptied_postgres
from tests.fakes.telegram_api import FakeTelegram
from tests.private_postgres import unavailable
from tests.processes import ROOT

BOT, OTHER_BOT = 7000000001, 7000000002


@pytest.fixture
async def pg_url() -> str:
    return await emptied_postgres(
        "CREWBOT_TEST_DATABASE_URL is not set; the election needs PostgreSQL")


async def terminate_lock_holders(url: str) -> int:
    """Ends the session holding this database's poller lock of BOT, as a server restart or a
    network cut would; returns how many (advisory locks belong to one database: other databases'
    sessions on the server are never touched)."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            ended = await conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND classid = (:c)::int::oid AND objid = (:o)::int::oid AND granted"),
                {"c": poller_key(BOT)[0], "o": poller_key(BOT)[1]})
            return len(ended.all())
    finally:
        await engine.dispose()


def test_each_bot_has_its_own_lock_key():
    assert poller_key(BOT) == poller_key(BOT)
    assert poller_key(BOT) != poller_key(OTHER_BOT)
    assert all(-2**31 <= k < 2**31 for k in poller_key(BOT))


async def test_one_holder_per_bot_and_the_lock_is_freed_with_its_connection(pg_url):
    first, second = (LeaderLock(database_url(pg_url), poller_key(BOT)) for _ in range(2))
    other_bot = LeaderLock(database_url(pg_url), poller_key(OTHER_BOT))
    try:
        assert await first.try_acquire()
        assert not await second.try_acquire()
        assert await other_bot.try_acquire()  # another bot on the same database is not blocked
        assert await first.still_held()
        assert await terminate_lock_holders(pg_url) >= 1  # the server drops first's session
        assert not await first.still_held()
        assert await second.try_acquire()
    finally:
        for lock in (first, second, other_bot):
            await lock.close()


async def test_never_two_pollers_when_the_pollers_connection_is_cut(pg_url):
    """Two elections in one loop with short timings: the poller whose lock connection is ended
    stops, the other starts, and at no moment do both poll."""
    polling: set[str] = set()
    overlaps: list[set[str]] = []
    started: list[str] = []

    def callbacks(name: str):
        async def start() -> None:
            polling.add(name)
            started.append(name)
            if len(polling) > 1:
                overlaps.append(set(polling))

        async def stop() -> None:
            polling.discard(name)

        return start, stop

    elections = {name: PollerElection(LeaderLock(database_url(pg_url), poller_key(BOT)),
                                      retry=0.1, check=0.1, takeover_delay=0.5)
                 for name in ("a", "b")}
    for name, election in elections.items():
        election.begin(*callbacks(name))
    try:
        async with asyncio.timeout(10):
            while not started:
                await asyncio.sleep(0.05)  # the elections run in their own tasks
        first = started[0]
        await terminate_lock_holders(pg_url)
        async with asyncio.timeout(10):
            while len(started) < 2:
                await asyncio.sleep(0.05)
        assert first not in polling and len(polling) == 1
        assert overlaps == []
    finally:
        for name, election in elections.items():
            await election.stop(callbacks(name)[1])


async def test_a_poller_that_cannot_reach_telegram_steps_down(pg_url):
    """A poller whose polls keep failing (Telegram out of its reach, not the others') gives the
    lock up and lets another process poll."""
    polling: list[str] = []
    events: list[str] = []

    def callbacks(name: str):
        async def start() -> None:
            polling.append(name)
            events.append(f"start {name}")

        async def stop() -> None:
            if name in polling:
                polling.remove(name)
                events.append(f"stop {name}")

        return start, stop

    reachable = {"a": False, "b": True}
    elections = {name: PollerElection(LeaderLock(database_url(pg_url), poller_key(BOT)),
                                      retry=0.1, check=0.1, takeover_delay=0.3)
                 for name in ("a", "b")}
    elections["a"].begin(*callbacks("a"), lambda: reachable["a"])
    try:
        async with asyncio.timeout(10):
            while "start a" not in events:
                await asyncio.sleep(0.05)  # the election runs in its own task
        elections["b"].begin(*callbacks("b"), lambda: reachable["b"])
        async with asyncio.timeout(10):
            while polling != ["b"]:
                await asyncio.sleep(0.05)
        assert events[:3] == ["start a", "stop a", "start b"]
    finally:
        for name, election in elections.items():
            await election.stop(callbacks(name)[1])


async def test_two_processes_poll_once_and_a_standby_takes_over_after_sigkill(pg_url, tmp_path):
    async with FakeTelegram() as tg:
        fleet = Fleet(tg, pg_url, tmp_path)
        try:
            bots = [await fleet.add(), await fleet.add()]
            bodies = [await fleet.ready(bot) for bot in bots]  # a standby is ready too
            poller = await fleet.poller()
            standby = next(bot for bot in bots if bot is not poller)
            loop = asyncio.get_running_loop()
            since = loop.time()
            assert await fleet.role(standby) == "standby"
            assert all(body["checks"]["telegram"]["ok"] for body in bodies)

            crowd = Crowd(tg, crews=3, members=4)
            crowd.begin(0.1)
            await asyncio.sleep(2.0)
            await crowd.end(settle=10)
            assert tg.pollers(since) == {poller.name}  # exactly one process called getUpdates
            assert tg.conflicts == 0

            killed_at = loop.time()
            fleet.kill(poller)
            taken_over = await fleet.next_poll(poller.name, killed_at, timeout=20)
            assert taken_over - killed_at < 10
            assert await fleet.role(standby) == "polling"

            before = len(crowd.asks)
            crowd.begin(0.1)
            await asyncio.sleep(2.0)
            await crowd.end(settle=10)
            assert len(crowd.asks) > before
            found = await audit(pg_url, crowd.asks)
            assert found.lost == 0 and found.doubled == 0, found
            assert found.acknowledged == found.asks, found  # none was in flight at the kill
            assert found.ledger_points == found.expected_points == 5 * found.asks
            assert tg.conflicts == 0
        finally:
            await fleet.close()
    logs = {bot.name: (tmp_path / f"{bot.name}.log").read_text() for bot in bots}
    assert "Telegram: this process is now the poller" in logs[poller.name]
    assert "Telegram: standing by" in logs[standby.name]
    assert "Telegram: this process is now the poller" in logs[standby.name]


async def test_on_sqlite_the_one_process_polls_without_an_election(tmp_path):
    async with FakeTelegram() as tg:
        fleet = Fleet(tg, str(tmp_path / "crew.sqlite3"), tmp_path)
        try:
            bot = await fleet.add()
            body = await fleet.ready(bot)
            assert body["roles"] == {"telegram": "polling"}
            await tg.wait_call("getUpdates")
        finally:
            await fleet.close()
    assert "standing by" not in (tmp_path / f"{bot.name}.log").read_text()


def test_failover_benchmark_quick_run_keeps_every_acknowledged_action(pg_url):
    """The benchmark in quick mode: the poller killed under play, then (where a private cluster
    can run) PostgreSQL stopped under play; it exits 1 if anything acknowledged was lost or
    doubled, or a process died."""
    run = subprocess.run([sys.executable, "-m", "bench.scaling_failover", "--quick"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "CREWBOT_TEST_DATABASE_URL": pg_url})
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    out = run.stdout
    assert out.startswith("## ")
    assert "| seconds until polling resumes (min / median / max) |" in out
    assert "| acknowledged but missing from the ledger (lost) | 0 |" in out
    assert "| recorded or awarded twice (doubled) | 0 |" in out
    assert "| getUpdates ended by 409 Conflict (two pollers at once) | 0 |" in out
    if unavailable() is None:  # PostgreSQL stopped under play: both ran on, never ready
        assert "| both processes still running afterwards | yes |" in out
        down = next(line for line in out.splitlines() if line.startswith("| /readyz 503 while"))
        samples = down.split("|")[2].split()
        assert samples[0] == samples[2] and int(samples[0]) > 0, down
    else:
        assert f"(b) not run: {unavailable()}" in out
