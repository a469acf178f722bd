"""Seeing the game and crew housekeeping: /leaderboard, /score, /revoke, /settings, /help."""

from __future__ import annotations

from bot.commands.registry import COMMANDS
from bot.rules.settings import SETTINGS
from tests.conftest import last_bot


def bot_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if " bot: " in line]


def message(lines: list[str], start: str) -> list[str]:
    """The printed lines of the bot message whose first line contains `start`."""
    i = next(i for i, line in enumerate(lines) if " bot: " in line and start in line)
    out = [lines[i].split(" bot: ", 1)[1]]
    for line in lines[i + 1:]:
        if not line.startswith("   "):
            break
        out.append(line[3:])
    return out


async def entry_ids(play, name: str) -> list[int]:
    for crew in await play.app.game.export():
        if crew.crew.chat_id == "crew":
            member = next(m for m in crew.members if m.name == name)
            return [e.id for e in crew.ledger if e.member_id == member.id]
    raise AssertionError("no crew")


async def test_leaderboard_total_first_ties_share_a_rank_with_levels(play_any):
    play = play_any
    await play("""
        alice: /join
        bob: /join
        carol: /join
        dave: /join
        alice: /ask a lift to the station
        bob: /ask help moving a sofa
        bob: /coown Sofa Co @carol
        carol: /coown confirm
    """)
    assert await play.points() == {"alice": 5, "bob": 105, "carol": 100, "dave": 0}
    lines = await play("dave: /leaderboard")
    assert message(lines, "Crew total") == [
        "Crew total, all time: 210 points. The game is won together.",
        "1. bob 105 (Money 5 · Co-owners 100)",
        "2. carol 100 (Co-owners 100)",
        "3. alice 5 (Money 5)",
        "4. dave 0",
    ]
    lines = await play("""
        carol: /ask a ladder
        dave: /leaderboard all
    """)
    assert message(lines, "Crew total") == [
        "Crew total, all time: 215 points. The game is won together.",
        "1. bob 105 (Money 5 · Co-owners 100)",
        "1. carol 105 (Money 5 · Co-owners 100)",
        "3. alice 5 (Money 5)",
        "4. dave 0",
    ]


async def test_leaderboard_month_counts_only_this_month(play):
    await play("""
        alice: /join
        bob: /join
        alice: /ask a lift
        bob: /ask a loan
        :at 2026-12-01T00:00
        bob: /ask a ladder
    """)
    lines = await play("alice: /leaderboard month")
    assert message(lines, "Crew total") == [
        "Crew total, this month (2026-12): 5 points. The game is won together.",
        "1. bob 5 (Money 5)",
        "2. alice 0",
    ]
    lines = await play("alice: /leaderboard")
    assert message(lines, "Crew total")[:2] == [
        "Crew total, all time: 15 points. The game is won together.",
        "1. bob 10 (Money 10)",
    ]
    lines = await play("alice: /leaderboard yesterday")
    assert "Usage: /leaderboard [month|all|hide|show]" in last_bot(lines)


async def test_month_follows_the_crew_time_zone(play):
    await play("""
        alice: /settings timezone America/New_York
        :at 2026-12-01T03:00
        alice: /ask a lift
    """)
    # 03:00 UTC on Dec 1 is still Nov 30 in New York
    lines = await play("alice: /leaderboard month")
    assert message(lines, "Crew total")[0].startswith("Crew total, this month (2026-11): 5 points")


async def test_hidden_member_leaves_the_ranking_but_not_the_total(play):
    await play("""
        alice: /join
        bob: /join
        carol: /join
        alice: /ask a lift
        bob: /ask a loan
    """)
    lines = await play("""
        bob: /leaderboard hide
        carol: /leaderboard
    """)
    assert "bob, you are now out of the ranking" in bot_lines(lines)[0]
    assert message(lines, "Crew total") == [
        "Crew total, all time: 10 points. The game is won together.",
        "1. alice 5 (Money 5)",
        "2. carol 0",
    ]
    assert await play.points() == {"alice": 5, "bob": 5, "carol": 0}
    lines = await play("""
        bob: /leaderboard show
        carol: /leaderboard
    """)
    assert "bob, you are back in the ranking." in bot_lines(lines)[0]
    assert "1. bob 5 (Money 5)" in message(lines, "Crew total")


