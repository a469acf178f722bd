"""The `crewbot` command line, run as a real process: help and version, the console on a pipe, bad
input, a token the platform refuses, and a whole game piped in and exported (on SQLite and
PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.telegram_api import FakeTelegram
from tests.processes import clean_env, crewbot

ROOT = Path(__file__).resolve().parent.parent
CREWBOT = Path(sys.executable).parent / "crewbot"
WAIT = 120


def run(*args: str, cwd: Path, stdin: str = "", env: dict[str, str] | None = None,
        program: tuple[str, ...] = (str(CREWBOT),)) -> subprocess.CompletedProcess[str]:
    """Runs the command with a pipe (never a terminal) for stdin and no CREWBOT_* settings
    except those given."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CREWBOT_")}
    base["PYTHONPATH"] = str(ROOT)
    return subprocess.run([*program, *args], input=stdin, capture_output=True, text=True,
                          cwd=cwd, env={**base, **(env or {})}, timeout=WAIT)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# help


def test_crewbot_help_lists_the_commands(tmp_path):
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: crewbot")
    for word in ("run", "console", "export", "db"):
        assert word in result.stdout
    assert result.stderr == ""


def test_python_m_bot_is_the_same_command(tmp_path):
    via_module = run("--help", cwd=tmp_path, program=(sys.executable, "-m", "bot"))
    assert via_module.returncode == 0, via_module.stderr
    assert via_module.stdout == run("--help", cwd=tmp_path).stdout


def test_version_prints_the_version_of_the_project(tmp_path):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for program in ((str(CREWBOT),), (sys.executable, "-m", "bot")):
        result = run("--version", cwd=tmp_path, program=program)
        assert (result.returncode, result.stderr) == (0, ""), result
        assert result.stdout == f"crewbot {project['version']}\n"


