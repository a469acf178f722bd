"""The console adapter's line protocol: numbering, references, directives and bad lines."""

from __future__ import annotations

import re

from tests.conftest import last_bot

NUMBERED = re.compile(r"^#(\d+) ([^\s:]+): ")


async def roster(play, room: str = "crew") -> list[str]:
    async with play.app.game.uow() as store:
        crew = await store.crews.crew("console", room)
        return [m.name for m in await store.crews.roster(crew.id)] if crew else []


async def test_every_message_is_numbered_in_order_and_bot_lines_continue_indented(play):
    lines = await play("""
        alice: hello, no command here
        alice: /ask a hand
        bob: /join
        alice: /leaderboard
    """)
    numbered = [line for line in lines if NUMBERED.match(line)]
    assert [NUMBERED.match(line).groups() for line in numbered] == [
        ("1", "alice"), ("2", "alice"), ("3", "bot"), ("4", "bob"), ("5", "bot"),
        ("6", "alice"), ("7", "bot")]
    assert lines[0] == "#1 alice: hello, no command here"
    # the leaderboard is one message of several lines: the rest are indented by 3 spaces
    board = lines[lines.index(numbered[-1]):]
    assert len(board) == 3
    assert all(line.startswith("   ") and not line.startswith("    ") for line in board[1:])
    assert "alice 5" in board[1]
    assert "bob 0" in board[2]


async def test_caret_name_is_that_members_latest_message_in_the_room(play):
    lines = await play("""
        alice: /checkin first
        bob: /checkin hi
        alice: /ask a lift
        bob replies ^alice: /offer a lift
    """)
    # ^alice was #5, alice's ask, so the offer goes to her
    assert lines[7].startswith("#8 bot: bob offers something to @alice (offer 1)")
    assert await play.points() == {"alice": 5, "bob": 5}

    # ^bob is now #7, bob's /offer: pressing its button through the link thanks the offer
    lines = await play('alice presses "Thank you" ^bob')
    assert lines == ["#9 bot: alice thanks bob for offer 1: +1 each for talking and listening "
                     "with mutual regard."]
    assert await play.points() == {"alice": 6, "bob": 6}


async def test_caret_bot_is_the_bots_latest_message(play):
    lines = await play("""
        bob: /join
        alice: /offer @bob a lift
        bob: /score
        bob presses "Thank you" ^bot
    """)
    # ^bot is the /score reply now, which has no button: the line names the one that has it
    assert lines[-1] == ("! #6 has no \u201cThank you\u201d button. The \u201cThank you\u201d "
                         "button is on #4.")
    assert await play.points() == {"alice": 5, "bob": 0}

    lines = await play("""
        alice: /offer @bob a meal
        bob presses "Thank you" ^bot
    """)
    assert lines[-1] == ("#9 bot: bob thanks alice for offer 2: +1 each for talking and "
                         "listening with mutual regard.")
    assert await play.points() == {"alice": 11, "bob": 1}


async def test_malformed_lines_print_a_bang_line_and_change_nothing(play):
    await play("""
        alice: /checkin hello
        bob: /checkin hi
    """)
    bad = [
        "bob reacts #1",                      # no emoji
        "bob reacts 👍 #1 please",            # trailing words
        'bob presses I listened #2',          # label not quoted
        "bob /ask no colon",
        "bob replies #1 /offer no colon",
        ":advance soon",
        ":advance -3h",
        ":advance",
        ":at yesterday",
        ":at 2026-11-01T09:00",               # the past
        ":room",
        ":room two words",
        ":leave",
        ":leave bob and alice",
        ":bogus",
        "bob reacts 👍 1",                    # REF without # or ^
        "bob reacts 👍 #99",
        "bob reacts 👍 #0",
        "bob reacts 👍 ^",
        "bob reacts 👍 ^zed",
        "bob replies #99: /offer hi",
        'bob presses "I listened" ^carol',
        "carol",
    ]
    for line in bad:
        printed = await play(line)
        assert len(printed) == 1 and printed[0].startswith("! "), (line, printed)
    # nothing changed: bob never confirmed, carol never joined, the clock never moved
    assert await roster(play) == ["alice", "bob"]
    lines = await play("""
        alice reacts 👍 #3
        :advance 23h
    """)
    assert lines == []
    lines = await play("alice: /score")
    assert lines[0] == "#5 alice: /score"
    lines = await play(":advance 1h")
    assert "alice (1 confirmation missing)" in last_bot(lines)
    assert await play.points() == {"alice": 0, "bob": 0}


