"""Level 3 through the console: scheduled monthly meetings, attendance and the tally."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import open_app
from bot.clock import SimClock
from storage.models import OutboxRow, ReflectionRow
from tests.conftest import Transcript, last_bot

SEPTEMBER = datetime(2026, 9, 28, 9, 0, tzinfo=UTC)  # a Monday, before DST ends on Oct 25


def bot_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if " bot: " in line]


def ref(lines: list[str], text: str) -> str:
    """The #N of the (last) printed message containing `text`."""
    line = next(line for line in reversed(lines) if text in line)
    return line.split(" ", 1)[0]


@pytest.fixture
async def play_sept(sqlite_url) -> AsyncIterator[Transcript]:
    """Like `play`, but the clock starts on Mon 2026-09-28 09:00 UTC, in summer time."""
    clock = SimClock(SEPTEMBER)
    app = await open_app(sqlite_url, clock)
    yield Transcript(app, clock, sqlite_url and Path(sqlite_url).parent / "pictures")
    await app.close()


async def test_monthly_meeting_across_end_of_daylight_saving(play_sept):
    play = play_sept
    lines = await play("""
        alice: /settings timezone Europe/Berlin
        bob: /join
        carol: /join
        alice: /meeting schedule first tuesday 19:00
    """)
    assert "Next meeting: Tue 6 Oct 2026 19:00 CEST" in lines[-1]
    assert not any("reflect:" in line for line in lines)  # 3 days before is still ahead

    # reflection prompt: 3 days before, Sat 3 Oct 19:00 CEST = 17:00 UTC
    assert await play(":at 2026-10-03T16:59") == []
    lines = await play(":at 2026-10-03T17:00")
    assert len(lines) == 1
    assert "Before we meet, reflect: Where have you been? Where might you go next?" in lines[0]
    assert "Tue 6 Oct 2026 19:00 CEST" in lines[0]

    # reminder 1 hour before: 18:00 CEST = 16:00 UTC, mentioning each member
    assert await play(":at 2026-10-06T15:59") == []
    lines = await play(":at 2026-10-06T16:00")
    assert len(lines) == 1
    assert "starts in 1 hour" in lines[0]
    assert lines[0].endswith("@alice, @bob, @carol")
    reminder = ref(lines, "starts in 1 hour")

    # the attendance post at the start: 19:00 CEST = 17:00 UTC
    assert await play(":at 2026-10-06T16:59") == []
    lines = await play(":at 2026-10-06T17:00")
    assert len(lines) == 1
    assert "The meeting has started." in lines[0]
    assert lines[0].endswith("[I'm here]")
    attendance = ref(lines, "The meeting has started")

    lines = await play(f"""
        bob reacts 🙌 {reminder}
        alice presses "I'm here" {attendance}
        bob reacts 🙌 {attendance}
    """)
    assert bot_lines(lines) == [f"#{int(attendance[1:]) + 1} bot: alice is here.",
                                f"#{int(attendance[1:]) + 2} bot: bob is here."]

    # tally at start + 3h: 22:00 CEST = 20:00 UTC
    assert await play(":at 2026-10-06T19:59") == []
    lines = await play(":at 2026-10-06T20:00")
    assert len(lines) == 3  # carol is told privately what missing it cost; the crew is not
    assert lines[2].startswith("# picture saved to ") and lines[2].endswith("-meeting-recap.png")
    assert lines[0].startswith("#14 bot: (privately to carol) We missed you at the meeting of "
                               "Tue 6 Oct 2026 19:00 CEST.")
    assert lines[1].endswith("Meeting of Tue 6 Oct 2026 19:00 CEST tallied. Present: alice (+1), "
                             "bob (+1). 1 member could not make it this time.")
    assert "carol" not in lines[1]
    assert await play.points() == {"alice": 1, "bob": 1, "carol": -5}

    # November is after the clocks went back: 19:00 CET = 18:00 UTC; the prompt 3 days before
    assert await play(":at 2026-10-31T17:59") == []
    lines = await play(":at 2026-10-31T18:00")
    assert len(lines) == 1 and "Tue 3 Nov 2026 19:00 CET." in lines[0]
    assert await play(":at 2026-11-03T16:59") == []
    lines = await play(":at 2026-11-03T17:00")
    assert len(lines) == 1 and lines[0].endswith("@alice, @bob, @carol")
    assert await play(":at 2026-11-03T17:59") == []
    lines = await play(":at 2026-11-03T18:00")
    assert len(lines) == 1 and "The meeting has started." in lines[0]
    lines = await play("""
        carol presses "I'm here" ^bot
        alice: /here
    """)
    assert [line.split(": ", 1)[1] for line in bot_lines(lines)] == ["carol is here.",
                                                                     "alice is here."]
    assert await play(":at 2026-11-03T20:59") == []
    lines = await play(":at 2026-11-03T21:00")
    assert len(lines) == 3 and "(privately to bob) We missed you" in lines[0]
    assert lines[2].startswith("# picture saved to ")
    assert lines[1].endswith("Meeting of Tue 3 Nov 2026 19:00 CET tallied. Present: alice (+3), "
                             "carol (+1). 1 member could not make it this time.")
    assert await play.points() == {"alice": 4, "bob": -4, "carol": -4}


