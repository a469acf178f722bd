"""The real discord.py client against a fake gateway and REST server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import discord
import discord.gateway
import discord.http
import pytest
import yarl
from telegram.ext import AIORateLimiter

from bot.adapters.discord_adapter import DiscordAdapter, point_at
from bot.adapters.scheduler import Ticker
from bot.adapters.telegram_adapter import TelegramAdapter
from bot.commands.registry import COMMANDS
from tests.conftest import ledger_points
from tests.fakes.discord_api import EPHEMERAL, FakeDiscord
from tests.fakes.telegram_api import FakeTelegram

APP = 1300000000000000001
GUILD = 900000000000000001
GENERAL = 900000000000000101
OWNER = 800000000000000001
ALICE = 800000000000000002
BOB = 800000000000000003


BOTS: list[DiscordAdapter] = []  # the adapter running now, for the helpers


@pytest.fixture
async def dc() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(application_id=APP) as fake:
        fake.add_guild(GUILD, "Crew", OWNER)
        organisers = fake.add_role(GUILD, 900000000000000201, "Organisers",
                                   discord.Permissions(manage_channels=True))
        fake.add_channel(GUILD, GENERAL, "general")
        fake.add_member(GUILD, OWNER, "olga")
        fake.add_member(GUILD, ALICE, "alice", roles=[organisers])
        fake.add_member(GUILD, BOB, "bob")
        yield fake


@pytest.fixture(autouse=True)
def discord_roots() -> Iterator[tuple[str, yarl.URL]]:
    """discord.py's REST and gateway roots, as found; put back after each test, since the
    adapter's api_url (point_at) changes them for the whole process."""
    found = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    yield found
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = found


def root_of(dc: FakeDiscord) -> str:
    """What CREWBOT_DISCORD_API_URL holds to reach the fake."""
    return dc.api_base.removesuffix("/api/v10")


@asynccontextmanager
async def running(dc: FakeDiscord, app: Any, **options: Any) -> AsyncIterator[DiscordAdapter]:
    """The adapter, pointed at the fake as `crewbot run` is, through its api_url."""
    adapter = DiscordAdapter(app.game, dc.token, guild_ids=[GUILD], api_url=root_of(dc),
                             guild_ready_timeout=0.05, **options)
    BOTS.append(adapter)
    await adapter.start()
    await adapter.client.wait_until_ready()
    try:
        yield adapter
    finally:
        await adapter.stop()
    assert adapter.errors == []


@pytest.fixture
async def bot(dc, app) -> AsyncIterator[DiscordAdapter]:
    async with running(dc, app) as adapter:
        yield adapter


async def handled(bot: DiscordAdapter, event: Any, dc: FakeDiscord, kind: str) -> None:
    """Dispatches a gateway event and waits until the adapter has fully handled it."""
    before = bot.handled
    await dc.dispatch(kind, event)
    await bot.wait_handled(before + 1)


async def slash(dc: FakeDiscord, who: int, command: str, **options: Any) -> dict:
    """Invokes a slash command, waits until it is handled, returns the bot's first answer."""
    bot: DiscordAdapter = BOTS[-1]
    before, done = len(dc.calls_of("callback")), bot.handled
    types = {"member": 6, "offer": 4, "conflict": 4, "entry": 4}
    payload = dc.interaction_command(GUILD, GENERAL, who, command, [
        {"name": k, "type": types.get(k, 3), "value": str(v)} for k, v in options.items()])
    await dc.dispatch("INTERACTION_CREATE", payload)
    await bot.wait_handled(done + 1)
    return dc.calls_of("callback")[before].body


def message_id(callback: dict, dc: FakeDiscord) -> int:
    """The id of the channel message an interaction answer created."""
    content = callback["data"]["content"]
    return int(next(mid for mid, m in reversed(list(dc.messages.items()))
                    if m.get("content") == content))


def custom_id(callback: dict, label: str) -> str:
    rows = callback["data"]["components"]
    return next(c["custom_id"] for row in rows for c in row["components"] if c["label"] == label)


points = ledger_points


def roots() -> tuple[str, yarl.URL]:
    """Where discord.py sends its REST calls and opens its gateway."""
    return discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY


async def test_discord_keeps_its_own_servers_unless_an_api_url_is_given(dc, app, discord_roots):
    DiscordAdapter(app.game, dc.token)
    found = roots()
    assert found == discord_roots and found[0] == "https://discord.com/api/v10"

    point_at("https://discord-proxy.example:8443/")  # TLS for REST means TLS for the gateway
    pointed = roots()
    assert pointed == ("https://discord-proxy.example:8443/api/v10",
                       yarl.URL("wss://discord-proxy.example:8443/gateway"))
    point_at(root_of(dc))
    pointed = roots()
    assert pointed == (dc.api_base, yarl.URL(dc.gateway_url))


