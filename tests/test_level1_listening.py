"""Level 1, the feelings circle, played through the console (GAME.md "Level 1: Listening")."""

from __future__ import annotations

from tests.conftest import last_bot

COMPLETE = "The circle is complete"


def completions(lines: list[str]) -> list[str]:
    return [line for line in lines if COMPLETE in line]


async def checkin_texts(play, room: str = "crew") -> dict[str, list[str]]:
    """Each member's check-in texts in the room's open circle, straight from the store."""
    async with play.app.game.uow() as store:
        crew = await store.crews.crew("console", room)
        assert crew is not None
        circle = await store.circles.open_circle(crew.id)
        if circle is None:
            return {}
        texts: dict[str, list[str]] = {}
        for member in await store.crews.all_members(crew.id):
            for circle_id, _, text in await store.circles.member_checkins(member.id):
                if circle_id == circle.id:
                    texts.setdefault(member.name, []).append(text)
        return texts


async def listening_rows(play, room: str = "crew") -> list[tuple[str, str]]:
    """(member, source) of every listening_circle entry in the ledger."""
    for crew in await play.app.game.export():
        if crew.crew.chat_id == room:
            names = {m.id: m.name for m in crew.members}
            return sorted((names[e.member_id], e.source) for e in crew.ledger
                          if e.reason == "listening_circle")
    return []


async def test_reactions_complete_a_circle_and_score_one_each(play):
    lines = await play("""
        alice: /checkin hello world
        bob: /checkin tired but ok
        bob reacts 👍 #1
    """)
    assert lines[0] == "#1 alice: /checkin hello world"
    assert lines[1].startswith("#2 bot: alice checked in (1 of 1 member in this circle")
    assert lines[1].endswith("[I listened] [Pass]")
    assert lines[3].startswith("#4 bot: bob checked in (2 of 2 members in this circle")
    assert not completions(lines)
    assert await play.points() == {"alice": 0, "bob": 0}

    # a reaction on the bot's reply to a check-in counts like one on the check-in itself
    lines = await play("alice reacts ❤️ #4")
    assert lines == ["#5 bot: The circle is complete: everyone listened to everyone. "
                     "+1 point each for alice and bob. Thank you all."]
    assert await play.points() == {"alice": 1, "bob": 1}


async def test_buttons_complete_a_circle_of_three(play):
    lines = await play("""
        alice: /checkin glad it is Monday
        bob: /checkin a bit anxious
        carol: /checkin curious
        bob presses "I listened" #2
        carol presses "I listened" #2
        alice presses "I listened" #4
        carol presses "I listened" #4
        alice presses "I listened" #6
    """)
    assert "#7 bot: Noted: bob listened to alice." in lines
    assert not completions(lines)
    assert await play.points() == {"alice": 0, "bob": 0, "carol": 0}

    lines = await play('bob presses "I listened" #6')
    assert lines[0] == "#12 bot: Noted: bob listened to carol."
    assert lines[1] == ("#13 bot: The circle is complete: everyone listened to everyone. "
                        "+1 point each for alice, bob and carol. Thank you all.")
    assert await play.points() == {"alice": 1, "bob": 1, "carol": 1}


async def test_pressing_the_button_twice_is_one_confirmation(play):
    lines = await play("""
        alice: /checkin here
        bob: /checkin here too
        bob presses "I listened" #2
        bob presses "I listened" #2
    """)
    assert lines[-1] == "#6 bot: You already confirmed you listened to alice."
    assert await play.points() == {"alice": 0, "bob": 0}


async def test_removing_a_reaction_while_open_withdraws_listening(play):
    lines = await play("""
        alice: /checkin hello
        bob: /checkin hi
        bob reacts 👍 #1
        bob unreacts 👍 #1
        alice reacts 👍 #3
    """)
    # had bob's withdrawn reaction still counted, alice's reaction would have completed the circle
    assert not completions(lines)
    assert await play.points() == {"alice": 0, "bob": 0}

    lines = await play("bob reacts 🙏 #2")
    assert len(completions(lines)) == 1
    assert await play.points() == {"alice": 1, "bob": 1}


