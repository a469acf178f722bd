"""A reaction that does not count: the console says why in a `# ` note; the platforms stay
silent (the real Telegram and Discord clients against the loopback fakes)."""

from __future__ import annotations

from tests.conftest import last_bot

# The fixtures tg and bot (Telegram), dc and bot (Discord) come from their own test modules.
from tests.test_discord import ALICE as DC_ALICE
from tests.test_discord import BOB as DC_BOB
from tests.test_discord import (
    GENERAL,
    GUILD,
    dc,  # noqa: F401
    handled,
    message_id,
    slash,
)
from tests.test_discord import bot as dc_bot  # noqa: F401
from tests.test_telegram import (
    ALICE,
    CAROL,
    CREW,
    tg,  # noqa: F401
)
from tests.test_telegram import bot as tg_bot  # noqa: F401

NOT_A_TARGET = ("# That message is not a check-in or a meeting's attendance post, so the "
                "reaction changes nothing.")


async def test_each_reaction_that_does_not_count_says_why_and_changes_nothing(play):
    await play("""
        alice: /settings listening_emoji 👂 ❤️
        bob: /join
        alice: /checkin hello
        alice: just chatting
    """)
    lines = await play("""
        bob reacts 👂 #7
        alice reacts 👂 #5
        bob reacts 👍 #5
        carol unreacts 👂 #5
    """)
    assert lines == [
        NOT_A_TARGET,
        "# That is alice's own check-in; listening counts from the others.",
        "# 👍 is not one of this crew's listening emoji (👂 ❤️), so it changes nothing. React "
        "with one of them or press \u201cI listened\u201d.",
        "# carol is not in this crew, so taking back the reaction changes nothing.",
    ]
    # a reaction that counts has no note
    assert await play("bob reacts 👂 #5") == []
    lines = await play(":advance 25h")
    assert "alice (" not in last_bot(lines)


async def test_a_reaction_in_a_room_with_no_crew_yet_says_why(play):
    await play("alice: /checkin hello")
    lines = await play("""
        :room empty
        bob reacts 👍 #1
    """)
    assert lines == [NOT_A_TARGET]
    assert await play.points("empty") == {}


async def test_meeting_reactions_that_do_not_count_say_why(play):
    lines = await play("""
        alice: /join
        bob: /join
        alice: /meeting now
        bob reacts 👍 #6
        bob unreacts 👍 #6
    """)
    assert lines[-2:] == ["#7 bot: bob is here.",
                          "# Taking back a reaction does not change who was at the meeting."]
    lines = await play("""
        :advance 3h
        alice reacts 👍 #6
    """)
    assert lines[-1] == "# Attendance for that meeting is closed, so the reaction changes nothing."
    assert await play.points() == {"alice": -5, "bob": 1}


async def test_telegram_stays_silent_about_reactions_that_do_not_count(tg_bot, tg):  # noqa: F811
    alice_msg = await tg_bot.say(ALICE, "/checkin hello")
    chat = await tg_bot.say(ALICE, "just chatting")
    sent = len(tg.sent)
    tg.push(tg.reaction(CREW, ALICE, alice_msg["message_id"], new=["👍"]))  # own check-in
    tg.push(tg.reaction(CREW, ALICE, chat["message_id"], new=["👍"]))  # not a check-in
    tg.push(tg.reaction(CREW, CAROL, alice_msg["message_id"], old=["👍"], new=[]))  # not a member
    await tg_bot.settle()
    assert tg.sent[sent:] == []
    assert await tg_bot.points() == {"Alice": 0}


async def test_discord_stays_silent_about_reactions_that_do_not_count(dc_bot, dc, app):  # noqa: F811
    alice = await slash(dc, DC_ALICE, "checkin", text="hello")
    alice_msg = message_id(alice, dc)
    before = len(dc.calls_of("message")) + len(dc.calls_of("callback"))
    add, remove = "MESSAGE_REACTION_ADD", "MESSAGE_REACTION_REMOVE"
    await handled(dc_bot, dc.reaction_add(GUILD, GENERAL, alice_msg, DC_ALICE, "👍"), dc, add)
    await handled(dc_bot, dc.reaction_remove(GUILD, GENERAL, alice_msg, DC_BOB, "👍"), dc, remove)
    assert len(dc.calls_of("message")) + len(dc.calls_of("callback")) == before
