"""What members read: misspelt commands, /help for one command, /settings, joining twice,
/circle, ventures waiting on a member who left, and no codes, odd counts or doubled stops."""

from __future__ import annotations

import re

from bot.commands.registry import COMMANDS
from bot.rules.settings import SETTINGS
from tests.conftest import last_bot

CREW = """
    alice: /join
    bob: /join
    carol: /join
    dave: /join
"""


def said(lines: list[str]) -> list[str]:
    """Each bot message as read, its later lines included."""
    out: list[str] = []
    for line in lines:
        if " bot: " in line:
            out.append(line.split(" bot: ", 1)[1])
        elif line.startswith("   ") and out:
            out[-1] += "\n" + line[3:]
    return out


async def roster(play) -> list[str]:
    crews = [c for c in await play.app.game.export() if c.crew.chat_id == "crew"]
    return sorted(m.name for c in crews for m in c.members if m.active)


# commands


async def test_a_misspelt_command_suggests_the_nearest_and_changes_nothing(play):
    lines = await play("""
        alice: /chekin tired but glad
        alice: /leaderbord
        alice: /frobnicate now
        alice: /Chekin
    """)
    assert said(lines) == [
        "I don't know /chekin. Did you mean /checkin? /help lists every command.",
        "I don't know /leaderbord. Did you mean /leaderboard? /help lists every command.",
        "I don't know /frobnicate. /help lists every command.",
        "I don't know /chekin. Did you mean /checkin? /help lists every command."]
    assert await roster(play) == []  # not even the automatic join


async def test_help_explains_one_command(play):
    lines = await play("""
        alice: /help checkin
        alice: /help /revoke
        alice: /help settings
        alice: /help chekin
        alice: /help checkin money
    """)
    checkin, revoke, settings, unknown, two = said(lines)
    assert checkin == ("/checkin <something true for you right now>\n"
                       "Share what is true for you; others confirm they listened.\n"
                       "  text (needed): something true for you right now\n"
                       "Level 1, Listening; for every member. /help lists every command.")
    assert revoke.startswith("/revoke <entry number>\n")
    assert revoke.endswith("The crew; for crew admins only. /help lists every command.")
    assert "  name (optional): which setting: " + ", ".join(SETTINGS) in settings
    assert unknown == "I don't know /chekin. Did you mean /checkin? /help lists every command."
    assert two.startswith("Ask about one command at a time, e.g. /help checkin. Usage: /help")


async def test_every_command_has_its_own_help(play):
    await play("alice: /settings rate_limit 0")
    for name, cmd in COMMANDS.items():
        lines = await play(f"alice: /help {name}")
        assert said(lines)[-1].startswith(cmd.usage + "\n"), name


# joining and leaving


async def test_join_twice_and_leave_twice_say_where_you_stand(play):
    lines = await play("""
        alice: /join
        bob: /join
        bob: /join
        carol: /leave
    """)
    first, second, again, not_in = said(lines)
    assert "This is a new crew. Before sharing, agree together on confidentiality" in first
    assert second == ("Welcome, bob! The crew has 2 members. Try /checkin to share what is "
                      "true for you right now, or /help.")  # the invitation comes once
    assert again == ("You are already in this crew, bob. Try /checkin to share what is true for "
                     "you right now, or /help.")
    assert not_in == ("You are not in this crew, so there is nothing to leave. /join when you "
                      "want to play.")
    assert await roster(play) == ["alice", "bob"]  # carol was not enrolled by /leave
    lines = await play("""
        bob: /leave
        bob: /leave
        bob: /join
    """)
    left, not_in, back = said(lines)
    assert left == ("bob left the crew; their points stay in the crew's total. /join any time "
                    "to come back.")
    assert not_in.startswith("You are not in this crew")
    assert back.startswith("Welcome, bob! The crew has 2 members.")
    assert "confidentiality" not in back


async def test_the_first_join_has_a_singular_count(play):
    lines = await play("alice: /join")
    assert said(lines)[0].startswith("Welcome, alice! The crew has 1 member. ")


# settings