async def test_reminder_mentions_are_real_mentions_of_every_member(play):
    await play("""
        alice: /meeting schedule first tuesday 19:00
        bob: /join
        carol: /join
        :at 2026-11-03T18:00
    """)
    async with play.app.engine.connect() as conn:
        payloads = (await conn.scalars(select(OutboxRow.payload).order_by(OutboxRow.id))).all()
    reminder = next(p for p in payloads if "starts in 1 hour" in str(p["parts"][0]))
    mentioned = [p["user_id"] for p in reminder["parts"] if isinstance(p, dict)]
    assert mentioned == ["alice", "bob", "carol"]
    text = " ".join(p if isinstance(p, str) else p["name"] for p in reminder["parts"])
    assert "@everyone" not in text and "@here" not in text


async def test_attended_points_grow_one_three_five_five(play_any):
    play = play_any
    await play("""
        alice: /meeting schedule first tuesday 19:00
        bob: /join
        carol: /join
    """)
    # Nov 3: alice only
    await play("""
        :at 2026-11-03T19:00
        alice: /here
        :at 2026-11-03T22:00
    """)
    assert await play.points() == {"alice": 1, "bob": -5, "carol": -5}
    # Dec 1: alice and bob
    await play("""
        :at 2026-12-01T19:00
        alice presses "I'm here" ^bot
        bob: /here
        :at 2026-12-01T22:00
    """)
    assert await play.points() == {"alice": 4, "bob": -4, "carol": -10}
    # Jan 5 2027: alice and bob
    lines = await play("""
        :at 2027-01-05T19:00
        alice: /here
        bob: /here
        :at 2027-01-05T22:00
    """)
    assert last_bot(lines).endswith(
        "Present: alice (+5), bob (+3). 1 member could not make it this time.")
    # Feb 2 2027: alice only; a fourth meeting still gives +5
    lines = await play("""
        :at 2027-02-02T19:00
        alice: /here
        :at 2027-02-02T22:00
    """)
    assert last_bot(lines).endswith("Present: alice (+5). 2 members could not make it this time.")
    assert await play.points() == {"alice": 14, "bob": -6, "carol": -20}


async def test_here_only_for_yourself_and_only_while_a_meeting_is_open(play):
    lines = await play("""
        alice: /join
        bob: /here
    """)
    assert "No meeting is open for attendance right now." in last_bot(lines)
    lines = await play("""
        alice: /meeting now
        bob: /here @alice
    """)
    assert "You can only mark yourself present" in last_bot(lines)
    lines = await play("""
        bob: /here
        bob: /here
    """)
    assert bot_lines(lines)[0].endswith("bob is here.")
    assert "already marked present" in bot_lines(lines)[1]
    lines = await play(":advance 3h")
    assert last_bot(lines).endswith("Present: bob (+1). 1 member could not make it this time.")
    lines = await play("alice: /here")
    assert "No meeting is open for attendance right now." in last_bot(lines)
    assert await play.points() == {"alice": -5, "bob": 1}


async def test_attendance_window_closes_after_attendance_hours(play):
    lines = await play("""
        alice: /join
        bob: /join
        alice: /meeting now
    """)
    attendance = ref(lines, "The meeting has started")
    lines = await play(f"""
        :advance 2h59m
        bob reacts 👍 {attendance}
    """)
    assert last_bot(lines).endswith("bob is here.")
    lines = await play(f"""
        :advance 1m
        alice reacts 👍 {attendance}
        alice presses "I'm here" {attendance}
    """)
    assert "(privately to alice) We missed you" in bot_lines(lines)[0]
    assert "tallied" in bot_lines(lines)[1]
    assert "Attendance for that meeting is closed." in last_bot(lines)
    assert await play.points() == {"alice": -5, "bob": 1}


async def test_only_an_admin_schedules_and_a_bad_rule_gets_usage(play):
    lines = await play("""
        alice: /join
        bob: /join
        bob: /meeting schedule first tuesday 19:00
    """)
    assert last_bot(lines).endswith("Only a crew admin can schedule meetings. Ask an admin of "
                                    "this chat to do it; anyone can see the schedule with "
                                    "/meeting.")
    lines = await play("bob: /meeting now")
    assert last_bot(lines).endswith("Only a crew admin can hold a meeting now, as it can cost "
                                    "absent members points. Ask an admin of this chat to do it; "
                                    "anyone can see the schedule with /meeting.")
    for rule in ("", "first blursday 19:00", "day 32 18:00", "first tuesday 25:00",
                 "every tuesday 19:00", "first tuesday"):
        lines = await play(f"alice: /meeting schedule {rule}")
        assert "Usage: /meeting [schedule <rule> | now]" in last_bot(lines), rule
    lines = await play("alice: /meeting")
    assert "No schedule yet" in last_bot(lines)
    assert await play(":advance 5w") == []
    assert await play.points() == {"alice": 0, "bob": 0}


