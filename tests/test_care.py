"""Care and consent through the console: crew modes, /away, tallies and repairs that never shame
anyone in public, Pass, money privacy, the confidentiality agreement and pointers to real help."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.commands.events import Actor, ButtonPressed, Chat
from storage.models import Base, FavourRow, OutboxRow
from tests.conftest import last_bot

# The same small game in every mode: a circle, an ask/offer/thanks, a meeting carol misses and
# a repair between alice and carol that ends unresolved. alice is the first member: the admin.
CREW = """
    alice: /join
    bob: /join
    carol: /join
"""
CIRCLE = """
    alice: /checkin glad to be here
    bob: /checkin a bit tired
    bob reacts 👍 ^alice
    alice reacts 👍 ^bob
    :advance 1d
"""
FAVOURS = """
    carol: /ask a lift to the station
    bob: /offer @carol a lift on Friday
    carol: /thanks
"""
MEETING = """
    alice: /meeting now
    alice: /here
    bob: /here
    :advance 3h
"""
CONFLICT = """
    alice: /conflict @carol
    carol: /conflict accept
    carol: /conflict unresolved
"""
GAME = CIRCLE + FAVOURS + MEETING + CONFLICT

# (member, reason) of every ledger row the game writes, in order, whatever the mode
EVENTS = [("alice", "listening_circle"), ("bob", "listening_circle"), ("carol", "ask"),
          ("bob", "offer"), ("bob", "mutual_regard"), ("carol", "mutual_regard"),
          ("alice", "meeting_attended"), ("bob", "meeting_attended"),
          ("carol", "meeting_missed"), ("alice", "conflict_unresolved"),
          ("carol", "conflict_unresolved")]
POINTS = {
    "points": [1, 1, 5, 5, 1, 1, 1, 1, -5, -20, -20],
    "gentle": [1, 1, 5, 5, 1, 1, 1, 1, 0, 0, 0],
    "rhythm": [0] * 11,
}
TOTALS = {
    "points": {"alice": -18, "bob": 8, "carol": -19},
    "gentle": {"alice": 2, "bob": 8, "carol": 6},
    "rhythm": {"alice": 0, "bob": 0, "carol": 0},
}
PEER_SUPPORT = ("This is peer support, not therapy or financial advice: if someone is in crisis, "
                "help them reach a professional or emergency services.")
# A number of points as replies show them (+5, -20, 3 points), but not a time such as 19:00.
POINTS_TALK = re.compile(r"(?<![\w:])[+-]\d|\bpoints?\b")


def bot_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if " bot: " in line]


def said(lines: list[str]) -> list[str]:
    """What the bot said, without the console's #N numbering, its later lines included."""
    out: list[str] = []
    speaking = False
    for line in lines:
        if line.startswith("   ") and speaking:
            out[-1] += "\n" + line[3:]
        elif speaking := " bot: " in line:
            out.append(line.split(" bot: ", 1)[1])
    return out


def ref(lines: list[str], text: str) -> str:
    """The #N of the (last) printed message containing `text`."""
    return next(line for line in reversed(lines) if text in line).split(" ", 1)[0]


def private_to(lines: list[str]) -> list[str]:
    """Whom the private notes among `lines` were for, in order."""
    return [m[1] for line in lines if (m := re.search(r" bot: \(privately to (\S+)\) ", line))]


async def ledger(play, room: str = "crew") -> list[tuple[int, str, str, int]]:
    """(entry id, member, reason, points) of every ledger row, in order."""
    for crew in await play.app.game.export():
        if crew.crew.chat_id == room:
            names = {m.id: m.name for m in crew.members}
            return [(e.id, names[e.member_id], e.reason, e.points) for e in crew.ledger]
    return []


async def dump(play) -> dict[str, list[tuple]]:
    """Every row of every table of the game, but the members' rate-limit minutes (a press of
    Pass counts towards the limit like any button; bookkeeping, forgotten a minute later)."""
    async with play.app.engine.connect() as conn:
        return {table.name: sorted((tuple(row) for row in await conn.execute(select(table))),
                                   key=repr)
                for table in Base.metadata.sorted_tables if table.name != "member_windows"}


async def outbox(play) -> list[dict]:
    """Every queued post's payload, in order."""
    async with play.app.engine.connect() as conn:
        return list((await conn.scalars(select(OutboxRow.payload).order_by(OutboxRow.id))).all())