async def test_score_for_yourself_and_for_another_member(play):
    lines = await play("""
        alice: /join
        bob: /join
        bob: /score
    """)
    assert message(lines, "bob: 0 points") == [
        "bob: 0 points. Listening 0 · Money 0 · Consistency 0 · Conflict 0 · Co-owners 0",
        "No points yet: /checkin is a good start.",
    ]
    lines = await play("""
        bob: /ask a loan
        bob: /coown Bakery @alice
        alice: /coown confirm
        bob: /score @alice
    """)
    # another member's score is what the board shows: the total and the levels, no entries
    assert bot_lines(lines)[-1].endswith(
        "bot: alice: 100 points. Listening 0 · Money 0 · Consistency 0 · Conflict 0 · "
        "Co-owners 100")
    lines = await play("bob: /score")
    assert message(lines, "bob: 105 points") == [
        "bob: 105 points. Listening 0 · Money 5 · Consistency 0 · Conflict 0 · Co-owners 100"]
    # his own entries, in words, to him alone
    assert message(lines, "(privately to bob)") == [
        "(privately to bob) Your latest entries, for you alone:",
        "- co-owned a venture: +100 (Mon 2 Nov 2026 09:00 UTC)",
        "- asked for help: +5 (Mon 2 Nov 2026 09:00 UTC)",
    ]
    lines = await play("alice: /score @bob @alice")
    assert "Usage: /score [@member]" in last_bot(lines)


MISSED = """
    alice: /join
    bob: /join
    carol: /join
    carol: /ask a loan
    alice: /meeting now
    alice: /here
    :advance 3h
"""


async def test_nobody_sees_another_members_penalty_but_an_admin_privately(play_any):
    play = play_any
    await play(MISSED)
    lines = await play("bob: /score @carol")
    assert bot_lines(lines)[-1].endswith(
        "bot: carol: 0 points. Listening 0 · Money 5 · Consistency -5 · Conflict 0 · Co-owners 0")
    assert "missed" not in "\n".join(lines) and "privately" not in "\n".join(lines)

    lines = await play("carol: /score")
    assert message(lines, "carol: 0 points")[0].startswith("carol: 0 points.")
    assert message(lines, "(privately to carol)") == [
        "(privately to carol) Your latest entries, for you alone:",
        "- missed the meeting of Mon 2 Nov: -5 (Mon 2 Nov 2026 12:00 UTC)",
        "- asked for help: +5 (Mon 2 Nov 2026 09:00 UTC)",
    ]

    # an admin gets the entries with what corrects each, privately
    missed, ask = sorted((await entry_ids(play, "carol")), reverse=True)
    lines = await play("alice: /score @carol")
    assert message(lines, "(privately to alice)") == [
        "(privately to alice) carol's latest entries, for you alone:",
        f"- missed the meeting of Mon 2 Nov: -5 (Mon 2 Nov 2026 12:00 UTC; /revoke {missed} "
        "corrects it)",
        f"- asked for help: +5 (Mon 2 Nov 2026 09:00 UTC; /revoke {ask} corrects it)",
    ]
    assert "missed" not in "\n".join(line for line in lines if "privately" not in line
                                     and not line.startswith("   "))