async def test_a_withdrawn_reaction_leaves_the_circle_incomplete_when_time_runs_out(play):
    lines = await play("""
        alice: /checkin hello
        bob: /checkin hi
        carol: /join
        alice reacts 👍 #3
        bob reacts 👍 #1
        bob unreacts 👍 #1
        :advance 25h
    """)
    # with carol on the roster the complete circle stayed open; bob withdrew before it ended
    assert not completions(lines)
    assert "Still waiting to be heard: alice (1 confirmation missing)." in last_bot(lines)
    assert await play.points() == {"alice": 0, "bob": 0, "carol": 0}


async def test_removing_one_of_two_ways_of_confirming_keeps_the_other(play):
    lines = await play("""
        alice: /checkin hello
        bob: /checkin hi
        bob presses "I listened" #2
        bob reacts 👍 #1
        bob unreacts 👍 #1
        alice reacts 👍 #3
    """)
    assert len(completions(lines)) == 1
    assert await play.points() == {"alice": 1, "bob": 1}


async def test_a_second_checkin_replaces_the_text_and_is_still_one_checkin(play):
    lines = await play("""
        alice: /checkin first thoughts
        bob: /join
        alice: /checkin on second thoughts, happy
    """)
    assert lines[-1].startswith("#6 bot: alice updated their check-in (1 of 2 members in this "
                                "circle")
    assert await checkin_texts(play) == {"alice": ["on second thoughts, happy"]}

    lines = await play("""
        bob: /checkin fine
        bob reacts 👍 #5
        alice reacts 👍 #7
    """)
    assert lines[1].startswith("#8 bot: bob checked in (2 of 2 members in this circle")
    assert len(completions(lines)) == 1
    assert "+1 point each for alice and bob." in last_bot(lines)
    assert await play.points() == {"alice": 1, "bob": 1}
    assert await listening_rows(play) == [("alice", "circle:1"), ("bob", "circle:1")]


async def test_the_authors_own_reaction_and_button_do_not_count(play):
    lines = await play("""
        alice: /checkin hello
        bob: /checkin hi
        alice reacts 👍 #1
        alice reacts 👍 #2
        bob reacts 👍 #3
        alice presses "I listened" #2
    """)
    assert lines[-1] == ("#5 bot: That is your own check-in; listening counts from the others. "
                         "Press I listened on theirs.")
    assert not completions(lines)

    lines = await play(":advance 25h")
    closing = last_bot(lines)
    assert "no points this round" in closing
    assert "alice (1 confirmation missing); bob (1 confirmation missing)" in closing
    assert await play.points() == {"alice": 0, "bob": 0}


async def test_a_reaction_from_someone_outside_the_crew_does_not_count(play):
    lines = await play("""
        alice: /checkin hello
        bob: /checkin hi
        alice reacts 👍 #3
        dave reacts 👍 #1
    """)
    assert lines[-1] == "#5 bot: dave, join the crew with /join first so that your reaction counts."
    assert not completions(lines)
    assert await play.points() == {"alice": 0, "bob": 0}


async def test_complete_with_the_whole_roster_closes_at_once(play):
    lines = await play("""
        alice: /checkin hello
        bob: /checkin hi
        carol: /join
        alice reacts 👍 #3
        bob reacts 👍 #1
    """)
    # complete, but carol is on the roster and has not checked in: it stays open
    assert not completions(lines)
    assert await play.points() == {"alice": 0, "bob": 0, "carol": 0}

    lines = await play("""
        carol: /checkin late but here
        carol reacts 👍 #1
        carol reacts 👍 #3
        alice reacts 👍 #7
    """)
    assert not completions(lines)
    lines = await play("bob reacts 👍 #7")
    assert lines == ["#9 bot: The circle is complete: everyone listened to everyone. "
                     "+1 point each for alice, bob and carol. Thank you all."]
    assert await play.points() == {"alice": 1, "bob": 1, "carol": 1}

    # and it is closed: a new check-in opens a new circle
    lines = await play("alice: /checkin again")
    assert lines[1].startswith("#11 bot: alice checked in (1 of 3 members in this circle")