def text_of(payload: dict) -> str:
    return "".join(p if isinstance(p, str) else f"@{p['name']}" for p in payload["parts"])


# crew modes


@pytest.mark.parametrize("mode", ["points", "gentle", "rhythm"])
async def test_the_same_game_in_each_mode(play_any, mode):
    play = play_any
    lines = await play(f"alice: /settings mode {mode}" + CREW)
    assert said(lines)[0] == f"mode is now {mode}."
    lines = await play(GAME)
    assert [(who, why) for _, who, why, _ in await ledger(play)] == EVENTS
    assert [points for *_, points in await ledger(play)] == POINTS[mode]
    assert await play.points() == TOTALS[mode]

    tally = next(line for line in said(lines) if "tallied" in line)
    unresolved = next(line for line in said(lines) if "declared unresolved" in line)
    # the crew hears who came and that a repair ended; never who was absent or who lost what
    assert unresolved == ("A repair (conflict 1) was declared unresolved. It still matters; you "
                          "can always talk again.")
    assert "carol" not in tally
    if mode == "points":
        assert tally.endswith("Present: alice (+1), bob (+1). 1 member could not make it this "
                              "time.")
        assert private_to(lines) == ["carol", "alice", "carol"]
        assert "a missed meeting costs 5 points" in next(
            line for line in lines if "(privately to carol) We missed you" in line)
        assert sum("that costs each of you 20 points" in line for line in lines) == 2
    else:  # nothing was lost, so there is nothing to tell anyone privately
        assert private_to(lines) == []
        present = "alice (+1), bob (+1)" if mode == "gentle" else "alice, bob"
        assert tally.endswith(f"Present: {present}. 1 member could not make it this time.")

    board = last_bot(await play("alice: /leaderboard"))
    if mode == "rhythm":
        assert board.endswith("What we did together, all time: 1 listening circle completed, "
                              "1 ask for help, 1 offer, 1 thank-you, 1 meeting held. This crew "
                              "plays without points.")
    else:
        total = sum(TOTALS[mode].values())
        assert f"Crew total, all time: {total} points." in board


async def test_rhythm_replies_never_mention_points(play):
    await play("alice: /settings mode rhythm" + CREW)
    lines = await play(CIRCLE + FAVOURS + MEETING + """
        alice: /leaderboard
        alice: /leaderboard month
        bob: /score
        bob: /score @carol
    """)
    replies = said(lines)
    assert len(replies) == 14
    for reply in replies:
        assert not POINTS_TALK.search(reply.replace("without points", "")), reply
    assert replies[2].endswith("The circle is complete: everyone listened to everyone. Thank "
                               "you, alice and bob.")
    assert replies[-2] == ("What bob did, all time: 1 listening circle completed, 1 offer, "
                           "1 thank-you, 1 meeting attended. This crew plays without points.")
    # a missed meeting is recorded, but a member's own board only shows what they did
    assert replies[-1] == ("What carol did, all time: 1 ask for help, 1 thank-you. This crew "
                           "plays without points.")


async def test_rhythm_repairs_and_money_talks_never_mention_points(play):
    await play("alice: /settings mode rhythm" + CREW)
    lines = await play("""
        alice: /conflict @carol
        carol: /conflict accept
        bob: /money
    """)
    for reply in said(lines):
        assert not POINTS_TALK.search(reply.replace("without points", "")), reply


