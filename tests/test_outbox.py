"""The outbox: a queued post goes to one sender at a time, and a failed one is sent later."""

from __future__ import annotations

from datetime import timedelta

from bot.app import open_app
from bot.commands.events import Actor, Chat, CommandReceived

CHAT = Chat("telegram", "-100", "crew")


async def queue_one_post(game, clock) -> None:
    await game.handle(CommandReceived(CHAT, Actor("1", "alice"), "/checkin hi"))
    clock.move_to(clock() + timedelta(hours=25))
    assert await game.run_due() == 1


async def test_two_processes_never_take_the_same_post(db_url, clock):
    first, second = await open_app(db_url, clock), await open_app(db_url, clock)
    try:
        await queue_one_post(first.game, clock)
        taken = await first.game.pending_posts("telegram")
        assert len(taken) == 1 and "The circle has closed" in taken[0].message.plain()
        assert await second.game.pending_posts("telegram") == []
        await first.game.post_failed(taken[0])  # the send failed: free for the next try
        retaken = await second.game.pending_posts("telegram")
        assert [p.id for p in retaken] == [taken[0].id]
        await second.game.post_delivered(retaken[0], "m1")
        clock.move_to(clock() + timedelta(hours=1))
        assert await first.game.pending_posts("telegram") == []
    finally:
        await first.close()
        await second.close()


async def test_a_post_whose_sender_died_is_sent_after_its_lease(any_app, clock):
    game = any_app.game
    await queue_one_post(game, clock)
    taken = await game.pending_posts("telegram")  # ...and the process dies here
    assert await game.pending_posts("telegram") == []
    clock.move_to(clock() + timedelta(seconds=61))
    assert [p.id for p in await game.pending_posts("telegram")] == [taken[0].id]
    assert await game.pending_posts("console") == []  # posts belong to their platform


async def test_one_delivery_round_drains_more_than_one_batch(app, clock):
    game = app.game
    for n in range(150):
        await game.handle(CommandReceived(Chat("telegram", f"-{n}", "crew"), Actor("1", "alice"),
                                          "/checkin hi"))
    clock.move_to(clock() + timedelta(hours=25))
    assert await game.run_due() == 150
    chats: list[str] = []

    async def send(posted) -> str:
        chats.append(posted.chat.chat_id)
        return f"m{len(chats)}"

    assert await game.deliver("telegram", send) == 150
    assert sorted(chats) == sorted(f"-{n}" for n in range(150))
    assert await game.deliver("telegram", send) == 0


async def test_a_round_where_nothing_can_be_sent_ends_and_keeps_the_posts(app, clock):
    game = app.game
    await queue_one_post(game, clock)

    async def refuse(posted) -> str:
        raise ConnectionError("platform down")

    assert await game.deliver("telegram", refuse, ConnectionError) == 0
    assert len(await game.pending_posts("telegram")) == 1  # still queued, free for next time
