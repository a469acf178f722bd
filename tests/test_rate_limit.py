"""The per-member command rate limit (`rate_limit`, default 20 a minute): a clear reply, no
points lost or won by a refused command, other members unaffected, and a crew setting."""

from __future__ import annotations

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