async def test_a_member_leaving_lets_a_complete_circle_close_at_once(play):
    lines = await play("""
        alice: /checkin hello
        bob: /checkin hi
        carol: /join
        alice reacts 👍 #3
        bob reacts 👍 #1
    """)
    assert not completions(lines)
    lines = await play(":leave carol")
    assert len(completions(lines)) == 1
    assert await play.points() == {"alice": 1, "bob": 1, "carol": 0}


async def test_a_complete_circle_short_of_the_roster_scores_when_the_window_ends(play):
    await play("""
        alice: /checkin hello
        bob: /checkin hi
        carol: /join
        alice reacts 👍 #3
        bob reacts 👍 #1
    """)
    lines = await play(":advance 23h")
    assert not completions(lines)
    assert await play.points() == {"alice": 0, "bob": 0, "carol": 0}
    lines = await play(":advance 2h")
    assert lines == ["#7 bot: The circle is complete: everyone listened to everyone. "
                     "+1 point each for alice and bob. Thank you all."]
    assert await play.points() == {"alice": 1, "bob": 1, "carol": 0}


async def test_an_incomplete_circle_closes_after_circle_hours_names_who_waits(play):
    await play("""
        alice: /checkin hello
        bob: /checkin hi
        carol: /checkin meh
        bob reacts 👍 #1
        carol reacts 👍 #1
        alice reacts 👍 #3
    """)
    lines = await play(":advance 23h")
    assert lines == []
    lines = await play(":advance 25h")
    assert lines == [
        "#7 bot: The circle has closed. Thank you for sharing; not everyone was heard in time, so "
        "no points this round. Still waiting to be heard: bob (1 confirmation missing); "
        "carol (2 confirmations missing). Try again with /checkin."]
    assert await play.points() == {"alice": 0, "bob": 0, "carol": 0}

    # a late confirmation changes nothing
    lines = await play("""
        alice reacts 👍 #5
        bob reacts 👍 #5
        carol reacts 👍 #3
    """)
    assert not completions(lines)
    assert await play.points() == {"alice": 0, "bob": 0, "carol": 0}


async def test_circle_hours_setting_sets_the_window(play):
    await play("""
        alice: /settings circle_hours 2
        alice: /checkin hello
        bob: /checkin hi
    """)
    assert await play(":advance 90m") == []
    lines = await play(":advance 1h")
    assert "Still waiting to be heard: alice (1 confirmation missing); " \
           "bob (1 confirmation missing)." in last_bot(lines)


async def test_a_circle_of_one_participant_scores_nothing(play):
    lines = await play("""
        alice: /checkin just me
        alice presses "I listened" #2
    """)
    # alice is the whole roster and has checked in, but one check-in is not a circle
    assert not completions(lines)
    lines = await play(":advance 25h")
    assert lines == ["#4 bot: The circle has closed with only alice's check-in; a circle needs "
                     "at least two. Start a new one any time with /checkin."]
    assert await play.points() == {"alice": 0}


async def test_a_circle_of_one_among_several_members_scores_nothing(play):
    await play("""
        alice: /join
        bob: /join
        bob: /checkin only me
        alice reacts 👍 #5
        :advance 25h
    """)
    assert await play.points() == {"alice": 0, "bob": 0}


async def test_listening_emoji_setting_restricts_which_reactions_count(play):
    lines = await play("""
        alice: /settings listening_emoji 👂
        bob: /checkin hi
        alice: /checkin hello
        alice reacts 👂 #3
        bob reacts 👍 #5
        bob reacts ❤️ #6
    """)
    assert lines[1] == "#2 bot: listening_emoji is now 👂."
    assert not completions(lines)
    assert await play.points() == {"alice": 0, "bob": 0}

    lines = await play("bob reacts 👂 #5")
    assert len(completions(lines)) == 1
    assert await play.points() == {"alice": 1, "bob": 1}


