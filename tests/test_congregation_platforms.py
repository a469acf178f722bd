"""Congregations through the real clients against the fakes: on Telegram an invite link the bot
makes, sent by private message, and joining by it; on Discord a channel invite sent by DM; the
refusals people see on each."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from tests.fakes.telegram_api import FakeTelegram
from tests.test_telegram import ALICE, BOB, CAROL, CREW, Bot, button

LOBBY = -1002000000002
TITLES = {CREW: "Garden crew", LOBBY: "Lakeside lobby"}
BEA = {"id": 104, "is_bot": False, "first_name": "Bea", "username": "bea"}


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(bot_username="crewbot") as fake:
        fake.add_chat(CREW, title="Garden crew")
        fake.set_bot_admin(CREW)
        fake.set_admin(CREW, ALICE)
        fake.add_chat(LOBBY, title="Lakeside lobby")
        yield fake


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


async def said(bot: Bot, chat: int, user: dict, text: str) -> list[dict]:
    """What the bot sent (anywhere) after `user` said `text` in `chat`."""
    before = len(bot.tg.sent)
    bot.tg.push(bot.tg.message(chat, user, text, title=TITLES[chat]))
    await bot.settle()
    return bot.tg.sent[before:]


async def pressed(bot: Bot, message: dict, user: dict, label: str) -> list[dict]:
    before = len(bot.tg.sent)
    bot.tg.push(bot.tg.callback(CREW, user, message["message_id"], button(message, label)))
    await bot.settle()
    return bot.tg.sent[before:]


def to(sent: list[dict], chat: int) -> list[str]:
    return [m["text"] for m in sent if m["chat_id"] == chat]


async def opened(bot: Bot, *users: dict) -> None:
    """The users open a private chat with the bot (press Start), so that it may write them."""
    for user in users:
        bot.tg.push(bot.tg.private_message(user, "/start"))
    await bot.settle()


async def lobby_with_a_knock(bot: Bot, person: dict) -> dict:
    """A congregation with the Garden crew, open, its lobby, and `person` knocking; the knock
    as the crew's chat shows it."""
    await opened(bot, ALICE)
    await said(bot, CREW, BOB, "/join")
    sent = await said(bot, CREW, ALICE, "/congregation create Lakeside")
    code = re.search(r"join code of Lakeside is (\w+)", to(sent, ALICE["id"])[0]).group(1)
    await said(bot, CREW, ALICE, "/settings open yes")
    assert "now the lobby of Lakeside" in to(
        await said(bot, LOBBY, ALICE, f"/congregation lobby {code}"), LOBBY)[0]
    await said(bot, LOBBY, person, "/looking New in town, hoping for Sunday walks")
    await said(bot, LOBBY, person, "/knock garden crew")
    before = len(bot.tg.sent)
    await bot.adapter.deliver()  # the knock went to the crew through the outbox
    [knock] = [m for m in bot.tg.sent_messages[before:] if m["chat"]["id"] == CREW]
    assert "New in town, hoping for Sunday walks" in knock["text"]
    return knock


async def test_telegram_invite_link_by_private_message_and_joining_by_it(bot, tg):
    await opened(bot, BEA)
    knock = await lobby_with_a_knock(bot, BEA)
    # Bob is no admin: Telegram shows him the refusal as an alert, and nothing is sent
    assert await pressed(bot, knock, BOB, "Invite") == []
    assert tg.answered[-1]["show_alert"] is True
    assert "Only a crew admin can answer a knock" in tg.answered[-1]["text"]
    assert tg.invite_links == []

    sent = await pressed(bot, knock, ALICE, "Invite")
    [link] = tg.invite_links
    assert link["chat_id"] == CREW and link["member_limit"] == 1 and link["expire_date"]
    [dm] = to(sent, BEA["id"])
    assert "Garden crew would like to meet you" in dm and link["invite_link"] in dm
    assert "An invitation to this crew went to Bea, privately" in to(sent, CREW)[0]
    assert link["invite_link"] not in " ".join(to(sent, CREW))  # the link is for Bea alone

    before = len(tg.sent)
    tg.push(tg.chat_member(CREW, BEA, "left", "member", invite_link=link["invite_link"]))
    await bot.settle()
    assert "Welcome, Bea! The crew has 3 members" in to(tg.sent[before:], CREW)[0]
    assert "Nobody is looking for a crew in Lakeside" in to(
        await said(bot, LOBBY, ALICE, "/looking"), LOBBY)[0]


async def test_telegram_decline_and_refusals(bot, tg):
    knock = await lobby_with_a_knock(bot, BEA)  # Bea never opened a private chat
    sent = await pressed(bot, knock, ALICE, "Invite")
    assert "I could not reach Bea privately" in to(sent, CREW)[-1]
    # she opens one and knocks again; this time the crew declines
    await opened(bot, BEA)
    await said(bot, LOBBY, BEA, "/knock Garden crew")
    before = len(tg.sent_messages)
    await bot.adapter.deliver()
    [again] = [m for m in tg.sent_messages[before:] if m["chat"]["id"] == CREW]
    sent = await pressed(bot, again, ALICE, "Decline")
    [dm] = to(sent, BEA["id"])
    assert dm == ("Garden crew cannot take you in right now. /crews in the lobby lists other "
                  "open crews.")
    assert "Alice" not in dm
    # a lobby is no crew: game commands there are refused with what to do instead
    [refusal] = to(await said(bot, LOBBY, CAROL, "/checkin hello"), LOBBY)
    assert "This chat is the lobby of Lakeside" in refusal and "/looking" in refusal
    [refusal] = to(await said(bot, LOBBY, CAROL, "/knock Garden crew"), LOBBY)
    assert "Say a few words first with /looking" in refusal


async def test_telegram_a_bot_that_may_not_invite_says_so_in_the_invitation(bot, tg):
    await opened(bot, BEA)
    knock = await lobby_with_a_knock(bot, BEA)
    tg.set_bot_admin(CREW, False)  # no longer an admin: Telegram refuses to make links
    sent = await pressed(bot, knock, ALICE, "Invite")
    assert tg.invite_links == []
    [dm] = to(sent, BEA["id"])
    assert "Garden crew would like to meet you" in dm
    assert "I could not make an invite link to that group" in dm
    assert "Its admins can add you themselves" in dm
