"""Secrets: a bot token and a database password never appear in what `crewbot run` writes (logs
at DEBUG, error lines, tracebacks), on the good path and on error paths: a database that cannot
be reached, a token the platform rejects, a platform that fails mid-run."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.telegram_api import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
CREWBOT = Path(sys.executable).parent / "crewbot"
TOKEN = "7000000001:SECRET-token-do-not-log-42-0000"
PASSWORD = "pa55-SECRET-w0rd"
GROUP = -1001000000001


def env(**values: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("CREWBOT_")}
    out.update(PYTHONPATH=str(ROOT), CREWBOT_LOG_LEVEL="DEBUG", **values)
    return out


def clean(text: str) -> None:
    for secret in (TOKEN, PASSWORD, TOKEN.split(":", 1)[1]):
        assert secret not in text, text[-3000:]


async def run_until(proc: subprocess.Popen, stop: bool) -> str:
    if stop:
        proc.terminate()
    try:
        out, err = await asyncio.to_thread(proc.communicate, timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return out + err


@pytest.mark.parametrize("db", ["postgresql://crewbot:{pw}@127.0.0.1:1/crewbot",
                                "postgresql+asyncpg://postgres:{pw}@127.0.0.1:5432/no_such_db"])
def test_a_database_that_cannot_be_used_is_named_without_its_password(db, tmp_path):
    for command in (["run"], ["db", "upgrade"]):
        done = subprocess.run([str(CREWBOT), *command], input="", capture_output=True, text=True,
                              cwd=tmp_path, timeout=60,
                              env=env(CREWBOT_DATABASE_URL=db.format(pw=PASSWORD),
                                      CREWBOT_TELEGRAM_TOKEN=TOKEN))
        assert done.returncode == 2, done.stderr
        assert "cannot use the database" in done.stderr and "***" in done.stderr
        clean(done.stdout + done.stderr)


async def test_a_rejected_token_stops_start_up_without_showing_it(tmp_path):
    async with FakeTelegram(bot_username="crewbot", token="1:the-right-one") as tg:
        proc = subprocess.Popen(
            [str(CREWBOT), "run"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, cwd=tmp_path,
            env=env(CREWBOT_TELEGRAM_TOKEN=TOKEN,
                    CREWBOT_TELEGRAM_API_URL=tg.base_url.removesuffix("/bot"),
                    CREWBOT_DATABASE_URL=str(tmp_path / "bot.sqlite3")))
        said = await run_until(proc, stop=False)
    assert proc.returncode == 1
    assert "crewbot: Telegram refused the token in CREWBOT_TELEGRAM_TOKEN" in said
    clean(said)


async def test_a_run_with_platform_failures_logs_no_secret(tmp_path):
    async with FakeTelegram(bot_username="crewbot", token=TOKEN) as tg:
        tg.add_chat(GROUP)
        proc = subprocess.Popen(
            [str(CREWBOT), "run"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, cwd=tmp_path,
            env=env(CREWBOT_TELEGRAM_TOKEN=TOKEN,
                    CREWBOT_TELEGRAM_API_URL=tg.base_url.removesuffix("/bot"),
                    CREWBOT_DATABASE_URL=str(tmp_path / "bot.sqlite3"), CREWBOT_TICK_SECONDS="1"))
        try:
            await tg.wait_call("getUpdates", timeout=30)
            alice = {"id": 5, "is_bot": False, "first_name": "alice"}
            tg.push(tg.message(GROUP, alice, "/ask a lift"))
            await tg.wait_sent(lambda s: "alice asks" in s["text"], timeout=30)
            tg.fail_next("sendMessage", times=2, status=500)  # an error path with tracebacks
            tg.fail_next("getChatAdministrators", times=2, status=401)
            tg.push(tg.message(GROUP, alice, "/checkin hi"))
            tg.push(tg.message(GROUP, alice, "/checkin again"))
            await tg.wait_call("sendMessage", count=4, timeout=30)
        finally:
            said = await run_until(proc, stop=True)
    assert "outcome=stopped" in said
    clean(said)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_logged_traceback_that_quotes_a_secret_is_redacted(fmt):
    import logging

    from bot.logs import JsonFormatter, Redact, TextFormatter

    secrets = [TOKEN, PASSWORD]
    formatter = JsonFormatter(secrets) if fmt == "json" else TextFormatter(secrets)
    try:
        raise RuntimeError(f"connect to postgresql://u:{PASSWORD}@db failed for bot{TOKEN}")
    except RuntimeError:
        record = logging.LogRecord("crewbot.test", logging.ERROR, __file__, 1,
                                   "outcome=error token=%s", (TOKEN,), sys.exc_info())
    assert Redact(secrets).filter(record)
    shown = formatter.format(record)
    assert "RuntimeError: connect to postgresql://u:***@db failed for bot***" in shown.replace(
        "\\n", "\n")
    clean(shown)