async def test_switching_mode_mid_game_never_rewrites_earlier_entries(play_any):
    play = play_any
    await play(CREW + CIRCLE + FAVOURS)
    before = await ledger(play)
    assert [points for *_, points in before] == [1, 1, 5, 5, 1, 1]
    assert await play.points() == {"alice": 1, "bob": 7, "carol": 6}

    lines = await play("alice: /settings mode gentle" + MEETING + CONFLICT)
    assert private_to(lines) == []
    gentle = await ledger(play)
    assert gentle[:6] == before
    assert [(who, why, points) for _, who, why, points in gentle[6:]] == [
        ("alice", "meeting_attended", 1), ("bob", "meeting_attended", 1),
        ("carol", "meeting_missed", 0), ("alice", "conflict_unresolved", 0),
        ("carol", "conflict_unresolved", 0)]
    assert await play.points() == {"alice": 2, "bob": 8, "carol": 6}

    lines = await play("""
        alice: /settings mode rhythm
        carol: /ask a hand with the move
    """)
    assert "Thank you for asking for what you need." in last_bot(lines)
    lines = await play("bob: /score")  # his earlier points are kept, and not shown
    assert last_bot(lines).endswith("What bob did, all time: 1 listening circle completed, "
                                    "1 offer, 1 thank-you, 1 meeting attended. This crew plays "
                                    "without points.")
    rhythm = await ledger(play)
    assert rhythm[:11] == gentle and rhythm[11][1:] == ("carol", "ask", 0)
    # an admin's correction cancels exactly what the entry was worth, whatever the mode now
    offer_entry = next(entry_id for entry_id, who, why, _ in before if why == "offer")
    lines = await play(f"alice: /revoke {offer_entry}")
    assert said(lines)[0] == "An admin corrected an entry in the ledger."
    assert private_to(lines) == ["alice", "bob"]
    assert "Corrected: bob's entry \u201coffered help\u201d (+5, " in lines[2]
    assert (await ledger(play))[-1][1:] == ("bob", "revoked", -5)

    lines = await play("""
        alice: /settings mode points
        alice: /leaderboard
    """)
    assert (await ledger(play))[:12] == rhythm
    assert await play.points() == {"alice": 2, "bob": 3, "carol": 6}
    assert "Crew total, all time: 11 points." in last_bot(lines)


async def test_only_an_admin_changes_the_mode(play):
    lines = await play(CREW + """
        bob: /settings mode rhythm
        alice: /settings mode playful
        alice: /settings
    """)
    assert "Only a crew admin can change a setting" in said(lines)[3]
    assert "mode is one of: points, gentle, rhythm." in said(lines)[4]
    assert "\nmode: points \u2014 " in said(lines)[5]  # GAME.md as written is the default
    assert "\nexcused_absence: off \u2014 " in said(lines)[5]


async def test_a_meeting_missed_while_the_bot_was_down_costs_nobody_in_any_mode(play, clock):
    await play(CREW + """
        alice: /settings mode rhythm
        alice: /meeting schedule first tuesday 19:00
        bob: /away
    """)
    clock.move_to(datetime(2026, 11, 4, 12, 0, tzinfo=UTC))  # down over the whole window
    lines = await play(":advance 1m")
    tallied = [line for line in said(lines) if "tallied" in line]
    assert tallied == ["Meeting of Tue 3 Nov 2026 19:00 UTC tallied: I was offline for its whole "
                       "attendance window, so nobody could mark presence. Sorry about that!"]
    assert private_to(lines) == []
    assert [(who, why, points) for _, who, why, points in await ledger(play)] == [
        ("alice", "meeting_missed", 0), ("bob", "meeting_missed", 0),
        ("carol", "meeting_missed", 0)]

    # in points mode it says nobody lost points, and means it
    await play("""
        alice: /settings mode points
        :at 2026-12-01T18:00
    """)
    clock.move_to(datetime(2026, 12, 3, 12, 0, tzinfo=UTC))
    lines = await play(":advance 1m")
    assert [line for line in said(lines) if "tallied" in line] == [
        "Meeting of Tue 1 Dec 2026 19:00 UTC tallied: I was offline for its whole attendance "
        "window, so nobody could mark presence and nobody loses points for it. Sorry about "
        "that!"]
    assert private_to(lines) == []
    assert await play.points() == {"alice": 0, "bob": 0, "carol": 0}


# excused absence


async def test_away_with_excused_absence_off_still_costs_and_says_so(play_any):
    play = play_any
    lines = await play(CREW + """
        alice: /meeting schedule first tuesday 19:00
        bob: /away my sister's wedding
    """)
    assert last_bot(lines).endswith(
        "Thanks for telling us, bob: you'll be away on Tue 3 Nov 2026 19:00 UTC; in this crew an "
        "absence still costs 5 points (an admin can set /settings excused_absence on).")
    lines = await play("bob: /away")
    assert last_bot(lines).endswith("You already said you'll be away on Tue 3 Nov 2026 19:00 UTC; "
                                    "the crew knows, nothing more to do.")
    lines = await play("""
        :at 2026-11-03T19:00
        alice: /here
        :at 2026-11-03T22:00
    """)
    assert private_to(lines) == ["bob", "carol"]
    note = {name: next(line for line in lines if f"(privately to {name})" in line)
            for name in ("bob", "carol")}
    # bob already told the crew: he is thanked, not told to do what he did
    assert "a missed meeting costs 5 points. Thank you for telling the crew beforehand" in (
        note["bob"])
    assert "Next time, /away" not in note["bob"]
    assert "Next time, /away before the start tells the crew you can't come." in note["carol"]
    assert last_bot(lines).endswith("Present: alice (+1). 2 members could not make it this time.")
    assert await play.points() == {"alice": 1, "bob": -5, "carol": -5}