async def test_bad_reference_lines_say_what_a_reference_is(play):
    await play("alice: /checkin hello")
    assert await play("bob reacts 👍 #99") == ["! there is no message #99 in this session"]
    assert await play("bob reacts 👍 ^zed") == ["! zed has posted nothing in room crew yet"]
    assert await play("bob reacts 👍 alice") == [
        "! 'alice' is not a reference; REF is #N (message N) or ^NAME"]
    assert await roster(play) == ["alice"]


async def test_blank_and_comment_lines_are_ignored(play):
    lines = await play("""
        alice: /ask one

        # a comment: nothing happens
           # an indented comment
        #1 alice: /ask pasted from a transcript
        #2 bot: alice asks (ask 1).
        alice: /ask two
    """)
    assert lines == [
        "#1 alice: /ask one",
        "#2 bot: alice asks (ask 1). +5 points for asking for what you need. Anyone can reply "
        "to this with /offer.",
        "#3 alice: /ask two",
        "#4 bot: alice asks (ask 2). +5 points for asking for what you need. Anyone can reply "
        "to this with /offer.",
    ]
    assert await play.points() == {"alice": 10}


async def test_rooms_are_separate_crews(play):
    lines = await play("""
        alice: /checkin in the crew room
        bob: /checkin me too
        :room other
        bob: /checkin in the other room
        carol: /checkin same
    """)
    assert lines[5].startswith("#6 bot: bob checked in (1 of 1 member in this circle")
    assert lines[7].startswith("#8 bot: carol checked in (2 of 2 members in this circle")

    # reacting from room other to a message of room crew confirms nothing in either
    lines = await play("""
        carol reacts 👍 #1
        bob reacts 👍 #1
        alice reacts 👍 #3
    """)
    assert lines == ["# That message is not a check-in or a meeting's attendance post, so the "
                     "reaction changes nothing."] * 3
    # ^NAME looks only in the current room; a reply cannot reach into another room
    assert await play("bob reacts 👍 ^alice") == ["! alice has posted nothing in room other yet"]
    assert await play("bob replies #1: /offer hi") == [
        "! you can only reply to a message in the current room"]

    lines = await play("""
        carol reacts 👍 ^bob
        bob reacts 👍 ^carol
    """)
    assert len([line for line in lines if "The circle is complete" in line]) == 1
    assert await play.points("other") == {"bob": 1, "carol": 1}
    assert await play.points("crew") == {"alice": 0, "bob": 0}
    assert await roster(play, "crew") == ["alice", "bob"]
    assert await roster(play, "other") == ["bob", "carol"]


async def test_each_room_has_its_own_admin_and_settings(play):
    lines = await play("""
        alice: /join
        :room other
        bob: /join
        alice: /settings circle_hours 2
        bob: /settings circle_hours 2
    """)
    assert lines[5] == ("#6 bot: Only a crew admin can change a setting: ask one to send "
                        "/settings circle_hours 2. Anyone can read the settings with /settings.")
    assert lines[7] == "#8 bot: circle_hours is now 2."
    lines = await play("""
        :room crew
        alice: /settings
    """)
    assert "   circle_hours: 24 \u2014 hours a check-in circle stays open (1 to 168)" in lines


async def test_a_scheduled_post_for_another_room_says_which_room(play):
    await play("""
        alice: /checkin hello
        bob: /checkin hi
        :room other
        carol: /join
    """)
    lines = await play(":advance 25h")
    assert lines[0] == "# in room crew"
    assert lines[1].startswith("#7 bot: The circle has closed.")
    assert "Still waiting to be heard: alice (1 confirmation missing); " \
           "bob (1 confirmation missing)." in lines[1]