async def test_any_member_reads_the_settings_one_a_line_and_only_admins_change_them(play):
    await play(CREW)
    lines = await play("bob: /settings")
    shown = said(lines)[0].split("\n")
    assert shown[0] == "Crew settings:"
    assert shown[1] == "timezone: UTC \u2014 the crew's time zone, e.g. Europe/Berlin"
    assert [line.split(":", 1)[0] for line in shown[1:-1]] == list(SETTINGS)
    assert shown[-1] == ("Admins change one with /settings <name> <value>, e.g. "
                         "/settings circle_hours 12.")
    lines = await play("""
        bob: /settings circle_hours 12
        bob: /settings colour blue
    """)
    for refusal in said(lines):
        assert refusal.startswith("Only a crew admin can change a setting: ask one to send "
                                  "/settings ")
        assert refusal.endswith("Anyone can read the settings with /settings.")
    lines = await play("bob: /settings")
    assert "\ncircle_hours: 24 \u2014" in said(lines)[0]  # unchanged


# the open circle


async def test_circle_shows_who_is_fully_heard_without_naming_who_did_not_listen(play):
    await play(CREW)
    lines = await play("alice: /circle")
    assert said(lines) == ["No circle is open: /checkin to open one."]
    lines = await play("""
        alice: /checkin slept well
        bob: /checkin busy week
        carol: /checkin excited
        bob reacts 👂 #11
        carol reacts 👂 #12
        alice reacts 👂 #13
    """)
    assert "So far 0 of 3 check-ins fully heard; 6 confirmations missing: /circle shows each." \
        in said(lines)[2]
    lines = await play("dave: /circle")
    shown = said(lines)[0]
    assert shown.split("\n") == [
        "The circle is open until Tue 3 Nov 2026 09:00 UTC, with 3 of 4 members checked in.",
        "  alice: fully heard",
        "  bob: 1 confirmation missing",
        "  carol: 2 confirmations missing",
        "Listen, then react to each check-in or press I listened on it."]
    assert "dave" not in shown


async def test_checkin_counts_only_members_still_in_the_crew(play):
    await play(CREW)
    lines = await play("""
        alice: /checkin one
        bob: /checkin two
        carol: /checkin three
        :leave carol
        :leave dave
        erin: /checkin four
    """)
    counts = [re.search(r"\((\d+) of (\d+) members? in this circle", s) for s in said(lines)]
    found = [(int(m[1]), int(m[2])) for m in counts if m]
    assert found[-1] == (3, 3)  # alice, bob and erin; carol's check-in left with her
    assert all(done <= total for done, total in found)
    lines = await play("erin: /circle")
    assert "carol" not in said(lines)[0] and "with 3 of 3 members checked in" in said(lines)[0]


# ventures waiting on a member who left


async def test_a_venture_waiting_on_a_member_who_left_can_drop_them_and_complete(play_any):
    play = play_any
    await play(CREW)
    lines = await play("""
        alice: /coown Bread Coop @bob @carol @dave
        bob: /coown confirm 1
        :leave dave
        carol: /coown confirm 1
    """)
    assert said(lines)[-1] == (
        "carol confirmed \u201cBread Coop\u201d. Still to confirm: dave, who left the crew. "
        "alice can go on without them with /coown drop @dave 1, or withdraw it with "
        "/coown withdraw 1.")
    lines = await play("""
        bob: /coown
        bob: /coown drop @dave 1
        alice: /coown drop @bob 1
        alice: /coown drop
    """)
    status, not_proposer, still_in, nobody = said(lines)
    assert nobody.startswith("Name the member who left, e.g. /coown drop @sam 1. Usage: /coown")
    assert status.startswith("\u201cBread Coop\u201d (venture 1): confirmed by alice, bob and "
                             "carol; waiting for dave, who left the crew.")
    assert not_proposer == "Only alice, who proposed venture 1, can change it; ask them."
    assert still_in.startswith("bob is still in the crew and can confirm with /coown confirm 1.")
    assert await play.points() == {"alice": 0, "bob": 0, "carol": 0, "dave": 0}
    lines = await play("alice: /coown drop @dave")
    assert said(lines) == [
        "alice goes on with \u201cBread Coop\u201d without dave, who left the crew.",
        "\u201cBread Coop\u201d is co-owned by alice, bob and carol: +100 each! Whatever happens, "
        "this is part of your story now. Points carry no money value, and sharing legal "
        "ownership deserves legal advice before you sign anything."]
    assert await play.points() == {"alice": 100, "bob": 100, "carol": 100, "dave": 0}
    lines = await play("""
        dave: /join
        dave: /coown confirm 1
        alice: /coown drop @dave 1
    """)
    assert said(lines)[1].startswith("Only the members named in venture 1 can confirm it.")
    assert said(lines)[2].startswith("\u201cBread Coop\u201d is already co-owned")
    assert await play.points() == {"alice": 100, "bob": 100, "carol": 100, "dave": 0}


