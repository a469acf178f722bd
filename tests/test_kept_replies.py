"""Replies kept with their event: sent by whoever gets the event again only once the process
that kept them has ended, never while it still runs (PostgreSQL tells by its session lock)."""

from __future__ import annotations

from bot.app import open_app
from bot.commands.events import Actor, Chat, CommandReceived
from storage.instance import Instance

CHAT = Chat("telegram", "-100", "Crew")


def ask(event_id: str) -> CommandReceived:
    return CommandReceived(CHAT, Actor("1", "Alice"), "/ask a ride", message_id="7",
                           event_id=event_id)


async def test_kept_replies_go_to_another_process_only_once_theirs_has_ended(db_url, clock):
    first, second = await open_app(db_url, clock), await open_app(db_url, clock)
    alive = Instance(first.engine, first.game.holder)
    try:
        await alive.start()
        first.game.holder = alive.id
        replies = await first.game.handle(ask("tg:1"), {"reply_to": 7})
        assert [r.plain()[:11] for r in replies] == ["Alice asks "]
        # the first process has not sent them yet: a redelivery elsewhere, or a tick, waits
        postgres = first.engine.dialect.name == "postgresql"
        if postgres:
            assert await second.game.handle(ask("tg:1"), {"reply_to": 7}) == []
            assert await second.game.stale_replies("telegram") == []
        await alive.stop()  # the first process ends (on SQLite: any other process has ended)
        again = await second.game.handle(ask("tg:1"), {"reply_to": 7})
        assert [r.plain() for r in again] == [r.plain() for r in replies]
        assert await second.game.handle(ask("tg:1"), {"reply_to": 7}) == []  # claimed once
        await second.game.replies_sent("telegram", "tg:1")
        assert await first.game.stale_replies("telegram") == []
        assert await second.game.handle(ask("tg:1"), {"reply_to": 7}) == []
    finally:
        await alive.stop()
        await first.close()
        await second.close()


async def test_a_tick_sends_the_replies_of_an_ended_process(db_url, clock):
    first, second = await open_app(db_url, clock), await open_app(db_url, clock)
    running = Instance(second.engine, second.game.holder)
    try:
        await running.start()
        second.game.holder = running.id
        # kept by a process that holds no lock: one that has ended
        await first.game.handle(ask("tg:2"), {"reply_to": 7, "actor": "1"})
        [(event_id, chat, kept, messages)] = await second.game.stale_replies("telegram")
        assert (event_id, chat.chat_id, kept["reply_to"]) == ("tg:2", "-100", 7)
        assert messages[0].plain().startswith("Alice asks")
        assert await second.game.stale_replies("telegram") == []  # taken once
        if second.engine.dialect.name == "postgresql":  # the second runs: nobody takes them
            assert await first.game.stale_replies("telegram") == []
    finally:
        await running.stop()
        await first.close()
        await second.close()