async def test_only_an_admin_sets_listening_emoji(play):
    lines = await play("""
        alice: /join
        bob: /settings listening_emoji 👂
        alice: /checkin hello
        bob: /checkin hi
        alice reacts 👍 #7
        bob reacts 👍 #5
    """)
    assert lines[3] == ("#4 bot: Only a crew admin can change a setting: ask one to send "
                        "/settings listening_emoji 👂. Anyone can read the settings with "
                        "/settings.")
    assert len(completions(lines)) == 1
    assert await play.points() == {"alice": 1, "bob": 1}


async def test_listening_emoji_allows_every_variant_of_a_listed_emoji(play):
    # Telegram reports ❤ without the emoji presentation selector that ❤️ typed in a chat has;
    # a skin tone is the same reaction too
    lines = await play("""
        alice: /settings listening_emoji ❤️ 👂
        alice: /checkin hello
        bob: /checkin hi
        bob reacts \u2764 #3
        alice reacts 👂🏽 #5
    """)
    assert len(completions(lines)) == 1
    assert await play.points() == {"alice": 1, "bob": 1}


async def test_listening_emoji_any_lifts_the_restriction(play):
    lines = await play("""
        alice: /settings listening_emoji 👂
        alice: /settings listening_emoji any
        alice: /checkin hello
        bob: /checkin hi
        bob reacts 👍 #5
        alice reacts 🌻 #7
    """)
    assert lines[3] == "#4 bot: listening_emoji is now any."
    assert len(completions(lines)) == 1
    assert await play.points() == {"alice": 1, "bob": 1}


async def test_checkin_without_text_is_refused_and_changes_nothing(play):
    lines = await play("""
        alice: /join
        bob: /join
        alice: /checkin
        alice: /checkin@crewbot
    """)
    for reply in (lines[5], lines[7]):
        assert reply.startswith("#")
        assert " bot: Say something true for you right now" in reply
        assert reply.endswith("Usage: /checkin <something true for you right now>")
    lines = await play("bob: /checkin fine")
    assert lines[1].startswith("#10 bot: bob checked in (1 of 2 members in this circle")
    assert await checkin_texts(play) == {"bob": ["fine"]}


async def test_checkin_over_2000_characters_is_refused_not_cut(play):
    await play("""
        alice: /join
        bob: /join
    """)
    lines = await play("alice: /checkin " + "x" * 2001)
    assert lines[1] == ("#6 bot: That check-in is 2001 characters; the limit is 2000. Please "
                        "shorten it and send it again.")
    assert await checkin_texts(play) == {}

    lines = await play("alice: /checkin " + "y" * 2000)
    assert lines[1].startswith("#8 bot: alice checked in (1 of 2 members in this circle")
    # a too-long second check-in does not replace the first
    lines = await play("alice: /checkin " + "z" * 2001)
    assert "the limit is 2000" in last_bot(lines)
    assert await checkin_texts(play) == {"alice": ["y" * 2000]}
    assert await play.points() == {"alice": 0, "bob": 0}


async def test_a_circle_awards_at_most_once(play):
    lines = await play("""
        alice: /checkin hello
        bob: /checkin hi
        bob reacts 👍 #1
        alice reacts 👍 #3
    """)
    assert len(completions(lines)) == 1
    lines = await play("""
        bob unreacts 👍 #1
        bob reacts 👍 #1
        alice reacts 👋 #4
        bob presses "I listened" #2
        :advance 25h
        :advance 3d
    """)
    closed = ("# That check-in's circle has already closed, so the reaction changes nothing. "
              "Start a new circle with /checkin.")
    assert lines == [closed, closed, closed,
                     "#6 bot: That circle has already closed. Start a new one with /checkin."]
    assert await play.points() == {"alice": 1, "bob": 1}
    assert await listening_rows(play) == [("alice", "circle:1"), ("bob", "circle:1")]

    # a new circle is a new chance
    lines = await play("""
        bob: /checkin another day
        alice: /checkin and another
        alice reacts 👍 #7
        bob reacts 👍 #9
    """)
    assert len(completions(lines)) == 1
    assert await play.points() == {"alice": 2, "bob": 2}
    assert await listening_rows(play) == [("alice", "circle:1"), ("alice", "circle:2"),
                                          ("bob", "circle:1"), ("bob", "circle:2")]
