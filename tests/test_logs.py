"""Logs as an operator reads them: `crewbot run` against the fake Telegram writes one line per
handled event (platform, crew, command, outcome, duration), as key=value text or JSON lines,
and never a member's words or a secret."""

from __future__ import annotations

import io
import json
import logging
import re
import signal
from collections.abc import AsyncIterator

import pytest

from bot.logs import JsonFormatter, TextFormatter
from tests.fakes.telegram_api import FakeTelegram
from tests.processes import CREWBOT, clean_env, running

CREW = -1001000000001
ALICE = {"id": 101, "is_bot": False, "first_name": "Alice", "username": "alice"}
BOB = {"id": 102, "is_bot": False, "first_name": "Bob", "username": "bob"}
TOKEN = "7000000001:SECRET-log-test-token-a1b2-c3d4"
PHRASE = "zebra-lantern-4417 my sister's diagnosis"  # a member's words: never in a log
TEXT_LINE = re.compile(r"time=\S+ level=[A-Z]+ logger=\S+ (?:[a-z_]+=\S*(?: |$))+")


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(bot_username="crewbot", token=TOKEN) as fake:
        fake.add_chat(CREW, title="Garden crew")
        fake.set_bot_admin(CREW)
        yield fake


async def play_and_stop(tg: FakeTelegram, tmp_path, log_format: str) -> str:
    """Runs the bot, plays a command of each kind, stops it with SIGTERM; returns its stderr."""
    env = clean_env(CREWBOT_TELEGRAM_TOKEN=TOKEN,
                    CREWBOT_TELEGRAM_API_URL=tg.base_url.removesuffix("/bot"),
                    CREWBOT_DATABASE_URL=str(tmp_path / "crew.sqlite3"),
                    CREWBOT_LOG_FORMAT=log_format, CREWBOT_LOG_LEVEL="INFO")
    async with running([str(CREWBOT), "run"], env, tmp_path) as proc:
        await tg.wait_call("getUpdates", timeout=30)
        first = tg.push(tg.message(CREW, ALICE, f"/checkin {PHRASE}"))
        await tg.wait_sent(lambda s: "checked in" in s["text"], timeout=30)
        [checkin] = [m for m in tg.sent_messages if "checked in" in m["text"]]
        tg.push(tg.message(CREW, BOB, "/join"))
        tg.push(tg.message(CREW, BOB, f"/{PHRASE.split()[0]} {PHRASE}"))  # unknown command
        await tg.wait_sent(lambda s: "don't know" in s["text"], timeout=30)
        tg.push(first, redeliver=True)  # Telegram redelivers after a crash: one effect
        tg.push(tg.reaction(CREW, BOB, checkin["message_id"], new=["👍"]))
        button = checkin["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        tg.push(tg.callback(CREW, BOB, checkin["message_id"], button))
        tg.push(tg.chat_member(CREW, BOB, "member", "left"))
        tg.push(tg.message(CREW, ALICE, "/leaderboard"))
        await tg.wait_sent(lambda s: "Crew total" in s["text"], timeout=30)
        proc.send_signal(signal.SIGTERM)
        _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return err.decode()


def events(records: list[dict[str, str]]) -> list[tuple[str, str, str]]:
    return [(r["event"], r["command"], r["outcome"]) for r in records if "command" in r]


def check_events(records: list[dict[str, str]]) -> None:
    handled = [r for r in records if "command" in r]
    for record in handled:
        assert record["platform"] == "telegram" and record["crew"] == str(CREW), record
        assert int(record["ms"]) >= 0, record
    assert events(records) == [
        ("command", "checkin", "ok"),
        ("command", "join", "ok"),
        ("command", "unknown", "refused"),
        ("command", "checkin", "duplicate"),
        ("reaction", "add", "ok"),
        ("button", "checkin", "ok"),
        ("member_left", "leave", "ok"),
        ("command", "leaderboard", "ok"),
    ]


async def test_text_logs_are_key_value_lines_without_member_words(tg, tmp_path):
    err = await play_and_stop(tg, tmp_path, "text")
    lines = err.splitlines()
    assert lines, "the bot logged nothing"
    for line in lines:
        assert TEXT_LINE.fullmatch(line), line
    records = [dict(w.split("=", 1) for w in line.split(" ")) for line in lines]
    check_events(records)
    assert any(r.get("outcome") == "stopped" for r in records)
    for word in (PHRASE, "zebra", "lantern", "diagnosis", TOKEN, "SECRET"):
        assert word not in err, word


async def test_json_logs_are_one_object_a_line_without_member_words(tg, tmp_path):
    err = await play_and_stop(tg, tmp_path, "json")
    records = [json.loads(line) for line in err.splitlines()]
    assert records, "the bot logged nothing"
    for record in records:
        assert {"time", "level", "logger"} <= set(record), record
    check_events(records)
    assert all(isinstance(r["ms"], int) for r in records if "command" in r)
    for word in (PHRASE, "zebra", "lantern", "diagnosis", TOKEN, "SECRET"):
        assert word not in err, word


@pytest.mark.parametrize("formatter", [TextFormatter, JsonFormatter])
def test_secrets_are_hidden_in_messages_and_tracebacks(formatter):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(["SECRET-token-123"]))
    log = logging.getLogger(f"crewbot.test.{formatter.__name__}")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("event=x url=https://api/botSECRET-token-123/getMe")
        try:
            raise RuntimeError("failed at https://api/botSECRET-token-123/getUpdates")
        except RuntimeError:
            log.exception("event=y outcome=error")
    finally:
        log.removeHandler(handler)
    out = stream.getvalue()
    assert "SECRET" not in out
    assert "api/bot***/getMe" in out and "api/bot***/getUpdates" in out