async def test_admin_revokes_an_entry_once_with_a_negative_correction(play_any):
    play = play_any
    await play("""
        alice: /join
        bob: /join
        bob: /ask a loan
        alice: /ask a lift
    """)
    [bobs_ask] = await entry_ids(play, "bob")
    lines = await play(f"bob: /revoke {bobs_ask}")
    assert "Only a crew admin can use /revoke." in last_bot(lines)
    assert await play.points() == {"alice": 5, "bob": 5}

    lines = await play(f"alice: /revoke {bobs_ask}")
    # the crew sees that a correction was made; the admin and bob, what it was
    assert [line.split(" bot: ", 1)[1] for line in bot_lines(lines)] == [
        "An admin corrected an entry in the ledger.",
        "(privately to alice) Corrected: bob's entry \u201casked for help\u201d (+5, Mon 2 Nov "
        "2026 09:00 UTC) is cancelled: -5 recorded as a correction. bob now has 0 points; I'm "
        "telling them privately, where I can reach them.",
        "(privately to bob) An admin corrected an entry of yours: \u201casked for help\u201d (+5, "
        "Mon 2 Nov 2026 09:00 UTC) is cancelled: -5 recorded as a correction. Your total is now "
        "0 points."]
    assert await play.points() == {"alice": 5, "bob": 0}
    ask, correction = await entry_ids(play, "bob")
    assert ask == bobs_ask
    lines = await play(f"""
        alice: /revoke {bobs_ask}
        alice: /revoke {correction}
        alice: /revoke 999
        alice: /revoke one
        alice: /revoke
    """)
    said = bot_lines(lines)
    assert f"Entry {bobs_ask} was already revoked." in said[0]
    assert f"Entry {correction} is itself a correction and cannot be revoked." in said[1]
    assert "There is no ledger entry 999 in this crew." in said[2]
    assert "Usage: /revoke <entry number>" in said[3]
    assert "Usage: /revoke <entry number>" in said[4]
    assert await play.points() == {"alice": 5, "bob": 0}
    lines = await play("bob: /score")
    assert message(lines, "bob: 0 points") == [
        "bob: 0 points. Listening 0 · Money 0 · Consistency 0 · Conflict 0 · Co-owners 0"]
    assert message(lines, "(privately to bob)") == [
        "(privately to bob) Your latest entries, for you alone:",
        "- correction of \u201casked for help\u201d: -5 (Mon 2 Nov 2026 09:00 UTC)",
        "- asked for help: +5 (Mon 2 Nov 2026 09:00 UTC; corrected since)",
    ]


async def test_revoking_a_missed_meeting_tells_the_member_alone(play_any):
    play = play_any
    await play(MISSED)
    missed = max(await entry_ids(play, "carol"))
    lines = await play(f"alice: /revoke {missed}")
    public = [line for line in bot_lines(lines) if "privately" not in line]
    assert [line.split(" bot: ", 1)[1] for line in public] == [
        "An admin corrected an entry in the ledger."]
    assert message(lines, "(privately to carol)") == [
        "(privately to carol) An admin corrected an entry of yours: \u201cmissed the meeting of "
        "Mon 2 Nov\u201d (-5, Mon 2 Nov 2026 12:00 UTC) is cancelled: +5 recorded as a "
        "correction. Your total is now 5 points."]
    assert (await play.points())["carol"] == 5
    # an admin correcting their own entry hears it once
    alices = max(await entry_ids(play, "alice"))
    lines = await play(f"alice: /revoke {alices}")
    assert [line.split(" bot: ", 1)[1] for line in bot_lines(lines)] == [
        "An admin corrected an entry in the ledger.",
        "(privately to alice) Corrected: your entry \u201ccame to the meeting of Mon 2 Nov\u201d "
        "(+1, Mon 2 Nov 2026 12:00 UTC) is cancelled: -1 recorded as a correction. Your total "
        "is now 0 points."]


async def test_revoke_cannot_reach_into_another_crew(play):
    await play("""
        alice: /ask a lift
        :room other
        zoe: /ask a loan
    """)
    lines = await play("zoe: /revoke 1")
    assert "There is no ledger entry 1 in this crew." in last_bot(lines)
    assert await play.points("crew") == {"alice": 5}