async def test_away_with_excused_absence_on_costs_nothing_and_no_note(play_any):
    play = play_any
    lines = await play(CREW + """
        alice: /settings excused_absence on
        alice: /meeting schedule first tuesday 19:00
        bob: /away
    """)
    assert said(lines)[3] == "excused_absence is now on."
    assert last_bot(lines).endswith("you'll be away on Tue 3 Nov 2026 19:00 UTC; it costs you "
                                    "nothing.")
    lines = await play("""
        :at 2026-11-03T19:00
        alice: /here
        :at 2026-11-03T22:00
    """)
    assert private_to(lines) == ["carol"]  # only the one who lost points hears about it
    assert last_bot(lines).endswith("Present: alice (+1). 2 members could not make it this time.")
    assert "bob" not in last_bot(lines) and "carol" not in last_bot(lines)
    assert [(who, why, points) for _, who, why, points in await ledger(play)] == [
        ("alice", "meeting_attended", 1), ("bob", "meeting_missed", 0),
        ("carol", "meeting_missed", -5)]


async def test_away_in_gentle_mode_costs_nothing_whatever_the_setting(play):
    lines = await play(CREW + """
        alice: /settings mode gentle
        alice: /meeting schedule first tuesday 19:00
        bob: /away
    """)
    assert last_bot(lines).endswith("it costs you nothing.")


async def test_away_only_before_the_start(play):
    lines = await play(CREW + "bob: /away")
    assert last_bot(lines).endswith("There is no upcoming meeting to be away from; /away works "
                                    "before a meeting starts. /meeting shows the schedule.")
    lines = await play("""
        alice: /meeting schedule first tuesday 19:00
        :at 2026-11-03T19:01
        bob: /away
    """)
    # not silently taken for December's meeting: November's has started
    assert last_bot(lines).endswith("The meeting of Tue 3 Nov 2026 19:00 UTC has already "
                                    "started; /away works before a meeting's start. You can "
                                    "still join in with /here.")
    lines = await play(":at 2026-11-03T22:00")
    assert "a missed meeting costs 5 points. Next time, /away" in next(
        line for line in lines if "(privately to bob)" in line)
    assert await play.points() == {"alice": -5, "bob": -5, "carol": -5}
    # once that meeting is over, /away is for the next one
    lines = await play("bob: /away")
    assert "you'll be away on Tue 1 Dec 2026 19:00 UTC" in last_bot(lines)


async def test_away_is_refused_during_a_meeting_held_now(play):
    lines = await play(CREW + """
        alice: /meeting now
        bob: /away
    """)
    assert "has already started; /away works before a meeting's start" in last_bot(lines)


async def test_the_reason_for_being_away_is_never_stored(play):
    await play(CREW + """
        alice: /meeting schedule first tuesday 19:00
        bob: /away hospital appointment for my knee
    """)
    assert "hospital" not in repr(await dump(play))
    lines = await play("bob: /away " + "x" * 2001)
    assert "the limit is 2000" in last_bot(lines)


async def test_rescheduling_after_someone_said_away_still_works(play):
    await play(CREW + """
        alice: /meeting schedule first tuesday 19:00
        bob: /away
    """)
    lines = await play("alice: /meeting schedule first wednesday 19:00")
    assert "Next meeting: Wed 4 Nov 2026 19:00 UTC" in last_bot(lines)


async def test_someone_who_said_away_and_left_before_the_start_is_not_tallied(play):
    await play(CREW + """
        alice: /meeting schedule first tuesday 19:00
        bob: /away
        bob: /leave
    """)
    lines = await play(":at 2026-11-03T22:00")
    assert last_bot(lines).endswith("Nobody marked presence. 2 members could not make it this "
                                    "time.")
    assert [who for _, who, _, _ in await ledger(play)] == ["alice", "carol"]


