"""Commands in the wrong chat type, through the real python-telegram-bot client: in a private
chat every game command, however odd, gets directions and changes no game table."""

from __future__ import annotations

from reliability.platforms import TelegramDriver
from reliability.snapshot import snapshot
from tests.fakes.telegram_api import FakeTelegram

ODD = ["/checkin hi", "/ask \x00 a lift", "/settings mode rhythm", "/revoke 1", "/thanks 1",
       "/meeting now", "/coown Bread @everyone", "/forgetme confirm", "/nonsense", "/start",
       "/offer @bob <b>x</b>", "/checkin@crewbot " + "💥" * 3000]


async def test_game_commands_in_a_private_chat_get_directions_and_change_nothing(app, clock):
    tg = FakeTelegram(bot_username="crewbot")
    async with tg, TelegramDriver(tg, app, clock) as driver:
        alice = driver.user("alice")
        await driver.push(tg.message(-1001000000001, alice, "/ask a lift"))  # a real crew
        before = await snapshot(app.engine)
        sent = len(tg.sent)
        for text in ODD:
            await driver.push(tg.private_message(alice, text))
        assert driver.adapter.errors == []
    replies = tg.sent[sent:]
    assert len(replies) == len(ODD)
    assert all(r["chat_id"] == alice["id"] for r in replies)
    assert all("group" in r["text"] for r in replies)
    assert await snapshot(app.engine) == before
