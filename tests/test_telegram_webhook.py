"""Telegram by webhook, through real `crewbot run` processes and the fake Bot API posting to
them: the secret, a whole game, replies sent once across a crash, processes side by side."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text

from bot.app import open_app
from bot.clock import utc_now
from tests.conftest import PG_URL, _reset_postgres, ledger_points
from tests.fakes.telegram_api import FakeTelegram
from tests.processes import CREWBOT, ROOT, clean_env, free_port, owns_port, running, until

SECRET = "webhook_secret-0123456789"
CREW = -1001000000001
ALICE = {"id": 101, "is_bot": False, "first_name": "Alice", "username": "alice"}
BOB = {"id": 102, "is_bot": False, "first_name": "Bob", "username": "bob"}
HEADER = "X-Telegram-Bot-Api-Secret-Token"


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(bot_username="crewbot") as fake:
        fake.add_chat(CREW, title="Garden crew")
        fake.set_bot_admin(CREW)
        fake.set_admin(CREW, ALICE)
        fake.webhook_retry = 0.1
        yield fake


@pytest.fixture
async def pg_url() -> str:
    if not PG_URL:
        pytest.skip("CREWBOT_TEST_DATABASE_URL is not set: several webhook processes need "
                    "PostgreSQL")
    problem = await _reset_postgres(PG_URL)
    if problem:
        pytest.fail(problem)
    return PG_URL


class Process:
    """One `crewbot run` serving the webhook on `port`, its health endpoint on `health`."""

    def __init__(self, database: str, tg: FakeTelegram, url: str | None = None,
                 **settings: str) -> None:
        self.port, self.health = free_port(), free_port()
        self.url = url or f"http://127.0.0.1:{self.port}/telegram"
        self.env = clean_env(
            CREWBOT_DATABASE_URL=database, CREWBOT_TELEGRAM_TOKEN=tg.token,
            CREWBOT_TELEGRAM_API_URL=tg.base_url.removesuffix("/bot"),
            CREWBOT_TELEGRAM_WEBHOOK_URL=self.url,
            CREWBOT_TELEGRAM_WEBHOOK_LISTEN=f"127.0.0.1:{self.port}",
            CREWBOT_TELEGRAM_WEBHOOK_SECRET=SECRET, CREWBOT_HEALTH_PORT=str(self.health),
            **settings)
        self.proc: asyncio.subprocess.Process | None = None
        self.stderr = b""

    @property
    def local(self) -> str:
        return f"http://127.0.0.1:{self.port}/telegram"

    @contextlib.asynccontextmanager
    async def run(self, cwd: Path) -> AsyncIterator[Process]:
        async with running([str(CREWBOT), "run"], self.env, cwd) as proc:
            self.proc = proc
            try:
                await until(f"http://127.0.0.1:{self.health}/readyz", 200)
            except AssertionError:
                proc.kill()
                _, err = await proc.communicate()
                raise AssertionError(err.decode()[-3000:]) from None
            yield self
            if proc.returncode is None:
                proc.terminate()
            _, self.stderr = await proc.communicate()

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        _, self.stderr = await self.proc.communicate()


async def post(url: str, body: bytes, secret: str | None = SECRET) -> int:
    headers = {"Content-Type": "application/json"} | ({HEADER: secret} if secret else {})
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as r:
        return r.status


async def points(database: str) -> dict[str, int]:
    app = await open_app(database, utc_now)
    try:
        return await ledger_points(app)
    finally:
        await app.close()


async def kept_replies(database: str) -> int:
    app = await open_app(database, utc_now)
    try:
        async with app.engine.connect() as conn:
            return int((await conn.execute(text("SELECT count(*) FROM replies"))).scalar() or 0)
    finally:
        await app.close()


async def through(url: str, status: int, timeout: float = 30) -> None:
    """Waits until a GET of `url` answers `status`."""
    async with asyncio.timeout(timeout), aiohttp.ClientSession() as http:
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url) as response:
                    if response.status == status:
                        return
            await asyncio.sleep(0.1)  # another process's state: nothing to wait on


def button(sent: dict, label: str) -> str:
    rows = sent["reply_markup"]["inline_keyboard"]
    return next(b["callback_data"] for row in rows for b in row if b["text"] == label)


def texts(tg: FakeTelegram, part: str) -> list[str]:
    return [s["text"] for s in tg.sent if part in s["text"]]


async def test_only_telegram_with_the_secret_changes_anything(db_url, tg, tmp_path):
    bot = Process(db_url, tg)
    async with bot.run(tmp_path):
        assert tg.webhook is not None
        assert tg.webhook["url"] == bot.url and tg.webhook["secret_token"] == SECRET
        assert {"message", "callback_query", "message_reaction"} <= set(
            tg.webhook["allowed_updates"])
        update = {"update_id": 5, **tg.message(CREW, ALICE, "/ask a ride")}
        body = json.dumps(update).encode()
        assert await post(bot.local, body, secret=None) == 403
        assert await post(bot.local, body, secret=SECRET + "x") == 403
        assert await post(bot.local, body, secret=SECRET[:-1]) == 403
        assert await post(bot.local, b'{"update_id": "nope", "message": 3}') == 400
        assert await post(bot.local, b"not json at all") == 400
        assert await post(bot.local, b"[1, 2]") == 400
        assert await post(f"http://127.0.0.1:{bot.port}/elsewhere", body) == 404
        assert tg.sent == [] and await points(db_url) == {}
        assert await post(bot.local, body) == 200
        assert texts(tg, "Alice asks") and len(tg.sent) == 1  # sent before the 200
        assert await post(bot.local, body) == 200  # the same update again: no second effect
        assert len(tg.sent) == 1
    assert await points(db_url) == {"Alice": 5}
    assert bot.stderr and SECRET not in bot.stderr.decode()
    assert tg.webhook is not None  # a stopping process leaves the webhook for the others
    assert tg.calls["deleteWebhook"] == 0


async def test_a_game_over_webhooks_sends_each_reply_once(pg_url, tg, tmp_path):
    async with Process(pg_url, tg).run(tmp_path):
        tg.push(tg.message(CREW, ALICE, "/checkin excited about the garden"))
        tg.push(tg.message(CREW, BOB, "/checkin a bit tired"))
        await tg.wait_delivered()
        alice, bob = tg.sent_messages[-2:]
        tg.push(tg.callback(CREW, BOB, alice["message_id"], button(alice, "I listened")))
        tg.push(tg.callback(CREW, ALICE, bob["message_id"], button(bob, "I listened")))
        tg.push(tg.message(CREW, ALICE, "/ask an intro to a bookkeeper"))
        await tg.wait_delivered()
        ask = tg.sent_messages[-1]
        tg.push(tg.message(CREW, BOB, "/offer I know one", reply_to=ask["message_id"]))
        await tg.wait_delivered()
        offer = tg.sent_messages[-1]
        tg.push(tg.callback(CREW, ALICE, offer["message_id"], button(offer, "Thank you")))
        await tg.wait_delivered()
        await tg.wait_sent(lambda s: "thanked" in s["text"].lower() or "thank" in s["text"])
    assert len(texts(tg, "The circle is complete")) == 1
    assert len(tg.answered) == 3
    sent = [(s["chat_id"], s["text"]) for s in tg.sent]
    assert len(sent) == len(set(sent)), sent
    assert all(d.status == 200 for d in tg.deliveries)
    # GAME.md: a complete circle +1 each; asking +5 (a first ask), offering +5 (a first
    # offer), the thanks +1 each
    assert await points(pg_url) == {"Alice": 7, "Bob": 7}
    assert await kept_replies(pg_url) == 0


async def test_a_crash_between_commit_and_reply_gets_the_reply_once(db_url, tg, tmp_path):
    first = Process(db_url, tg)
    async with first.run(tmp_path):
        tg.hold("sendMessage")
        update = tg.push(tg.message(CREW, ALICE, "/ask help with taxes"))
        await tg.wait_held()  # committed; the reply is on its way to Telegram
        await first.kill()
    assert tg.sent == [] and await points(db_url) == {"Alice": 5}
    assert await kept_replies(db_url) == 1
    assert any(d.update_id == update["update_id"] and d.status != 200 for d in tg.deliveries)
    # The same address again, as a restarted process: Telegram's retry reaches it.
    async with first.run(tmp_path):
        await tg.wait_delivered()
        await tg.wait_sent(lambda s: "Alice asks" in s["text"])
        assert await kept_replies(db_url) == 0
        tg.push(update, redeliver=True)  # once more after the reply went: nothing
        await tg.wait_delivered()
    assert len(texts(tg, "Alice asks")) == 1
    assert tg.sent[0]["reply_parameters"]["message_id"] == update["message"]["message_id"]
    assert await points(db_url) == {"Alice": 5}


async def test_a_polling_start_deletes_a_webhook_left_set(tg, tmp_path):
    async with aiohttp.ClientSession() as http, http.post(
            f"{tg.base_url}{tg.token}/setWebhook",
            json={"url": "https://bot.example.org/telegram", "secret_token": SECRET}) as r:
        assert r.status == 200
    env = clean_env(CREWBOT_DATABASE_URL=str(tmp_path / "poll.sqlite3"),
                    CREWBOT_TELEGRAM_TOKEN=tg.token,
                    CREWBOT_TELEGRAM_API_URL=tg.base_url.removesuffix("/bot"))
    async with running([str(CREWBOT), "run"], env, tmp_path):
        await tg.wait_call("getUpdates", timeout=30)
        assert tg.webhook is None and tg.calls["deleteWebhook"] >= 1
        tg.push(tg.message(CREW, ALICE, "/ask a ride"))
        await tg.wait_sent(lambda s: "Alice asks" in s["text"], timeout=30)


@pytest.mark.skipif(sys.platform != "linux", reason="HAProxy from Debian packages")
async def test_two_webhook_processes_behind_haproxy_and_one_killed(pg_url, tg, tmp_path):
    front = free_port()
    url = f"http://127.0.0.1:{front}/telegram"
    bots = [Process(pg_url, tg, url=url), Process(pg_url, tg, url=url)]
    balancer = [sys.executable, str(ROOT / "scripts" / "webhook_balancer.py"),
                "--listen", str(front), *(a for b in bots for a in
                                          ("--backend", f"{b.port}:{b.health}"))]
    async with (running(balancer, clean_env(), tmp_path), bots[0].run(tmp_path),
                bots[1].run(tmp_path)):
        await through(f"http://127.0.0.1:{front}/none", 404)  # HAProxy sees them ready
        users = [{"id": 200 + i, "is_bot": False, "first_name": f"M{i}"} for i in range(6)]
        for user in users:
            tg.push(tg.message(CREW, user, f"/ask favour from {user['first_name']}"))
        await tg.wait_delivered(timeout=30)
        assert len(texts(tg, " asks ")) == 6
        # One of the two dies holding a reply it committed; the balancer and Telegram's retry
        # reach the other, which sends that reply, once.
        tg.hold("sendMessage")
        update = tg.push(tg.message(CREW, ALICE, "/ask help with taxes"))
        await tg.wait_held()
        victim = next(b for b in bots if b.proc and owns_port(b.proc.pid, tg.held_from[0]))
        await victim.kill()
        await tg.wait_delivered(timeout=30)
        await tg.wait_sent(lambda s: "Alice asks" in s["text"], timeout=30)
        tg.push(update, redeliver=True)
        await tg.wait_delivered(timeout=30)
    assert len(texts(tg, "Alice asks")) == 1
    assert len(texts(tg, " asks ")) == 7
    expected = {u["first_name"]: 5 for u in users} | {"Alice": 5}
    assert await points(pg_url) == expected
    assert await kept_replies(pg_url) == 0
