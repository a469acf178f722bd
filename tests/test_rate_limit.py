"""The per-member command rate limit (`rate_limit`, default 20 a minute): a clear reply, no
points lost or won by a refused command, other members unaffected, and a crew setting."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta

from sqlalchemy import text

from bot.app import App, open_app
from bot.commands.events import Actor, ButtonPressed, Chat, CommandReceived
from tests.conftest import last_bot


async def test_the_21st_command_in_a_minute_is_refused_and_changes_nothing(play_any):
    await play_any("alice: /join\nbob: /join")
    for n in range(18):  # with /join: 19 commands from alice this minute
        await play_any(f"alice: /ask thing {n}")
    await play_any("alice: /leaderboard")  # the 20th
    before = await play_any.points()
    lines = await play_any("alice: /ask one more thing")
    assert last_bot(lines).endswith(
        "Slow down: you sent 20 commands in the last minute and this crew allows 20 "
        "a minute. Try again in 60 s; nothing was changed.")
    assert await play_any.points() == before
    # bob is not slowed down by alice
    assert "bob asks" in last_bot(await play_any("bob: /ask a lift"))
    # a minute later alice can play again
    lines = await play_any(":at 2026-11-02T09:00:30\nalice: /ask still here")
    assert "Try again in 30 s" in last_bot(lines)
    lines = await play_any(":at 2026-11-02T09:01:00\nalice: /ask now it works")
    assert "alice asks" in last_bot(lines)


async def test_plain_chat_and_reactions_are_not_counted(play):
    await play("alice: /join\nbob: /checkin hi")
    for n in range(30):
        await play(f"alice: just talking {n}")
    await play("\n".join(["alice reacts 👍 ^bob"] * 25))
    assert "alice checked in" in last_bot(await play("alice: /checkin fine"))


async def test_buttons_count_as_commands(app, clock):
    chat = Chat("telegram", "-5", "crew")
    alice = Actor("1", "alice")
    game = app.game
    await game.handle(CommandReceived(chat, alice, "/join"))
    for _ in range(19):
        await game.handle(ButtonPressed(chat, alice, action="p:0"))
    [refusal] = await game.handle(ButtonPressed(chat, alice, action="p:0"))
    assert refusal.private and refusal.plain().startswith("Slow down")


async def test_an_admin_sets_the_limit_and_0_turns_it_off(play):
    lines = await play("alice: /settings rate_limit 601")
    assert "rate_limit must be from 0 to 600, not 601" in last_bot(lines)
    lines = await play("alice: /settings")
    assert ("   rate_limit: 20 \u2014 commands a member may send a minute (0 to 600; 0 is no "
            "limit)") in lines
    assert last_bot(await play("alice: /settings rate_limit 3")).endswith("rate_limit is now 3.")
    await play("alice: /score")
    assert "Slow down" in last_bot(await play("alice: /score"))
    await play(":advance 1m\nalice: /settings rate_limit 0")
    for n in range(40):
        await play(f"alice: /ask item {n}")
    assert "alice asks" in last_bot(await play("alice: /ask the last"))


async def test_a_refused_command_does_not_join_the_crew(play):
    await play("alice: /settings rate_limit 1")
    await play("bob: /join")
    assert "Slow down" in last_bot(await play("bob: /leave"))
    lines = await play(":advance 1m\nbob: /leave")
    assert "bob" in last_bot(lines) and "Slow down" not in last_bot(lines)


async def test_two_game_instances_on_one_database_share_each_members_limit(db_url, clock):
    """Two bot processes (two Games, two engines) on one database: a member's commands are
    counted together, at once or in turn, and the refusal reads as with one process."""
    first, second = await open_app(db_url, clock), await open_app(db_url, clock)
    try:
        chat, alice, bob = Chat("telegram", "-7", "crew"), Actor("1", "alice"), Actor("2", "bob")
        ids = itertools.count(1)

        async def command(app: App, actor: Actor, text: str) -> str:
            event = CommandReceived(chat, actor, text, event_id=f"u{next(ids)}")
            return " ".join(m.plain() for m in await app.game.handle(event))

        await command(first, alice, "/join")
        await command(second, bob, "/join")
        # 19 more commands from alice, sent to both processes at once
        answers = await asyncio.gather(*(command((first, second)[n % 2], alice, f"/ask a {n}")
                                         for n in range(19)))
        assert not [a for a in answers if "Slow down" in a]
        refused = await command(second, alice, "/ask one more")
        assert refused == ("Slow down: you sent 20 commands in the last minute and this crew "
                           "allows 20 a minute. Try again in 60 s; nothing was changed.")
        assert "Slow down" in await command(first, alice, "/score")
        assert "Slow down" not in await command(first, bob, "/score")  # bob has his own
        # at once, over the limit: exactly the limit's worth goes through, counted by both
        clock.move_to(clock() + timedelta(minutes=1))
        answers = await asyncio.gather(*(command((first, second)[n % 2], bob, f"/ask b {n}")
                                         for n in range(30)))
        assert sum("Slow down" not in a for a in answers) == 20  # a new minute for bob
        assert sum("Slow down" in a for a in answers) == 10
    finally:
        await first.close()
        await second.close()


async def test_a_command_refused_for_another_reason_still_counts(play_any):
    await play_any("alice: /settings rate_limit 3\nalice: /nosuchcommand")
    await play_any("alice: /thanks 99")  # no such offer: refused, but counted
    assert "Slow down: you sent 3 commands" in last_bot(await play_any("alice: /score"))


async def test_ended_windows_are_forgotten_by_the_due_work(any_app, clock):
    chat = Chat("telegram", "-8", "crew")
    await any_app.game.handle(CommandReceived(chat, Actor("1", "alice"), "/join"))
    async with any_app.engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM member_windows")) == 1
    await any_app.game.run_due(clock() + timedelta(seconds=59))
    async with any_app.engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM member_windows")) == 1
    await any_app.game.run_due(clock() + timedelta(seconds=60))
    async with any_app.engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM member_windows")) == 0