def test_console_help_names_its_options(tmp_path):
    result = run("console", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "--db" in result.stdout and "--start" in result.stdout


# the console on a pipe


def test_console_on_a_pipe_prints_no_prompt_and_exits_0_at_end_of_input(tmp_path):
    db = str(tmp_path / "crew.sqlite3")
    result = run("console", "--db", db, "--start", "2026-11-02T09:00", cwd=tmp_path,
                 stdin="alice: /join\nbob: /ask a lift to the station\n")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "#1 alice: /join"
    assert lines[1].startswith("#2 bot: Welcome, alice!")
    assert lines[2] == "#3 bob: /ask a lift to the station"
    assert lines[3].startswith("#4 bot: bob asks (ask 1). +5 points")
    assert len(lines) == 4, lines
    assert not any(line.startswith(">") for line in lines)  # no prompt anywhere
    assert "Crewbot console on" not in result.stdout  # and no banner for a script


def test_console_with_empty_input_says_nothing_and_exits_0(tmp_path):
    result = run("console", "--db", str(tmp_path / "crew.sqlite3"), cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_console_reports_a_bad_line_and_carries_on(tmp_path):
    result = run("console", "--db", str(tmp_path / "crew.sqlite3"), "--start",
                 "2026-11-02T09:00", cwd=tmp_path,
                 stdin="this is not a line\n:at yesterday\nalice: /join\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("! write NAME: TEXT")
    assert lines[1].startswith("! write the time in ISO 8601")
    assert lines[2] == "#1 alice: /join"


REAL_CLOCK = ("! the clock is real here, so it cannot be moved. To try time travel, play on a "
              "separate database with a simulated clock: crewbot console --db play.sqlite3 "
              "--start ")


@pytest.mark.parametrize("command", [["console"], ["run"]])
def test_on_the_real_clock_at_and_advance_are_refused_with_what_to_do(tmp_path, command):
    db = tmp_path / "real.sqlite3"
    args = [*command, "--db", str(db)] if command == ["console"] else command
    result = run(*args, cwd=tmp_path, env={"CREWBOT_DATABASE_URL": str(db)},
                 stdin="alice: /checkin hello\n:advance 2d\n:at 2099-01-01T09:00\n"
                       ":advance soon\nalice: /score\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    today = datetime.now(UTC).date().isoformat()
    assert lines[2:5] == [f"{REAL_CLOCK}{today}T09:00"] * 3
    assert lines[5] == "#3 alice: /score"
    assert "Traceback" not in result.stderr
    # the circle of the real day is still open: no time went by in the database
    exported = run("export", "--db", str(db), cwd=tmp_path)
    assert json.loads(exported.stdout)["crews"][0]["ledger"] == []
    assert "(1 of 1 member in this circle" in lines[1]


def test_a_start_before_the_latest_recorded_time_is_refused_and_changes_nothing(tmp_path):
    db = str(tmp_path / "crew.sqlite3")
    first = run("console", "--db", db, "--start", "2026-11-05T09:00", cwd=tmp_path,
                stdin="alice: /ask a lift\n:advance 2h30m\nbob: /join\n")
    assert first.returncode == 0, first.stderr
    before = run("export", "--db", db, cwd=tmp_path).stdout

    result = run("console", "--db", db, "--start", "2026-11-02T09:00", cwd=tmp_path,
                 stdin="carol: /join\n")
    line = one_line_error(result)
    assert result.returncode == 2
    assert line == ("crewbot: --start 2026-11-02T09:00 is earlier than 2026-11-05 11:30:00 UTC, "
                    "the latest time this database records, and time never runs backwards on "
                    "existing data. Start at 2026-11-05T11:31 or later, or play on a new "
                    "database file with --db.")
    assert result.stdout == ""
    assert run("export", "--db", db, cwd=tmp_path).stdout == before

    # at the latest time or later the game goes on
    again = run("console", "--db", db, "--start", "2026-11-05T11:30", cwd=tmp_path,
                stdin="carol: /join\n")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0] == "#1 carol: /join"


@pytest.mark.parametrize("command", [["console"], ["run"]])
def test_the_real_clock_does_not_play_on_a_database_played_ahead_of_it(tmp_path, command):
    db = str(tmp_path / "ahead.sqlite3")
    ahead = run("console", "--db", db, "--start", "2099-01-01T09:00", cwd=tmp_path,
                stdin="alice: /ask a lift\n")
    assert ahead.returncode == 0, ahead.stderr
    before = run("export", "--db", db, cwd=tmp_path).stdout

    result = run(*command, cwd=tmp_path, env={"CREWBOT_DATABASE_URL": db},
                 stdin="carol: /join\n")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    # (crewbot run on a pipe first warns that it plays the console for want of a token)
    line = result.stderr.strip().splitlines()[-1]
    assert line == ("crewbot: this database records times up to 2099-01-01 09:00:00 UTC, later "
                    "than now: it was played ahead on a simulated clock, and time never runs "
                    "backwards on existing data. Go on playing it with crewbot console --start "
                    "2099-01-01T09:01, or use another database.")
    assert result.stdout == ""
    assert run("export", "--db", db, cwd=tmp_path).stdout == before


@pytest.mark.parametrize("start", ["next tuesday", "2026-13-01T09:00"])
def test_a_bad_start_stops_with_one_line(tmp_path, start):
    result = run("console", "--db", str(tmp_path / "crew.sqlite3"), "--start", start,
                 cwd=tmp_path, stdin="alice: /join\n")
    line = one_line_error(result)
    assert line.startswith("crewbot: ") and "ISO 8601" in line, line
    assert result.stdout == ""


@pytest.mark.parametrize("command", [["console"], ["export"], ["db", "upgrade"], ["run"]])
def test_a_database_url_with_a_bad_scheme_stops_with_a_line_naming_the_variable(tmp_path,
                                                                                 command):
    result = run(*command, cwd=tmp_path, env={"CREWBOT_DATABASE_URL": "mysql://u@db/crew"},
                 stdin="alice: /join\n")
    line = one_line_error(result)
    assert "CREWBOT_DATABASE_URL" in line, line
    assert "mysql" in line, line
    assert result.stdout == ""
    assert not (tmp_path / "crewbot.sqlite3").exists()


def test_a_db_option_with_a_bad_scheme_stops_with_one_line(tmp_path):
    for command in (["console"], ["export"], ["db", "upgrade"]):
        result = run(*command, "--db", "mysql://u@db/crew", cwd=tmp_path, stdin="alice: /join\n")
        line = one_line_error(result)
        assert "mysql" in line, (command, line)
        assert result.stdout == ""


def test_a_database_that_cannot_be_reached_stops_with_one_line(tmp_path):
    result = run("export", "--db", "postgresql://crewbot:s3cret-word@127.0.0.1:1/crew",
                 cwd=tmp_path)
    line = one_line_error(result)
    assert "127.0.0.1:1" in line, line
    assert "s3cret-word" not in result.stderr


@pytest.mark.skipif(not PG_URL, reason="CREWBOT_TEST_DATABASE_URL is not set")
def test_db_upgrade_names_the_database_without_its_password(tmp_path):
    url = make_url(PG_URL).set(password="s3cret-word").render_as_string(hide_password=False)
    result = run("db", "upgrade", "--db", url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "s3cret-word" not in result.stdout + result.stderr
    assert "postgres:***@127.0.0.1" in result.stdout


# a token the platform refuses

RIGHT_TELEGRAM = "7000000001:AAthe-token-BotFather-gave-us-0123"
WRONG_TELEGRAM = "7000000001:AAan-old-token-revoked-since-4567"
RIGHT_DISCORD = "MTMwMDAwMDAwMDAwMDAwMDAwMQ.GhIjKl.the-token-the-portal-gave-us"
WRONG_DISCORD = "MTMwMDAwMDAwMDAwMDAwMDAwMQ.GhIjKl.an-old-token-reset-since-0"


@pytest.mark.parametrize(("platforms", "said"), [
    (["telegram"], "crewbot: Telegram refused the token in CREWBOT_TELEGRAM_TOKEN: check it with "
                   "@BotFather."),
    (["discord"], "crewbot: Discord refused the token in CREWBOT_DISCORD_TOKEN: copy it again "
                  "from the Bot page of the Discord developer portal."),
    (["discord", "telegram"], "crewbot: Telegram refused the token in CREWBOT_TELEGRAM_TOKEN: "
                              "check it with @BotFather."),
], ids=["telegram", "discord", "both"])
async def test_a_refused_token_stops_run_with_one_line_and_exit_code_1(tmp_path, platforms, said):
    async with (FakeTelegram(token=RIGHT_TELEGRAM) as tg, FakeDiscord(token=RIGHT_DISCORD) as dc):
        env = clean_env(CREWBOT_DATABASE_URL=str(tmp_path / "crew.sqlite3"))
        if "telegram" in platforms:
            env |= {"CREWBOT_TELEGRAM_TOKEN": WRONG_TELEGRAM,
                    "CREWBOT_TELEGRAM_API_URL": tg.base_url.removesuffix("/bot")}
        if "discord" in platforms:
            env |= {"CREWBOT_DISCORD_TOKEN": WRONG_DISCORD,
                    "CREWBOT_DISCORD_API_URL": f"http://127.0.0.1:{dc.port}"}
        code, out, err = await crewbot("run", env=env, cwd=tmp_path)
    # Only that line: no traceback, no "Unclosed client session", no "stopped" (it never ran).
    assert (code, out, err) == (1, "", said + "\n")
    if platforms == ["discord"]:
        assert [(c.method, c.path, c.status) for c in dc.calls] == [("GET", "/users/@me", 401)]


# a whole game, piped in and exported

START = "2026-11-02T09:00"  # a Monday; the crew's time zone is the default, UTC
GAME = """\
alice: /checkin glad to be here
bob: /checkin tired but ok
carol: /checkin curious
bob reacts 👍 ^alice
carol reacts 👍 ^alice
alice reacts 👍 ^bob
carol reacts 👍 ^bob
alice reacts 👍 ^carol
bob presses "I listened" #6
alice: /ask a lift to the station
bob: /offer @alice a lift on Friday
alice: /thanks
alice: /meeting now
alice: /here
bob: /here
:advance 3h
bob: /conflict @carol
carol: /conflict accept
bob: /apologise sorry about the noise
carol: /forgive
alice: /conflict @carol
carol: /conflict accept
alice: /conflict unresolved
carol: /coown Bread Coop @alice
alice: /coown confirm
alice: /revoke 5
dave,jr: /join
"""
# The expectation, by hand from GAME.md (ledger ids in order of award):
#  1-3  listening_circle (L1)  +1 each: alice, bob, carol all checked in and all heard each other.
#  4    ask (L2)               +5 alice.
#  5    offer (L2)             +5 bob (offered to alice).
#  6-7  mutual_regard (L2)     +1 bob, +1 alice: alice thanked the offer.
#  8-10 meeting: alice and bob present at their 1st meeting: meeting_attended (L3) +1 each;
#       carol on the roster at the start, absent: meeting_missed (L3) -5.
#  11-12 conflict_resolved (L4) +10 bob, +10 carol: bob apologised, carol forgave.
#  13-14 conflict_unresolved (L4) -20 alice, -20 carol: declared unresolved.
#  15-16 coowners (L5)          +100 carol, +100 alice: both confirmed "Bread Coop".
#  17   revoked (L2)            -5 bob: the admin (alice, first member) revokes entry 5.
#  dave,jr joins last and has no entries: 0, but still listed.
EXPECTED = {
    "alice": {"1": 1, "2": 5 + 1, "3": 1, "4": -20, "5": 100},          # 88
    "bob": {"1": 1, "2": 5 + 1 - 5, "3": 1, "4": 10, "5": 0},           # 13
    "carol": {"1": 1, "2": 0, "3": -5, "4": 10 - 20, "5": 100},         # 86
    "dave,jr": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},                # 0
}
EXPECTED_LEDGER = sorted([
    ("alice", 1, 1, "listening_circle"), ("bob", 1, 1, "listening_circle"),
    ("carol", 1, 1, "listening_circle"),
    ("alice", 5, 2, "ask"), ("bob", 5, 2, "offer"),
    ("bob", 1, 2, "mutual_regard"), ("alice", 1, 2, "mutual_regard"),
    ("alice", 1, 3, "meeting_attended"), ("bob", 1, 3, "meeting_attended"),
    ("carol", -5, 3, "meeting_missed"),
    ("bob", 10, 4, "conflict_resolved"), ("carol", 10, 4, "conflict_resolved"),
    ("alice", -20, 4, "conflict_unresolved"), ("carol", -20, 4, "conflict_unresolved"),
    ("carol", 100, 5, "coowners"), ("alice", 100, 5, "coowners"),
    ("bob", -5, 2, "revoked"),
])


def test_a_game_of_all_five_levels_piped_in_and_exported(db_url, tmp_path):
    result = run("console", "--db", db_url, "--start", START, cwd=tmp_path, stdin=GAME)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    check_transcript(result.stdout.splitlines())

    exported = run("export", "--db", db_url, "--format", "json", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    check_json(data)

    exported = run("export", "--db", db_url, "--format", "csv", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    check_csv(exported.stdout, data)


def check_transcript(lines: list[str]) -> None:
    said = "\n".join(lines)
    assert not any(line.startswith("!") for line in lines), said
    for expected in ("The circle is complete", "asks (ask 1). +5 points",
                     "offers something to @alice", "thanks bob for offer 1",
                     "Present: alice (+1), bob (+1). 1 member could not make it this time.",
                     "Conflict 1 is resolved", "A repair (conflict 2) was declared unresolved",
                     "is co-owned by carol and alice: +100 each",
                     "An admin corrected an entry in the ledger.",
                     "(privately to bob) An admin corrected an entry of yours: \u201coffered "
                     "help\u201d (+5, Mon 2 Nov 2026 09:00 UTC) is cancelled",
                     "Welcome, dave,jr!"):
        assert expected in said, expected


def check_json(data: dict) -> None:
    assert set(data) == {"crews", "congregations"}
    assert data["congregations"] == []  # this crew is in none
    [crew] = data["crews"]
    assert set(crew) == {"platform", "chat_id", "title", "members", "ledger"}
    assert (crew["platform"], crew["chat_id"], crew["title"]) == ("console", "crew", "crew")
    for member in crew["members"]:
        assert set(member) == {"user_id", "name", "points", "by_level"}
        assert list(member["by_level"]) == ["1", "2", "3", "4", "5"]
        assert all(type(v) is int for v in member["by_level"].values())
        assert type(member["points"]) is int
        assert member["user_id"] == member["name"]  # console users are their names
    for entry in crew["ledger"]:
        assert set(entry) == {"user_id", "points", "level", "reason", "ref", "at"}
        assert type(entry["points"]) is int and type(entry["level"]) is int
        assert isinstance(entry["ref"], str) and entry["ref"]
        at = datetime.fromisoformat(entry["at"])
        assert at.utcoffset() is not None and at.utcoffset().total_seconds() == 0, entry
        assert datetime(2026, 11, 2, 9, tzinfo=UTC) <= at <= datetime(2026, 11, 2, 12, tzinfo=UTC)

    assert [m["name"] for m in crew["members"]] == ["alice", "bob", "carol", "dave,jr"]
    assert {m["name"]: m["by_level"] for m in crew["members"]} == EXPECTED
    assert {m["name"]: m["points"] for m in crew["members"]} == {
        "alice": 88, "bob": 13, "carol": 86, "dave,jr": 0}
    assert sorted((e["user_id"], e["points"], e["level"], e["reason"])
                  for e in crew["ledger"]) == EXPECTED_LEDGER
    # The members' totals are the sums of their ledger rows.
    for member in crew["members"]:
        assert member["points"] == sum(e["points"] for e in crew["ledger"]
                                       if e["user_id"] == member["user_id"])
    # The meeting was tallied when its window closed, three hours after it began.
    assert {e["at"] for e in crew["ledger"] if e["reason"].startswith("meeting")} == {
        "2026-11-02T12:00:00+00:00"}


def check_csv(text: str, data: dict) -> None:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header, body = rows[0], rows[1:]
    assert header == ["record", "platform", "chat_id", "title", "user_id", "name", "points",
                      "level", "what", "reason", "ref", "at"]
    assert all(len(row) == len(header) for row in body), body
    records = [dict(zip(header, row, strict=True)) for row in body]
    [crew] = data["crews"]
    members = [r for r in records if r["record"] == "member"]
    entries = [r for r in records if r["record"] == "entry"]
    assert len(members) + len(entries) == len(records)
    assert [(r["user_id"], r["name"], int(r["points"])) for r in members] == [
        (m["user_id"], m["name"], m["points"]) for m in crew["members"]]
    assert [(r["user_id"], int(r["points"]), int(r["level"]), r["reason"], r["ref"], r["at"])
            for r in entries] == [
        (e["user_id"], e["points"], e["level"], e["reason"], e["ref"], e["at"])
        for e in crew["ledger"]]
    assert {(r["platform"], r["chat_id"], r["title"]) for r in records} == {
        ("console", "crew", "crew")}
    # each entry in words for people, the meeting named by its day, a correction by what it
    # cancels; the reason column keeps the codes for programs
    assert sorted({(r["what"], r["reason"]) for r in entries}) == [
        ("asked for help", "ask"), ("came to the meeting of Mon 2 Nov", "meeting_attended"),
        ("co-owned a venture", "coowners"),
        ("correction of \u201coffered help\u201d", "revoked"),
        ("left a conflict unresolved", "conflict_unresolved"),
        ("listened in a circle", "listening_circle"),
        ("missed the meeting of Mon 2 Nov", "meeting_missed"), ("offered help", "offer"),
        ("repaired a conflict", "conflict_resolved"), ("thanked for an offer", "mutual_regard")]
    assert any(r["name"] == "dave,jr" for r in members)  # the comma came through quoted


def test_export_of_an_empty_database(tmp_path):
    db = str(tmp_path / "empty.sqlite3")
    result = run("export", "--db", db, "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"crews": [], "congregations": []}
    result = run("export", "--db", db, "--format", "csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert list(csv.reader(io.StringIO(result.stdout))) == [
        ["record", "platform", "chat_id", "title", "user_id", "name", "points", "level",
         "what", "reason", "ref", "at"]]