async def test_second_meeting_now_in_the_same_month_is_refused(play):
    lines = await play("""
        alice: /join
        bob: /join
        alice: /meeting now
        alice: /meeting now
    """)
    assert "The meeting has started." in bot_lines(lines)[-2]
    assert "already met this month" in last_bot(lines)
    lines = await play("""
        alice: /here
        :advance 3h
        :at 2026-11-30T22:00
        alice: /meeting now
    """)
    assert "already met this month" in last_bot(lines)
    assert sum("tallied" in line for line in lines) == 1
    assert await play.points() == {"alice": 1, "bob": -5}
    # December is a new month
    lines = await play("""
        :at 2026-12-01T10:00
        alice: /meeting now
        bob: /here
        :advance 3h
    """)
    assert "The meeting has started." in bot_lines(lines)[0]
    assert await play.points() == {"alice": -4, "bob": -4}


async def test_meeting_now_refused_when_this_months_meeting_is_scheduled(play):
    lines = await play("""
        alice: /meeting schedule last monday 19:00
        alice: /meeting now
    """)
    assert "Next meeting: Mon 30 Nov 2026 19:00 UTC" in bot_lines(lines)[0]
    assert "scheduled for Mon 30 Nov 2026 19:00 UTC" in last_bot(lines)


async def test_tally_happens_once_when_time_jumps_far(play_any, db_url, clock):
    play = play_any
    await play("""
        alice: /meeting schedule first tuesday 19:00
        bob: /join
    """)
    lines = await play(":advance 10w")  # to Mon 11 Jan 2027: Nov, Dec and Jan meetings
    tallies = [line for line in lines if "tallied" in line]
    assert len(tallies) == 3
    for day in ("Tue 3 Nov 2026", "Tue 1 Dec 2026", "Tue 5 Jan 2027"):
        assert sum(f"Meeting of {day} 19:00 UTC tallied" in t for t in tallies) == 1
    assert sum("The meeting has started" in line for line in lines) == 3
    assert await play.points() == {"alice": -15, "bob": -15}
    assert await play(":advance 1m") == []

    # a restarted bot on the same database finds nothing left to do
    again = await open_app(db_url, clock)
    try:
        assert await again.game.run_due(clock()) == 0
    finally:
        await again.close()
    lines = await play("alice: /meeting")
    assert "Next meeting: Tue 2 Feb 2027 19:00 UTC." in last_bot(lines)
    assert await play.points() == {"alice": -15, "bob": -15}


async def test_missed_tally_catches_up_after_downtime_once(play, clock):
    await play("""
        alice: /meeting schedule first tuesday 19:00
        bob: /join
    """)
    clock.move_to(datetime(2026, 11, 5, 12, 0, tzinfo=UTC))  # the bot was down over the meeting
    lines = await play(":advance 1m")
    assert sum("Meeting of Tue 3 Nov 2026 19:00 UTC tallied" in line for line in lines) == 1
    lines += await play(":advance 1m")
    assert sum("tallied" in line for line in lines) == 1
    # nobody could mark presence while the bot was down: recorded, and nobody pays for it
    assert any("nobody loses points for it" in line for line in lines)
    assert await play.points() == {"alice": 0, "bob": 0}


async def test_two_processes_tally_a_meeting_once(play_any, db_url, clock):
    play = play_any
    await play("""
        alice: /join
        bob: /join
        alice: /meeting now
        bob: /here
    """)
    clock.move_to(datetime(2026, 11, 2, 12, 30, tzinfo=UTC))
    other = await open_app(db_url, clock)
    try:
        done = await asyncio.gather(play.app.game.run_due(clock()), other.game.run_due(clock()))
    finally:
        await other.close()
    assert sum(done) == 1
    assert await play.points() == {"alice": -5, "bob": 1}


async def test_reflect_is_stored_and_answered(play):
    lines = await play("""
        alice: /meeting schedule first tuesday 19:00
        bob: /reflect I have been travelling; next I want to settle down
    """)
    assert last_bot(lines).endswith("Thank you, bob: your reflection is shared with the crew.")
    lines = await play("bob: /reflect")
    assert "Usage: /reflect" in last_bot(lines)
    lines = await play("bob: /reflect " + "x" * 2001)
    assert "the limit is 2000" in last_bot(lines)
    async with play.app.engine.connect() as conn:
        rows = (await conn.execute(select(ReflectionRow.meeting_id, ReflectionRow.text))).all()
    assert rows == [(1, "I have been travelling; next I want to settle down")]
    assert await play.points() == {"alice": 0, "bob": 0}


async def test_someone_only_mentioned_is_not_on_the_meeting_roster(play):
    """GAME.md: a person joins by /join or by any command; being @mentioned is neither. A typo
    or a mention of someone who never played must not put them on the roster to be fined -5."""
    await play("""
        alice: /join
        bob: /join
        alice: /coown Cafe @zed
        alice: /meeting now
        alice: /here
        bob: /here
    """)
    lines = await play(":advance 3h")
    assert "zed" not in last_bot(lines)
    points = await play.points()
    assert points.pop("zed", 0) == 0
    assert points == {"alice": 1, "bob": 1}