# no public shaming


async def test_the_tally_counts_the_absent_and_tells_each_of_them_alone(play_any):
    play = play_any
    await play(CREW + """
        dave: /join
        alice: /meeting schedule first tuesday 19:00
        :at 2026-11-03T19:00
        alice presses "I'm here" ^bot
        carol: /here
    """)
    sent = len(await outbox(play))
    lines = await play(":at 2026-11-03T22:00")
    assert private_to(lines) == ["bob", "dave"]
    public = [line for line in said(lines) if not line.startswith("(privately")]
    assert public == ["Meeting of Tue 3 Nov 2026 19:00 UTC tallied. Present: alice (+1), "
                      "carol (+1). 2 members could not make it this time."]
    posts = (await outbox(play))[sent:]
    assert [p["dm_to"] for p in posts] == [["bob", "bob"], ["dave", "dave"], None]
    for post in posts:  # a note names only the one it is for; the crew's post names no absentee
        text = text_of(post)
        absent = {"bob", "dave"} - ({post["dm_to"][0]} if post["dm_to"] else set())
        assert not any(name in text for name in absent), text
    assert await play.points() == {"alice": 1, "bob": -5, "carol": 1, "dave": -5}


async def test_nobody_present_still_names_nobody(play):
    lines = await play(CREW + """
        alice: /meeting now
        :advance 3h
    """)
    assert private_to(lines) == ["alice", "bob", "carol"]
    assert last_bot(lines).endswith("tallied. Nobody marked presence. 3 members could not make "
                                    "it this time.")


async def test_an_unresolved_repair_names_no_one_in_public_and_tells_both_parties(play_any):
    play = play_any
    await play(CREW + """
        alice: /conflict @bob
        bob: /conflict accept
    """)
    sent = len(await outbox(play))
    lines = await play(":at 2026-12-02T09:00")  # the deadline: 30 days after accepting
    assert private_to(lines) == ["alice", "bob"]
    public = [line for line in said(lines) if not line.startswith("(privately")]
    assert public[-1] == ("A repair (conflict 1) reached its deadline without a resolution. It "
                          "still matters; you can always talk again.")
    assert not POINTS_TALK.search(public[-1])
    posts = (await outbox(play))[sent:]
    assert [p["dm_to"] for p in posts[-3:]] == [None, ["alice", "alice"], ["bob", "bob"]]
    assert all("costs each of you 20 points" in text_of(p) for p in posts[-2:])
    assert "carol" not in repr(posts)
    assert await play.points() == {"alice": -20, "bob": -20, "carol": 0}


async def test_an_unresolved_repair_in_gentle_mode_is_recorded_and_told_to_no_one(play):
    lines = await play(CREW + """
        alice: /settings mode gentle
        alice: /conflict @bob
        bob: /conflict accept
        alice: /conflict unresolved
    """)
    assert private_to(lines) == []
    assert last_bot(lines).endswith("A repair (conflict 1) was declared unresolved. It still "
                                    "matters; you can always talk again.")
    assert [(who, why, points) for _, who, why, points in await ledger(play)] == [
        ("alice", "conflict_unresolved", 0), ("bob", "conflict_unresolved", 0)]


# Pass


async def test_pass_answers_privately_and_records_nothing(play_any):
    play = play_any
    lines = await play(CREW + """
        alice: /meeting schedule first tuesday 19:00
        bob: /checkin hello
        carol: /money
    """)
    prompt, checkin, money = (ref(lines, text) for text in (
        "Before we meet, reflect", "bob checked in", "carol opens a money talk"))
    assert all(next(line for line in lines if line.startswith(f"{n} bot: ")).endswith("[Pass]")
               for n in (prompt, checkin, money))
    before = await dump(play)
    lines = await play(f"""
        carol presses "Pass" {checkin}
        bob presses "Pass" {money}
        alice presses "Pass" {prompt}
        zed presses "Pass" {checkin}
    """)
    assert said(lines) == ["You passed; nothing is recorded. Join in whenever you like."] * 4
    after = await dump(play)
    assert after == before  # no check-in, no join for zed, no favour, no row of any kind
    assert await play.points() == {"alice": 0, "bob": 0, "carol": 0}

    # and the core marks the answer private, for the platforms to show to the presser alone
    pressed = ButtonPressed(Chat("console", "crew", "crew"), Actor("zed", "zed"), action="p:0")
    (answer,) = await play.app.game.handle(pressed)
    assert answer.private and answer.dm_to is None
    assert await dump(play) == before


