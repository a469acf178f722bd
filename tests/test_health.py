"""The health endpoint, by real HTTP requests to `crewbot run` serving the fake Telegram and
Discord: 200 while the database and both platforms answer, 503 naming the check that fails
when a platform goes down or the database becomes unreachable."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import make_url
from telegram.ext import AIORateLimiter

from bot.adapters.telegram_adapter import TelegramAdapter
from tests.conftest import PG_URL
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.telegram_api import FakeTelegram
from tests.processes import CREWBOT, clean_env, crewbot, free_port, get_json, running, until

GUILD, CHANNEL, OWNER = 900000000000000001, 900000000000000101, 800000000000000001


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(bot_username="crewbot") as fake:
        yield fake


@pytest.fixture
async def dc() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        fake.add_guild(GUILD, "Crew", OWNER)
        fake.add_channel(GUILD, CHANNEL, "general")
        yield fake


def bot_env(database: str, port: int, tg: FakeTelegram | None = None,
            dc: FakeDiscord | None = None) -> dict[str, str]:
    env = {"CREWBOT_DATABASE_URL": database, "CREWBOT_HEALTH_PORT": str(port)}
    if tg is not None:
        env |= {"CREWBOT_TELEGRAM_TOKEN": tg.token,
                "CREWBOT_TELEGRAM_API_URL": tg.base_url.removesuffix("/bot")}
    if dc is not None:
        env |= {"CREWBOT_DISCORD_TOKEN": dc.token,
                "CREWBOT_DISCORD_API_URL": f"http://127.0.0.1:{dc.port}"}
    return clean_env(**env)


async def test_ready_while_all_answers_and_503_when_a_platform_goes_down(tg, dc, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = bot_env(str(tmp_path / "crew.sqlite3"), port, tg, dc)
    async with running([str(CREWBOT), "run"], env, tmp_path) as proc:
        ready = await until(f"{base}/readyz", 200)
        assert ready["status"] == "ok"
        assert set(ready["checks"]) == {"database", "telegram", "discord"}
        assert all(check["ok"] for check in ready["checks"].values()), ready
        assert ready["checks"]["discord"]["shards"] == [{"id": 0, "ok": True}]
        assert await get_json(f"{base}/healthz") == (
            200, {"status": "ok", "checks": {"loop": {"ok": True}}})

        await dc.stop()  # Discord's gateway goes away: the client keeps trying to reconnect
        down = await until(f"{base}/readyz", 503)
        assert down["status"] == "unavailable"
        assert down["checks"]["discord"] == {"ok": False, "shard_count": 1,
                                             "shards": [{"id": 0, "ok": False}]}
        assert down["checks"]["telegram"]["ok"] and down["checks"]["database"]["ok"]

        await tg.stop()  # and Telegram's API: the next long poll fails
        async with asyncio.timeout(30):
            while (await get_json(f"{base}/readyz"))[1]["checks"]["telegram"]["ok"]:
                await asyncio.sleep(0.1)  # polling another process: no event to wait on
        assert (await get_json(f"{base}/healthz"))[0] == 200  # alive all the same

        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()
    assert tg.token not in err.decode() and dc.token not in err.decode()


async def test_no_endpoint_without_a_port(tg, tmp_path):
    port = free_port()
    env = bot_env(str(tmp_path / "crew.sqlite3"), port, tg)
    del env["CREWBOT_HEALTH_PORT"]
    async with running([str(CREWBOT), "run"], env, tmp_path) as proc:
        await tg.wait_call("getUpdates", timeout=30)
        assert await get_json(f"http://127.0.0.1:{port}/healthz", timeout=1) == (0, None)
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0


class Proxy:
    """A TCP relay to the database that the test can cut, as when its network fails."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.relay, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers += [writer, up_writer]

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()


@pytest.mark.skipif(not PG_URL, reason="CREWBOT_TEST_DATABASE_URL is not set: the database is "
                    "cut through a TCP relay to PostgreSQL")
async def test_503_when_the_database_becomes_unreachable(db_url, tg, tmp_path):
    if db_url != PG_URL:
        pytest.skip("a SQLite file cannot be cut off like a server; see the postgres case")
    url = make_url(PG_URL)
    proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
    relayed = url.set(port=await proxy.start()).render_as_string(hide_password=False)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with running([str(CREWBOT), "run"], bot_env(relayed, port, tg), tmp_path) as proc:
        assert (await until(f"{base}/readyz", 200))["checks"]["database"]["ok"]
        await proxy.cut()
        down = await until(f"{base}/readyz", 503)
        assert down["checks"]["database"]["ok"] is False
        assert down["checks"]["telegram"] == {"ok": True}
        assert (await get_json(f"{base}/healthz"))[0] == 200
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), 30)


async def test_a_health_port_in_use_stops_run_with_one_line(tg, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out, err = await crewbot("run", env=bot_env(str(tmp_path / "c.sqlite3"), port, tg),
                                       cwd=tmp_path)
    assert code == 2 and out == ""
    [line] = err.splitlines()
    assert line.startswith(f"crewbot: CREWBOT_HEALTH_PORT {port} on 127.0.0.1 cannot be used")
    assert tg.calls["getUpdates"] == 0  # it stopped before serving anyone


async def until_true(condition, timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)  # the adapter's state has no event to wait on


async def test_telegram_counts_as_connected_while_its_polls_succeed(tg, app):
    limiter = AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=0)
    adapter = TelegramAdapter(app.game, tg.token, builder=tg.application_builder(),
                              rate_limiter=limiter)
    assert not adapter.connected
    await adapter.start()
    try:
        assert adapter.connected
        polls = tg.calls["getUpdates"]
        tg.fail_next("getUpdates", status=502)
        tg.push(tg.message(-1001, {"id": 5, "is_bot": False, "first_name": "Ann"}, "/help"))
        await tg.wait_call("getUpdates", count=polls + 2)  # the answered poll, the failed one
        await until_true(lambda: not adapter.connected)
        await tg.wait_call("getUpdates", count=polls + 3)  # the retry, after a second
        tg.push(tg.message(-1001, {"id": 5, "is_bot": False, "first_name": "Ann"}, "/help"))
        await until_true(lambda: adapter.connected)
    finally:
        await adapter.stop()
    assert not adapter.connected
