"""Platform 429 storms: bursts of "Too Many Requests" from the fake Telegram Bot API and the fake
Discord API, through the real clients. Nothing the bot had to say is lost: scheduled posts stay
in the outbox until sent, each once, and a reply the platform kept refusing is sent later."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from telegram.ext import AIORateLimiter

from bot.adapters.discord_adapter import DiscordAdapter
from bot.adapters.telegram_adapter import TelegramAdapter
from bot.commands.events import Actor, Chat, CommandReceived
from storage.models import OutboxRow
from tests.fakes.discord_api import FakeDiscord, patched
from tests.fakes.telegram_api import FakeTelegram

CHATS = [-1002000000000 - n for n in range(30)]
CLOSED = "The circle has closed"


@pytest.fixture
async def tg():
    async with FakeTelegram(bot_username="crewbot") as fake:
        for chat in CHATS:
            fake.add_chat(chat, title=f"Crew {chat}")
        yield fake


@pytest.fixture
async def telegram(tg, any_app):
    limiter = AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=3)
    adapter = TelegramAdapter(any_app.game, tg.token, builder=tg.application_builder(),
                              rate_limiter=limiter)
    await adapter.start()
    await tg.wait_call("getUpdates")
    try:
        yield adapter
    finally:
        await adapter.stop()


async def unsent(app) -> int:
    async with app.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(OutboxRow).where(
            OutboxRow.sent_at.is_(None)))).scalar_one()


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_scheduled_posts_survive_a_429_storm_each_sent_once(tg, telegram, any_app, clock):
    game = any_app.game
    for chat in CHATS:
        await game.handle(CommandReceived(Chat("telegram", str(chat), "crew"),
                                          Actor("7", "tess"), "/checkin hi"))
    clock.move_to(clock() + timedelta(hours=25))
    assert await game.run_due() == len(CHATS)
    rng = random.Random(4)
    rounds = 0
    while await unsent(any_app) and rounds < 40:  # one tick after another
        if rounds < 6:  # a storm of bursts, longer than PTB's own retries, then calm
            tg.fail_next("sendMessage", times=rng.randint(4, 9), status=429, retry_after=0.01)
        await telegram.deliver()
        rounds += 1
        clock.move_to(clock() + timedelta(seconds=30))  # the ticker's default period
    closed = Counter(s["chat_id"] for s in tg.sent if s["text"].startswith(CLOSED))
    assert closed == Counter(CHATS)  # every post arrived, none twice
    assert tg.calls["sendMessage"] > len(tg.sent)  # the storm did refuse sends
    assert rounds > 1 and await unsent(any_app) == 0


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_a_reply_refused_through_every_retry_is_sent_on_the_next_tick(tg, telegram, any_app):
    tg.fail_next("sendMessage", times=6, status=429, retry_after=0.01)  # more than PTB retries
    tg.push(tg.message(CHATS[0], {"id": 7, "is_bot": False, "first_name": "tess"}, "/ask a bike"))
    await tg.wait_idle()
    await telegram.app.update_queue.join()
    assert not any("tess asks" in s["text"] for s in tg.sent)
    await telegram.deliver()
    assert sum("tess asks" in s["text"] for s in tg.sent) == 1
    assert telegram.errors == []


async def test_discord_scheduled_posts_survive_a_429_storm_each_sent_once(any_app, clock):
    guild, owner = 900000000000000001, 800000000000000001
    channels = [900000000000000101 + n for n in range(8)]
    game = any_app.game
    async with FakeDiscord(application_id=1300000000000000001) as dc:
        dc.add_guild(guild, "Crew", owner)
        for channel in channels:
            dc.add_channel(guild, channel, f"crew-{channel}")
        dc.add_member(guild, owner, "olga")
        adapter = DiscordAdapter(game, dc.token, guild_ids=[guild], guild_ready_timeout=0.05)
        with patched(dc):
            await adapter.start()
            await adapter.client.wait_until_ready()
            try:
                for channel in channels:
                    await game.handle(CommandReceived(Chat("discord", str(channel), "crew"),
                                                      Actor(str(owner), "olga"), "/checkin hi"))
                clock.move_to(clock() + timedelta(hours=25))
                assert await game.run_due() == len(channels)
                rounds = 0
                while await unsent(any_app) and rounds < 20:
                    if rounds < 3:  # more refusals than discord.py retries by itself
                        dc.fail_next("POST", r"/channels/\d+/messages", times=7, status=429,
                                     retry_after=0.01)
                    await adapter.deliver()
                    rounds += 1
                    clock.move_to(clock() + timedelta(seconds=30))
            finally:
                await adapter.stop()
        posted = Counter(c.body["channel_id"] if "channel_id" in c.body else c.path.split("/")[2]
                         for c in dc.calls_of("message") if CLOSED in str(c.body))
    assert sorted(posted.values()) == [1] * len(channels)
    assert dc.calls_of("message", failed=True)
    assert await unsent(any_app) == 0 and adapter.errors == []