# money privacy


async def test_money_words_are_stored_only_with_keep(play_any):
    play = play_any
    lines = await play("""
        alice: /money I code for money and paint for meaning
        bob: /money keep I teach for money and garden for meaning
        carol: /money keep
        dave: /money KEEP Keepers of bees, both A and B
    """)
    replies = said(lines)
    assert "I don't store your words (start with /money keep if you want them kept), and I never "\
           "ask for figures: share only what you choose." in replies[0]
    assert "Your words are stored with the crew's game, as you asked." in replies[1]
    assert all("(A) the work you do for money and (B) the work most meaningful to you" in r
               for r in replies)
    async with play.app.engine.connect() as conn:
        rows = (await conn.execute(select(FavourRow.kind, FavourRow.text)
                                   .order_by(FavourRow.id))).all()
    assert rows == [("money", ""), ("money", "I teach for money and garden for meaning"),
                    ("money", ""), ("money", "Keepers of bees, both A and B")]
    assert "paint for meaning" not in repr(await dump(play))
    assert await play.points() == {"alice": 0, "bob": 0, "carol": 0, "dave": 0}


# confidentiality


async def test_agreement_recorded_by_an_admin_only_and_repeated_at_each_meeting(play_any):
    play = play_any
    lines = await play("""
        alice: /join
        bob: /join
        bob: /agreement
    """)
    # the invitation comes once, with the crew's first member
    assert "Before sharing, agree together on confidentiality, e.g. /agreement What is shared "\
           "here stays here." in said(lines)[0]
    assert "confidentiality" not in said(lines)[1]
    assert said(lines)[2].startswith("No confidentiality agreement yet.")
    lines = await play("bob: /agreement What is said here stays here")
    assert last_bot(lines).endswith("Only a crew admin can record the crew's agreement. Ask an "
                                    "admin of this chat to do it; anyone can read it with "
                                    "/agreement.")
    lines = await play("bob: /agreement")
    assert last_bot(lines).endswith("No confidentiality agreement yet. Talk it over, then an "
                                    "admin records it: /agreement What is shared here stays here.")

    lines = await play("alice: /agreement What is said here stays here; we ask before retelling")
    assert last_bot(lines).endswith("Recorded our confidentiality agreement: \u201cWhat is said "
                                    "here stays here; we ask before retelling\u201d. I'll repeat "
                                    "it at the start of each meeting.")
    lines = await play("""
        bob: /agreement
        carol: /join
    """)
    assert said(lines)[0] == ("Our confidentiality agreement: What is said here stays here; we "
                              "ask before retelling")
    assert "agree together on confidentiality" not in said(lines)[1]

    lines = await play("alice: /meeting now")
    assert last_bot(lines).endswith("Remember our agreement: What is said here stays here; we "
                                    "ask before retelling [I'm here]")
    lines = await play("""
        alice: /meeting schedule first tuesday 19:00
        :at 2026-12-01T19:00
    """)
    assert "The meeting has started." in last_bot(lines)
    assert "Remember our agreement: What is said here stays here" in last_bot(lines)


async def test_an_attendance_post_without_an_agreement_has_no_reminder(play):
    lines = await play("alice: /meeting now")
    assert "agreement" not in last_bot(lines)


# not therapy, and not money


async def test_help_money_and_conflict_point_to_real_help(play):
    lines = await play(CREW + """
        alice: /help
        bob: /money
        bob: /conflict @carol
    """)
    replies = said(lines)[3:]
    assert len(replies) == 3
    assert all(PEER_SUPPORT in reply for reply in replies)


async def test_coown_says_points_are_no_money_and_ownership_needs_legal_advice(play):
    lines = await play(CREW + """
        alice: /coown Bread Coop @bob
        bob: /coown confirm
    """)
    note = ("Points carry no money value, and sharing legal ownership deserves legal advice "
            "before you sign anything.")
    proposal, done = said(lines)[3:]
    assert note in proposal and note in done
    assert "+100 each" in done
    assert await play.points() == {"alice": 100, "bob": 100, "carol": 0}
