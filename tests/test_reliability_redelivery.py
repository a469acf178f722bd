"""Redelivery: a long random game through the real python-telegram-bot client and the fake Bot
API, every update delivered twice and earlier ones replayed out of order, ends with the same
ledger as the game delivered once, which is what GAME.md awards (the reference model), and the
crew saw no reply twice."""

from __future__ import annotations

from collections import Counter

from bot.app import open_app
from bot.clock import SimClock
from reliability.check import census, differences
from reliability.platforms import CREW, TelegramDriver
from reliability.scenario import Game
from tests.conftest import START
from tests.fakes.telegram_api import FakeTelegram

STEPS = 160


async def play(url: str, **delivery) -> tuple[Counter, int, TelegramDriver]:
    game = Game(21, START)
    steps = game.play(STEPS)
    clock = SimClock(START)
    app = await open_app(url, clock)
    try:
        async with FakeTelegram(bot_username="crewbot") as tg:
            async with TelegramDriver(tg, app, clock, **delivery) as driver:
                for step in steps:
                    await driver.run(step)
            assert driver.adapter.errors == []
            sent = sum(1 for s in tg.sent if s["chat_id"] == CREW)
    finally:
        await app.close()
    found = await census(url)
    assert found.problems == []
    assert differences(game.model.ledger(), found.crew(str(CREW))) == []
    assert driver.unanswered == []
    return found.crew(str(CREW)), sent, driver


async def test_every_update_twice_and_replayed_out_of_order_changes_nothing(db_url, tmp_path):
    once, sent_once, _ = await play(str(tmp_path / "once.sqlite3"))
    twice, sent_twice, driver = await play(db_url, twice=True, replay_every=10, seed=3)
    assert driver.redelivered > STEPS
    assert twice == once
    assert sent_twice == sent_once  # no reply, tally or closing was posted twice


async def test_a_button_press_redelivered_after_its_query_expired_still_posts_its_result(
        app, clock):
    """Telegram redelivers a press after a crash, when its query can no longer be answered:
    the effect is recorded, so its public reply must still reach the crew."""
    tg = FakeTelegram(bot_username="crewbot")
    async with tg, TelegramDriver(tg, app, clock) as driver:
        for who in ("alice", "bob"):
            await driver.push(tg.message(CREW, driver.user(who), f"/checkin {who} here"))
        reply = next(s for s in driver.replies_to(driver.pushed[0]["message"]["message_id"]))
        bot_message = tg.sent_messages[tg.sent.index(reply)]
        press = tg.callback(CREW, driver.user("bob"), bot_message["message_id"],
                            reply["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
        tg._open_queries.discard(press["callback_query"]["id"])  # too old to answer
        await driver.push(press)
        assert driver.adapter.errors == []
    assert tg.sent[-1]["text"] == "Noted: bob listened to alice."


async def discord_game(url: str, twice: bool) -> tuple[Counter, int]:
    from reliability.platforms import CHANNEL, DiscordDriver
    from tests.fakes.discord_api import FakeDiscord

    game = Game(22, START)
    steps = game.play(120)
    clock = SimClock(START)
    app = await open_app(url, clock)
    try:
        async with FakeDiscord(application_id=1300000000000000001) as dc:
            async with DiscordDriver(dc, app, clock, twice=twice) as driver:
                for step in steps:
                    await driver.run(step)
            assert driver.adapter.errors == []
            posted = len([c for c in dc.calls if c.ok and c.kind in ("message", "followup")])
    finally:
        await app.close()
    found = await census(url)
    assert found.problems == []
    assert differences(game.model.ledger(), found.crew(str(CHANNEL))) == []
    assert driver.unanswered == []
    return found.crew(str(CHANNEL)), posted


async def test_every_discord_event_twice_changes_nothing(db_url, tmp_path):
    """A resumed gateway session may hand an event over again: interactions (slash commands,
    buttons) and reactions each dispatched twice through the real discord.py client."""
    once, posted_once = await discord_game(str(tmp_path / "once.sqlite3"), twice=False)
    twice, posted_twice = await discord_game(db_url, twice=True)
    assert twice == once
    assert posted_twice == posted_once