async def test_a_withdrawn_venture_scores_nothing_and_cannot_be_confirmed(play):
    await play(CREW)
    lines = await play("""
        alice: /coown Tool Library @bob
        :leave bob
        alice: /coown drop @bob
        alice: /coown withdraw
        bob: /join
        bob: /coown confirm 1
        alice: /coown
    """)
    only_other, withdrawn, _, refused, nothing = said(lines)[1:]
    assert only_other.startswith("bob is the only other member named in \u201cTool Library\u201d")
    assert "Withdraw it with /coown withdraw 1" in only_other
    assert withdrawn == ("alice withdrew \u201cTool Library\u201d (venture 1); nobody scores for "
                         "it. A new venture can be proposed any time with /coown.")
    assert refused == ("\u201cTool Library\u201d was withdrawn. Propose it again with /coown "
                       "Tool Library @member.")
    assert nothing.startswith("You have no venture waiting for confirmations.")
    assert await play.points() == {"alice": 0, "bob": 0, "carol": 0, "dave": 0}
    lines = await play("""
        alice: /coown Tool Library @bob
        bob: /coown confirm
    """)
    assert "co-own \u201cTool Library\u201d (venture 2)" in said(lines)[0]  # the name is free
    assert await play.points() == {"alice": 100, "bob": 100, "carol": 0, "dave": 0}


# what every message reads like

CODES = ("listening_circle", "mutual_regard", "meeting_attended", "meeting_missed",
         "conflict_resolved", "conflict_unresolved", "coowners", "revoked", "(rate_limit)",
         "IANA", " is proposed", " is accepted", " is lapsed")


async def test_no_codes_no_counts_past_their_total_no_doubled_full_stops(play):
    lines = await play(CREW + """
        alice: /settings rate_limit 0
        alice: /join
        alice: /agreement What is said here stays here.
        bob: /agreement We keep it.
        alice: /checkin glad to be here.
        bob: /checkin tired.
        :leave carol
        dave: /checkin ok.
        dave: /circle
        alice: /ask a ladder.
        bob: /offer @alice my ladder.
        bob: /offer @carol a lift.
        alice: /thanks
        alice: /thanks
        carol: /thanks 2
        alice: /conflict @bob
        bob: /conflict accept
        bob: /conflict accept
        alice: /apologise share I was wrong.
        alice: /forgive
        bob: /forgive
        bob: /forgive
        carol: /join
        alice: /coown Bread Coop @bob @carol
        bob: /coown confirm
        bob: /coown confirm
        :leave carol
        alice: /coown
        alice: /coown drop @carol
        alice: /meeting now
        bob: /here
        bob: /here
        bob: /meeting now
        alice: /away
        bob: /settings
        bob: /settings mode gentle
        alice: /settings mode playful
        alice: /settings circle_hour 3
        alice: /help
        alice: /help coown
        alice: /leaderboard
        alice: /chekin
        alice: /leave
        alice: /leave
    """)
    text = "\n".join(said(lines))
    for code in CODES:
        assert code not in text, code
    assert not re.search(r"(?<!\.)\.\.(?!\.)", text) and ".\u201d." not in text
    assert not re.search(r"\b1 (members|points|confirmations|check-ins)\b", text)
    for done, total in re.findall(r"\b(\d+) of (\d+)\b", text):
        assert int(done) <= int(total), (done, total)
    assert "They said: \u201cI was wrong.\u201d bob, when you are ready" in text
    assert "Recorded our confidentiality agreement: \u201cWhat is said here stays here.\u201d " \
           "I'll repeat it" in text
    assert last_bot(lines).endswith("You are not in this crew, so there is nothing to leave. "
                                    "/join when you want to play.")


async def test_counts_of_one_read_in_the_singular(play):
    lines = await play("""
        alice: /settings reflect_days 1
        alice: /meeting schedule first tuesday 19:00
        alice: /settings reflect_days 0
        alice: /meeting schedule first tuesday 19:00
        alice: /settings rate_limit 1
        :advance 1m
        alice: /leaderboard
        alice: /leaderboard
    """)
    one_day, on_the_day, slow = said(lines)[1], said(lines)[3], said(lines)[-1]
    assert one_day.endswith("Reflection prompts come 1 day before, a reminder 1 hour before.")
    assert on_the_day.endswith("Reflection prompts come on the day, a reminder 1 hour before.")
    assert slow.startswith("Slow down: you sent 1 command in the last minute and this crew "
                           "allows 1 a minute. Try again in 60 s")