async def test_settings_show_and_change_and_bad_values_are_refused(play):
    lines = await play("""
        alice: /join
        bob: /join
        bob: /settings
    """)
    shown = message(lines, "Crew settings:")
    assert "timezone: UTC \u2014 the crew's time zone, e.g. Europe/Berlin" in shown
    assert "circle_hours: 24 \u2014 hours a check-in circle stays open (1 to 168)" in shown
    assert "conflict_days: 30 \u2014 days an accepted conflict has to be resolved (2 to 365)" in (
        shown)
    assert "listening_emoji: any \u2014 emoji that confirm listening: any, or a list" in shown
    assert len(shown) == 2 + len(SETTINGS)  # a title, one setting a line, how to change one

    lines = await play("bob: /settings circle_hours 12")
    assert last_bot(lines).endswith("Only a crew admin can change a setting: ask one to send "
                                    "/settings circle_hours 12. Anyone can read the settings "
                                    "with /settings.")

    bad = {
        "circle_hours 0": "circle_hours must be from 1 to 168, not 0. Try /settings "
                          "circle_hours 24.",
        "circle_hours 169": "circle_hours must be from 1 to 168, not 169.",
        "circle_hours soon": "circle_hours takes a whole number from 1 to 168. Try /settings "
                             "circle_hours 24.",
        "ask_cap 51": "ask_cap must be from 0 to 50, not 51. Try /settings ask_cap 3.",
        "reflect_days 15": "reflect_days must be from 0 to 14, not 15.",
        "attendance_hours 25": "attendance_hours must be from 1 to 24, not 25.",
        "conflict_days 1": "conflict_days must be from 2 to 365, not 1.",
        "timezone Mars/Olympus": "is not a time zone I know. Use a name such as Europe/Berlin",
        "practice yoga": "practice is one of: none, feelz, carepod, stewardship, elephants. "
                         "Try /settings practice feelz.",
        "colour blue": "There is no setting 'colour'. The settings are: timezone, circle_hours,",
        "circle_hour 2": "There is no setting 'circle_hour'. Did you mean circle_hours?",
        "circle_hours": "Give a value for circle_hours, e.g. /settings circle_hours 12;",
    }
    for command, rule in bad.items():
        lines = await play(f"alice: /settings {command}")
        assert rule in last_bot(lines), command
    lines = await play("alice: /settings")
    assert message(lines, "Crew settings:") == shown  # unchanged

    lines = await play("""
        alice: /settings circle_hours 12
        alice: /settings timezone Europe/Berlin
        alice: /settings practice Feelz
        bob: /settings
    """)
    said = bot_lines(lines)
    assert said[0].endswith("circle_hours is now 12.")
    assert said[1].endswith("timezone is now Europe/Berlin.")
    assert said[2].endswith("practice is now feelz.")
    now = message(lines, "Crew settings:")
    assert "timezone: Europe/Berlin \u2014 the crew's time zone, e.g. Europe/Berlin" in now
    assert any(line.startswith("circle_hours: 12 ") for line in now)
    assert any(line.startswith("practice: feelz ") for line in now)


async def test_help_lists_every_registered_command(play):
    lines = await play("alice: /help")
    text = "\n".join(message(lines, "The Reciprocity Game"))
    assert COMMANDS
    for name in COMMANDS:
        assert f"/{name}" in text, name
    for level in ("Listening", "Money", "Consistency", "Conflict", "Co-owners"):
        assert level in text


async def test_unknown_command_is_answered(play):
    lines = await play("""
        alice: /join
        alice: /frobnicate now
        alice: /HELP
    """)
    said = bot_lines(lines)
    assert said[1].endswith("I don't know /frobnicate. /help lists every command.")
    assert "The Reciprocity Game" in said[2]


async def test_ninth_member_brings_the_sweet_spot_note_once(play):
    names = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8"]
    lines = await play("\n".join(f"{n}: /join" for n in names))
    assert not any("sweet spot" in line for line in lines)
    lines = await play("m9: /join")
    notes = [line for line in lines if "sweet spot is 5 to 8" in line]
    assert len(notes) == 1 and "This crew now has 9 members." in notes[0]
    lines = await play("""
        m10: /join
        :leave m10
        m10: /join
        m11: /score
    """)
    assert not any("sweet spot" in line for line in lines)
