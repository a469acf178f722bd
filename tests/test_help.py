"""`--help` everywhere: each command says what it does and which variables it reads."""

from __future__ import annotations

import pytest

from bot.config import VARIABLES
from tests.processes import clean_env, crewbot

COMMANDS = {
    (): ("check", "run", "console", "export", "db", *VARIABLES),
    ("run",): ("SIGTERM", "/healthz", *VARIABLES),
    ("console",): ("--db", "--start", "standard input", "CREWBOT_DATABASE_URL",
                   "CREWBOT_DEFAULT_TIMEZONE", "CREWBOT_ENV_FILE"),
    ("export",): ("--db", "--format", "JSON or CSV", "CREWBOT_DATABASE_URL"),
    ("db",): ("upgrade", "CREWBOT_DATABASE_URL"),
    ("db", "upgrade"): ("--db", "migrations", "CREWBOT_DATABASE_URL"),
    ("check",): ("--db", "Exit code 0", "PROBLEM", "Add Reactions", "CREWBOT_TELEGRAM_TOKEN",
                 "CREWBOT_DISCORD_TOKEN", "CREWBOT_DATABASE_URL"),
}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "crewbot")
async def test_help_describes_the_command_and_its_variables(tmp_path, command):
    # A broken setting must not hide the help that explains it.
    env = clean_env(CREWBOT_LOG_LEVEL="LOUD")
    code, out, err = await crewbot(*command, "--help", env=env, cwd=tmp_path)
    assert (code, err) == (0, "")
    assert out.startswith(f"usage: crewbot {' '.join(command)}".rstrip())
    flowing = " ".join(out.split())  # words as read, whatever the line wrapping
    for word in COMMANDS[command]:
        assert word in flowing, word
    assert max(len(line) for line in out.splitlines()) <= 80 or command == ()
