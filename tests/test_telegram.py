"""The real python-telegram-bot Application against a fake Bot API server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import AIORateLimiter

from bot.adapters.telegram_adapter import ALLOWED_UPDATES, TelegramAdapter
from bot.app import App
from bot.clock import SimClock
from bot.commands.registry import COMMANDS
from tests.conftest import ledger_points
from tests.fakes.telegram_api import FakeTelegram

CREW = -1001000000001
ALICE = {"id": 101, "is_bot": False, "first_name": "Alice", "username": "alice"}
BOB = {"id": 102, "is_bot": False, "first_name": "Bob", "username": "bob"}
CAROL = {"id": 103, "is_bot": False, "first_name": "Carol"}  # no @username


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(bot_username="crewbot") as fake:
        fake.add_chat(CREW, title="Garden crew")
        fake.set_bot_admin(CREW)
        fake.set_admin(CREW, ALICE)
        yield fake


class Bot:
    """The adapter running against the fake, with helpers that wait for effects, never sleep."""

    def __init__(self, tg: FakeTelegram, app: App, clock: SimClock) -> None:
        self.tg, self.app, self.clock = tg, app, clock
        # No local pacing in tests (the fake enforces nothing); 429s are still retried.
        limiter = AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=3)
        # Pointed at the fake as `crewbot run` is, by CREWBOT_TELEGRAM_API_URL's root.
        self.adapter = TelegramAdapter(app.game, tg.token, tg.base_url.removesuffix("/bot"),
                                       rate_limiter=limiter)

    async def settle(self) -> None:
        await self.tg.wait_idle()
        await self.adapter.app.update_queue.join()  # every fetched update has been handled

    async def say(self, user: dict, text: str, **kw: Any) -> dict:
        update = self.tg.push(self.tg.message(CREW, user, text, **kw))
        await self.settle()
        return update["message"]

    def sent_after(self, count: int) -> list[dict]:
        return self.tg.sent[count:]

    async def points(self) -> dict[str, int]:
        return await ledger_points(self.app)


@pytest.fixture
async def bot(tg, app, clock) -> AsyncIterator[Bot]:
    running = Bot(tg, app, clock)
    await running.adapter.start()
    await tg.wait_call("getUpdates")
    try:
        yield running
    finally:
        await running.adapter.stop()
    assert running.adapter.errors == []


def button(sent: dict, label: str) -> str:
    rows = sent["reply_markup"]["inline_keyboard"]
    return next(b["callback_data"] for row in rows for b in row if b["text"] == label)


async def test_polling_asks_for_reactions_and_publishes_the_registry(bot, tg):
    assert set(ALLOWED_UPDATES) <= set(tg.allowed_updates)
    published = {c["command"] for c in tg.commands["all_group_chats"]}
    assert published == set(COMMANDS)


async def test_full_listening_circle_by_reactions(bot, tg):
    alice_msg = await bot.say(ALICE, "/checkin excited about the garden")
    await bot.say(BOB, "/checkin@crewbot a bit tired")
    bob_reply = tg.sent_messages[-1]
    assert "[I listened]" not in bob_reply["text"] and "I listened" in str(bob_reply)
    tg.push(tg.reaction(CREW, BOB, alice_msg["message_id"], new=["👍"]))
    tg.push(tg.reaction(CREW, ALICE, bob_reply["message_id"], new=["❤"]))
    await bot.settle()
    assert "The circle is complete" in tg.sent[-1]["text"]
    assert await bot.points() == {"Alice": 1, "Bob": 1}


async def test_a_removed_reaction_withdraws_listening(bot, tg):
    alice_msg = await bot.say(ALICE, "/checkin hello")
    bob_msg = await bot.say(BOB, "/checkin hi")
    tg.push(tg.reaction(CREW, BOB, alice_msg["message_id"], new=["👍"]))
    tg.push(tg.reaction(CREW, BOB, alice_msg["message_id"], old=["👍"], new=[]))
    tg.push(tg.reaction(CREW, ALICE, bob_msg["message_id"], new=["🔥"]))
    await bot.settle()
    assert await bot.points() == {"Alice": 0, "Bob": 0}
    tg.push(tg.reaction(CREW, BOB, alice_msg["message_id"], new=["🙏"]))
    await bot.settle()
    assert await bot.points() == {"Alice": 1, "Bob": 1}


async def test_full_listening_circle_by_buttons_answers_every_callback(bot, tg):
    await bot.say(ALICE, "/checkin hello")
    alice_reply = tg.sent_messages[-1]
    await bot.say(BOB, "/checkin hi")
    bob_reply = tg.sent_messages[-1]
    tg.push(tg.callback(CREW, BOB, alice_reply["message_id"], button(alice_reply, "I listened")))
    tg.push(tg.callback(CREW, ALICE, bob_reply["message_id"], button(bob_reply, "I listened")))
    tg.push(tg.callback(CREW, ALICE, alice_reply["message_id"],
                        button(alice_reply, "I listened")))  # own check-in: refused privately
    await bot.settle()
    assert len(tg.answered) == 3
    assert tg.answered[-1].get("show_alert") is True
    assert "your own check-in" in tg.answered[-1]["text"]
    assert any("The circle is complete" in s["text"] for s in tg.sent)
    assert await bot.points() == {"Alice": 1, "Bob": 1}


async def test_ask_offer_and_thank_you(bot, tg):
    await bot.say(ALICE, "/ask an intro to a bookkeeper")
    ask_reply = tg.sent_messages[-1]
    await bot.say(BOB, "/offer I know one", reply_to=ask_reply["message_id"])
    offer = tg.sent_messages[-1]
    assert offer["text"].startswith("Bob offers something to")
    assert "tg://user?id=101" in tg.sent[-1]["text"] and tg.sent[-1]["parse_mode"] == "HTML"
    tg.push(tg.callback(CREW, ALICE, offer["message_id"], button(offer, "Thank you")))
    await bot.settle()
    assert await bot.points() == {"Alice": 6, "Bob": 6}
    await bot.say(CAROL, "/join")
    # a member without @username is mentioned by Telegram as a text_mention entity
    text = "/offer Carol a lift"
    entity = {"type": "text_mention", "offset": 7, "length": 5, "user": CAROL}
    bot_command = {"type": "bot_command", "offset": 0, "length": 6}
    await bot.say(BOB, text, entities=[bot_command, entity])
    assert "Bob offers something to" in tg.sent[-1]["text"]
    assert "tg://user?id=103" in tg.sent[-1]["text"]
    await bot.say(BOB, "/offer @alice more help")
    assert await bot.points() == {"Alice": 6, "Bob": 16, "Carol": 0}


async def test_scheduled_attendance_post_and_tally_reach_the_group(bot, tg, clock):
    await bot.say(ALICE, "/meeting schedule day 3 19:00")
    await bot.say(BOB, "/join")
    before = len(tg.sent)
    for hour in (18, 19):
        clock.move_to(datetime(2026, 11, 3, hour, 0, tzinfo=UTC))
        await bot.app.game.run_due()
        await bot.adapter.deliver()
    posts = bot.sent_after(before)
    assert [p["text"][:22] for p in posts] == ["Our monthly meeting is", "Reminder: our meeting ",
                                                 "The meeting has starte"]
    attendance = tg.sent_messages[-1]
    reminder = posts[1]
    assert "tg://user?id=101" in reminder["text"] and "tg://user?id=102" in reminder["text"]
    tg.push(tg.callback(CREW, BOB, attendance["message_id"], button(attendance, "I'm here")))
    await bot.settle()
    clock.move_to(datetime(2026, 11, 3, 22, 0, tzinfo=UTC))
    await bot.app.game.run_due()
    await bot.adapter.deliver()
    # The tally is a photo (its recap picture) with the tally as the caption.
    recap = tg.uploads[-1]
    assert recap["method"] == "sendPhoto" and recap["chat_id"] == CREW
    assert ("tallied. Present: Bob (+1). 1 member could not make it this time."
            in recap["params"]["caption"])
    assert recap["content"][:8] == b"\x89PNG\r\n\x1a\n"
    assert await bot.points() == {"Alice": -5, "Bob": 1}


async def test_admin_only_command_refused_to_a_non_admin(bot, tg):
    await bot.say(BOB, "/settings circle_hours 2")
    assert "Only a crew admin can change a setting" in tg.sent[-1]["text"]
    await bot.say(ALICE, "/settings circle_hours 2")
    assert tg.sent[-1]["text"] == "circle_hours is now 2."


async def test_admin_rights_cost_one_call_per_group_and_follow_a_promotion(bot, tg):
    for who in (ALICE, BOB, CAROL):
        await bot.say(who, "/join")
    assert tg.calls["getChatAdministrators"] == 1 and tg.calls["getChatMember"] == 0
    await bot.say(BOB, "/settings circle_hours 3")
    assert "Only a crew admin can change a setting" in tg.sent[-1]["text"]
    tg.push(tg.chat_member(CREW, BOB, "member", "administrator", by_user=ALICE))
    await bot.say(BOB, "/settings circle_hours 3")
    assert tg.sent[-1]["text"] == "circle_hours is now 3."
    assert tg.calls["getChatAdministrators"] == 2


async def test_hello_when_added_without_admin_rights(tg, bot):
    group = -1001000000002
    tg.add_chat(group, title="New crew")
    tg.push(tg.my_chat_member(group, "left", "member", ALICE))
    await bot.settle()
    hello = tg.sent[-1]
    assert hello["chat_id"] == group
    assert hello["text"].count("\n") >= 3
    assert "not an admin" in hello["text"] and "I listened button" in hello["text"]


async def test_a_redelivered_update_has_one_effect(bot, tg):
    update = tg.push(tg.message(CREW, ALICE, "/ask help with taxes"))
    await bot.settle()
    tg.push(update, redeliver=True)
    await bot.settle()
    assert await bot.points() == {"Alice": 5}
    assert sum("asks" in s["text"] for s in tg.sent) == 1


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_a_429_is_retried_then_the_reply_arrives(bot, tg):
    tg.fail_next("sendMessage", times=1, status=429, retry_after=1)
    await bot.say(ALICE, "/ask a bike")
    await tg.wait_sent(lambda s: "asks" in s["text"])
    assert tg.calls["sendMessage"] >= 2


async def test_a_failed_scheduled_post_stays_in_the_outbox_and_is_retried(bot, tg, clock):
    await bot.say(ALICE, "/checkin hello")
    clock.move_to(datetime(2026, 11, 4, tzinfo=UTC))
    await bot.app.game.run_due()
    tg.fail_next("sendMessage", times=1, status=500, description="Internal Server Error")
    await bot.adapter.deliver()
    assert not any("The circle has closed" in s["text"] for s in tg.sent)
    await bot.adapter.deliver()
    assert sum("The circle has closed" in s["text"] for s in tg.sent) == 1
    await bot.adapter.deliver()
    assert sum("The circle has closed" in s["text"] for s in tg.sent) == 1


async def test_markup_and_everyone_from_users_are_echoed_harmlessly(bot, tg):
    await bot.say({"id": 104, "is_bot": False, "first_name": "<b>Eve</b> @everyone"},
                  "/offer @bob <b>bold</b> @everyone")
    await bot.say(BOB, "/join")
    await bot.say({"id": 104, "is_bot": False, "first_name": "<b>Eve</b> @everyone"},
                  "/offer @bob <i>x</i>")
    reply = tg.sent[-1]
    assert reply["parse_mode"] == "HTML"
    assert "&lt;b&gt;Eve&lt;/b&gt; @everyone offers" in reply["text"]
    assert "<b>" not in reply["text"]
    await bot.say(ALICE, "/conflict @bob")
    await bot.say(BOB, "/conflict accept")
    await bot.say(ALICE, "/apologise share <b>sorry</b> @everyone")
    apology = tg.sent[-1]
    assert "parse_mode" not in apology or apology["parse_mode"] is None
    assert "\u201c<b>sorry</b> @everyone\u201d" in apology["text"]


async def test_private_chat_gets_directions_not_errors(bot, tg):
    tg.push(tg.private_message(ALICE, "/start"))
    tg.push(tg.private_message(ALICE, "/checkin hi"))
    await bot.settle()
    assert "add me to your crew's group" in tg.sent[-2]["text"]
    assert "work in your crew's group" in tg.sent[-1]["text"]
    assert await bot.points() == {}


async def test_a_member_leaving_the_chat_leaves_the_crew(bot, tg):
    await bot.say(ALICE, "/checkin hi")
    await bot.say(BOB, "/join")
    tg.push(tg.chat_member(CREW, BOB, "member", "left"))
    await bot.settle()
    crews = await bot.app.game.export()
    assert [m.active for m in crews[0].members] == [True, False]


async def test_crewbot_run_serves_telegram_from_the_environment_and_stops_on_sigterm(
        tg, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREWBOT_")}
    env.update(CREWBOT_TELEGRAM_TOKEN=tg.token,
               CREWBOT_TELEGRAM_API_URL=tg.base_url.removesuffix("/bot"),
               CREWBOT_DATABASE_URL=str(tmp_path / "run.sqlite3"),
               PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    for sig in (signal.SIGTERM, signal.SIGINT):
        before = tg.calls["getUpdates"]
        proc = subprocess.Popen([str(Path(sys.executable).parent / "crewbot"), "run"], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            await tg.wait_call("getUpdates", count=before + 1, timeout=30)
            tg.push(tg.message(CREW, ALICE, "/ask a ride"))
            await tg.wait_sent(lambda s: "Alice asks" in s["text"], timeout=30)
            proc.send_signal(sig)
            out, err = await asyncio.to_thread(proc.communicate, timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, err
        assert tg.token not in err and tg.token not in out
        assert "outcome=stopped" in err


async def test_a_misspelt_command_gets_the_nearest_one(bot, tg):
    # Telegram passes any /word on, so the core answers what it does not know.
    await bot.say(ALICE, "/chekin tired")
    assert tg.sent[-1]["text"] == ("I don't know /chekin. Did you mean /checkin? /help lists "
                                   "every command.")
    await bot.say(ALICE, "/help checkin")
    assert tg.sent[-1]["text"].startswith("/checkin <something true for you right now>\n")