async def test_slash_commands_are_synced_from_the_registry(bot, dc):
    synced = {c["name"]: c for c in dc.guild_commands[GUILD]}
    assert set(synced) == set(COMMANDS)
    offer = {o["name"]: o for o in synced["offer"]["options"]}
    assert offer["member"]["type"] == 6 and offer["member"]["required"] is True
    board = {o["name"]: o for o in synced["leaderboard"]["options"]}
    assert [c["value"] for c in board["period"]["choices"]] == ["month", "all", "hide", "show"]


async def test_listening_circle_by_reactions_with_a_removed_one(bot, dc, app):
    alice = await slash(dc, ALICE, "checkin", text="excited about the garden")
    bob = await slash(dc, BOB, "checkin", text="a bit tired")
    alice_msg, bob_msg = message_id(alice, dc), message_id(bob, dc)
    add, remove = "MESSAGE_REACTION_ADD", "MESSAGE_REACTION_REMOVE"
    await handled(bot, dc.reaction_add(GUILD, GENERAL, alice_msg, BOB, "👍"), dc, add)
    await handled(bot, dc.reaction_remove(GUILD, GENERAL, alice_msg, BOB, "👍"), dc, remove)
    await handled(bot, dc.reaction_add(GUILD, GENERAL, bob_msg, ALICE, "🔥"), dc, add)
    assert await points(app) == {"alice": 0, "bob": 0}
    await handled(bot, dc.reaction_add(GUILD, GENERAL, alice_msg, BOB, "🙏"), dc, add)
    assert any("circle is complete" in str(c.body) for c in dc.calls_of("message"))
    assert await points(app) == {"alice": 1, "bob": 1}


async def test_listening_circle_by_buttons(bot, dc, app):
    alice = await slash(dc, ALICE, "checkin", text="hello")
    bob = await slash(dc, BOB, "checkin", text="hi")
    for who, answer in ((BOB, alice), (ALICE, bob)):
        payload = dc.interaction_button(GUILD, GENERAL, who, message_id(answer, dc),
                                        custom_id(answer, "I listened"))
        await handled(bot, payload, dc, "INTERACTION_CREATE")
    assert any("circle is complete" in str(c.body) for c in dc.calls_of("followup"))
    assert await points(app) == {"alice": 1, "bob": 1}


async def test_a_button_pressed_after_a_restart_still_works(dc, app):
    async with running(dc, app):
        await slash(dc, ALICE, "ask", text="an intro to a bookkeeper")
        offer = await slash(dc, BOB, "offer", member=ALICE, text="I know one")
    async with running(dc, app) as again:  # a new process: no view registered for the message
        payload = dc.interaction_button(GUILD, GENERAL, ALICE, message_id(offer, dc),
                                        custom_id(offer, "Thank you"))
        await handled(again, payload, dc, "INTERACTION_CREATE")
        assert "alice thanks bob" in str(dc.calls_of("callback")[-1].body)
    assert await points(app) == {"alice": 6, "bob": 6}


async def test_an_admin_only_command_is_refused_ephemerally(bot, dc):
    refused = await slash(dc, BOB, "settings", name="circle_hours", value="2")
    assert refused["data"]["flags"] & EPHEMERAL
    assert "Only a crew admin can change a setting" in refused["data"]["content"]
    done = await slash(dc, ALICE, "settings", name="circle_hours", value="2")
    assert not done["data"].get("flags", 0) & EPHEMERAL
    assert done["data"]["content"] == "circle_hours is now 2."


async def test_everyone_in_a_checkin_pings_nobody(bot, dc):
    answer = await slash(dc, ALICE, "checkin", text="@everyone @here hello <@&900000000000000201>")
    assert answer["data"]["allowed_mentions"] == {"parse": []}
    offer = await slash(dc, BOB, "offer", member=ALICE, text="a lift, everyone")
    allowed = offer["data"]["allowed_mentions"]
    assert allowed["parse"] == [] and [str(u) for u in allowed["users"]] == [str(ALICE)]


async def test_a_scheduled_post_reaches_the_channel_after_a_429(bot, dc, app, clock):
    await slash(dc, ALICE, "meeting", action="schedule", rule="day 3 19:00")
    await slash(dc, BOB, "join")
    dc.fail_next("POST", rf"/channels/{GENERAL}/messages", times=1, status=429, retry_after=0.1)
    for hour in (18, 19):
        clock.move_to(datetime(2026, 11, 3, hour, tzinfo=UTC))
        await app.game.run_due()
        await bot.deliver()
    posts = [c.body for c in dc.calls_of("message")]
    assert [p["content"][:22] for p in posts] == [
        "Our monthly meeting is", "Reminder: our meeting ", "The meeting has starte"]
    reminder = posts[1]
    assert f"<@{ALICE}>" in reminder["content"] and f"<@{BOB}>" in reminder["content"]
    assert reminder["allowed_mentions"]["parse"] == []
    assert sorted(str(u) for u in reminder["allowed_mentions"]["users"]) == sorted(
        [str(ALICE), str(BOB)])
    assert dc.calls_of("message", failed=True)  # the 429 happened and was retried
    assert await app.game.pending_posts("discord") == []