async def test_pressing_a_label_is_case_insensitive(play):
    lines = await play("""
        alice: /checkin hello
        bob: /checkin hi
        bob presses "i LISTENED" #2
        alice presses "I LISTENED" #4
    """)
    assert lines[4] == "#5 bot: Noted: bob listened to alice."
    assert lines[5] == "#6 bot: Noted: alice listened to bob."
    assert "The circle is complete" in lines[6]
    assert await play.points() == {"alice": 1, "bob": 1}


async def test_pressing_a_label_a_message_does_not_have_names_where_that_button_is(play):
    lines = await play("""
        alice: /checkin hello
        bob: /join
        bob: hi
        bob presses "Thank you" #2
        bob presses "I listen" #2
        bob presses "I listened" #5
        bob presses "Thank you" #4
    """)
    assert lines[5:] == [
        "! #2 has no \u201cThank you\u201d button; its buttons are \u201cI listened\u201d and "
        "\u201cPass\u201d.",
        "! #2 has no \u201cI listen\u201d button; its buttons are \u201cI listened\u201d and "
        "\u201cPass\u201d.",
        "! #5 has no \u201cI listened\u201d button. The \u201cI listened\u201d button is on #2.",
        "! #4 has no buttons, and no message in room crew has a \u201cThank you\u201d button."]
    # nothing was pressed, nobody listened yet
    lines = await play('alice presses "I listened" ^bot')
    assert lines == ["! #4 has no \u201cI listened\u201d button. The \u201cI listened\u201d "
                     "button is on #2."]
    # the check-in's own message stands for it, as its reply's button does
    lines = await play('bob presses "I listened" #1')
    assert lines == ["#6 bot: Noted: bob listened to alice."]


async def test_the_latest_message_with_the_button_is_named_in_this_room_only(play):
    await play("""
        bob: /join
        alice: /offer @bob a lift
        alice: /offer @bob a meal
        :room other
        dan: /join
        carol: /offer @dan a song
        :room crew
    """)
    # #4 and #6 have the button (#6 is the latest in room crew); #10 is in room other
    assert await play('bob presses "thank YOU" #2') == [
        "! #2 has no \u201cthank YOU\u201d button. The \u201cThank you\u201d button is on #6."]
    lines = await play("""
        :room other
        dan presses "Thank you" #7
    """)
    assert lines == ["! #7 has no \u201cThank you\u201d button. The \u201cThank you\u201d "
                     "button is on #10."]
    assert await play.points("crew") == {"alice": 10, "bob": 0}


async def test_at_takes_an_offset_and_advance_takes_compound_spans(play):
    await play("""
        alice: /settings circle_hours 36
        alice: /checkin hello
        bob: /checkin hi
    """)
    # the circle closes at Tue 21:00 UTC, that is 22:00 at +01:00
    assert await play(":at 2026-11-03T21:59+01:00") == []
    lines = await play(":at 2026-11-03T22:00+01:00")
    assert "The circle has closed." in last_bot(lines)

    await play("""
        alice: /checkin again
        bob: /checkin again
    """)
    assert await play(":advance 1d11h") == []
    lines = await play(":advance 90m")
    assert "The circle has closed." in last_bot(lines)


async def test_buttons_and_ids_do_not_reach_into_another_room(play):
    await play("""
        alice: /checkin a
        bob: /checkin b
        :room other
        bob: /join
        alice: /offer @bob a hand
    """)
    lines = await play("""
        :room crew
        bob presses "Thank you" #8
        bob: /thanks 1
        :room other
        carol presses "I listened" #4
        bob presses "I listened" #2
    """)
    assert [line for line in lines if " bot: " in line] == [
        "#9 bot: There is no such offer in this crew. /thanks takes the id of an offer made "
        "to you.",
        "#11 bot: There is no such offer in this crew. /thanks takes the id of an offer made "
        "to you.",
        "#12 bot: That check-in is not one of this crew's; confirm listening in the chat where "
        "it was shared. /circle shows this crew's open circle.",
        "#13 bot: That check-in is not one of this crew's; confirm listening in the chat where "
        "it was shared. /circle shows this crew's open circle."]
    assert await play.points("crew") == {"alice": 0, "bob": 0}
    assert await play.points("other") == {"alice": 5, "bob": 0}
    # the refused press did not enrol carol in room other either
    assert await roster(play, "other") == ["bob", "alice"]
    assert await roster(play, "crew") == ["alice", "bob"]