async def test_both_platforms_and_the_scheduler_in_one_process(dc, app, clock):
    async with FakeTelegram(bot_username="crewbot") as tg:
        group = -1001000000009
        tg.add_chat(group)
        telegram = TelegramAdapter(app.game, tg.token, tg.base_url.removesuffix("/bot"),
                                   rate_limiter=AIORateLimiter(0, 0, max_retries=1))
        async with running(dc, app) as discord_adapter:
            await telegram.start()
            try:
                await slash(dc, ALICE, "checkin", text="hello from discord")
                tg.push(tg.message(group, {"id": 5, "is_bot": False, "first_name": "Tess"},
                                   "/checkin hello from telegram"))
                await tg.wait_sent()

                async def deliver() -> None:
                    await telegram.deliver()
                    await discord_adapter.deliver()

                clock.move_to(datetime(2026, 11, 3, 12, tzinfo=UTC))
                ticker = Ticker(app.game, deliver, seconds=3600)
                await ticker.start()  # the catch-up tick closes both circles
                ticker.stop()
            finally:
                await telegram.stop()
        assert any("The circle has closed" in s["text"] for s in tg.sent)
        assert any("The circle has closed" in json.dumps(c.body)
                   for c in dc.calls_of("message"))
    crews = {c.crew.platform for c in await app.game.export()}
    assert crews == {"discord", "telegram"}


async def test_slow_work_is_deferred_then_answered(dc, app):
    async with running(dc, app, answer_within=0):  # as if the database were slow
        await slash(dc, ALICE, "ask", text="a ride")
    first = dc.calls_of("callback")[-1].body
    assert first["type"] == 5  # deferred ("thinking") within Discord's 3 seconds
    assert "alice asks" in str(dc.calls_of("followup")[-1].body)


async def test_crewbot_run_serves_discord_and_telegram_and_stops_on_signals(dc, tmp_path):
    import asyncio
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    async with FakeTelegram(bot_username="crewbot") as tg:
        group = -1001000000009
        tg.add_chat(group)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CREWBOT_")}
        env.update(CREWBOT_TELEGRAM_TOKEN=tg.token,
                   CREWBOT_TELEGRAM_API_URL=tg.base_url.removesuffix("/bot"),
                   CREWBOT_DISCORD_TOKEN=dc.token,
                   CREWBOT_DISCORD_API_URL=dc.api_base.removesuffix("/api/v10"),
                   CREWBOT_DISCORD_GUILD_IDS=str(GUILD),
                   CREWBOT_DATABASE_URL=str(tmp_path / "both.sqlite3"),
                   PYTHONPATH=str(Path(__file__).resolve().parent.parent))
        for round_, sig in enumerate((signal.SIGINT, signal.SIGTERM), 1):
            syncs = len(dc.calls_of("command_sync"))
            proc = subprocess.Popen([str(Path(sys.executable).parent / "crewbot"), "run"],
                                    env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            try:
                await dc.wait_for("command_sync", count=syncs + 1, timeout=30)
                await dc.wait_ready(timeout=30)
                await tg.wait_call("getUpdates", timeout=30)
                callbacks = len(dc.calls_of("callback"))
                await dc.dispatch("INTERACTION_CREATE", dc.interaction_command(
                    GUILD, GENERAL, ALICE, "ask", [{"name": "text", "type": 3, "value": "x"}]))
                tg.push(tg.message(group, {"id": 5, "is_bot": False, "first_name": "Tess"},
                                   "/ask y"))
                await dc.wait_for("callback", count=callbacks + 1, timeout=30)
                await tg.wait_sent(lambda s: "Tess asks" in s["text"], count=round_,
                                   timeout=30)
                proc.send_signal(sig)
                out, err = await asyncio.to_thread(proc.communicate, timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
            assert proc.returncode == 0, err
            assert "outcome=stopped" in err
            for secret in (tg.token, dc.token):
                assert secret not in out + err


async def test_help_and_coown_options_reach_the_core(bot, dc):
    synced = {c["name"]: c for c in dc.guild_commands[GUILD]}
    coown = {o["name"]: o for o in synced["coown"]["options"]}
    assert [c["value"] for c in coown["action"]["choices"]] == [
        "confirm", "drop", "withdraw", "status"]
    assert not coown["venture"]["required"]
    before = len(dc.calls_of("callback"))
    await handled(bot, dc.interaction_command(GUILD, GENERAL, BOB, "help", [
        {"name": "command", "type": 3, "value": "circle"}]), dc, "INTERACTION_CREATE")
    explained = dc.calls_of("callback")[before].body
    assert explained["data"]["content"].startswith("/circle\nWhere the open circle stands")
    status = await slash(dc, BOB, "coown", action="status")
    assert status["data"]["content"].startswith("You have no venture waiting for confirmations.")
