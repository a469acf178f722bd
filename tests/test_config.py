"""Settings as an operator meets them: environment and .env file (the environment wins), one
clear line and exit code 2 for a wrong value, and the default time zone given to new crews."""

from __future__ import annotations

import os

import pytest

from bot.app import open_app
from bot.clock import SimClock
from bot.commands.events import Actor, Chat, CommandReceived
from bot.config import ConfigError, from_env
from storage.engine import make_engine
from tests.conftest import START
from tests.processes import clean_env, crewbot


@pytest.mark.parametrize(("name", "value", "hint"), [
    ("CREWBOT_DEFAULT_TIMEZONE", "Mars/Olympus_Mons", "Europe/Berlin"),
    ("CREWBOT_DEFAULT_TIMEZONE", "Europe", "IANA"),
    ("CREWBOT_LOG_LEVEL", "LOUD", "DEBUG, INFO, WARNING, ERROR"),
    ("CREWBOT_LOG_FORMAT", "xml", "text or json"),
    ("CREWBOT_HEALTH_PORT", "80800", "1 to 65535"),
    ("CREWBOT_HEALTH_PORT", "eighty", "1 to 65535"),
    ("CREWBOT_HEALTH_HOST", "my host!", "0.0.0.0"),
    ("CREWBOT_TICK_SECONDS", "0", "1 to 3600"),
    ("CREWBOT_DB_POOL_SIZE", "0", "1 to 100"),
    ("CREWBOT_DB_POOL_SIZE", "lots", "1 to 100"),
    ("CREWBOT_DATABASE_URL", "postgresql://crewbot:SECRET-pw@db:port/crew", "postgresql://"),
    ("CREWBOT_TELEGRAM_TOKEN", "SECRET-pasted-the-bot-name", "@BotFather"),
    ("CREWBOT_DISCORD_TOKEN", "Bot SECRET.discord.token", "developer portal"),
])
async def test_a_wrong_value_stops_run_with_one_line_and_exit_code_2(tmp_path, name, value, hint):
    code, out, err = await crewbot("run", env=clean_env(**{name: value}), cwd=tmp_path)
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err
    [line] = err.splitlines()
    assert line.startswith(f"crewbot: {name} ") and hint in line, line
    assert "SECRET" not in err


async def test_every_wrong_value_is_reported_at_once_one_line_each(tmp_path):
    env = clean_env(CREWBOT_DEFAULT_TIMEZONE="Berlin", CREWBOT_LOG_LEVEL="LOUD",
                    CREWBOT_TELEGRAM_TOKEN="123456:SECRET-too-short",
                    CREWBOT_DISCORD_TOKEN="SECRET-one-part-only",
                    CREWBOT_HEALTH_PORT="eighty")
    code, out, err = await crewbot("run", env=env, cwd=tmp_path)
    assert (code, out) == (2, ""), err
    lines = err.splitlines()
    named = [line.split()[1] for line in lines]
    assert named == ["CREWBOT_LOG_LEVEL", "CREWBOT_DEFAULT_TIMEZONE", "CREWBOT_HEALTH_PORT",
                     "CREWBOT_TELEGRAM_TOKEN", "CREWBOT_DISCORD_TOKEN"], err
    assert all(line.startswith("crewbot: CREWBOT_") for line in lines), err
    assert "SECRET" not in err
    assert not (tmp_path / "crewbot.sqlite3").exists()  # nothing started


@pytest.mark.parametrize("token", [
    "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",  # the shape BotFather hands out
    "7000000001:AAFake-token_for-the-loopback-Bot-API",
])
def test_a_telegram_token_of_the_right_shape_is_taken(token):
    assert from_env({"CREWBOT_TELEGRAM_TOKEN": f" {token} "}).telegram_token == token


@pytest.mark.parametrize("token", [
    "110201543:AAHdqTcv",  # cut short while copying
    "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",  # the part after the colon only
    "110201543 AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
    "https://api.telegram.org/bot110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/getMe",
    "MTMwMDAwMDAwMDAwMDAwMDAwMQ.GhIjKl.a-discord-token-in-the-wrong-variable",
])
def test_a_telegram_token_of_the_wrong_shape_is_refused_without_showing_it(token):
    with pytest.raises(ConfigError) as refused:
        from_env({"CREWBOT_TELEGRAM_TOKEN": token})
    [problem] = refused.value.problems
    assert problem.startswith("CREWBOT_TELEGRAM_TOKEN is not shaped like a Telegram bot token")
    assert token not in problem and "AAHdqTcv" not in problem


@pytest.mark.parametrize("token", [
    "MTMwMDAwMDAwMDAwMDAwMDAwMQ.GhIjKl.a-discord-token-signature-part_x",
    "MTMwMDAwMDAwMDAwMDAwMDAwMQ.GFake0.fake-signature-for-the-loopback-gateway",
])
def test_a_discord_token_of_the_right_shape_is_taken(token):
    assert from_env({"CREWBOT_DISCORD_TOKEN": token}).discord_token == token


@pytest.mark.parametrize("token", [
    "Bot MTMwMDAwMDAwMDAwMDAwMDAwMQ.GhIjKl.a-discord-token-signature-part_x",
    "MTMwMDAwMDAwMDAwMDAwMDAwMQ.GhIjKl",  # two parts of three
    "1300000000000000001",  # the application id, not the token
    "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",  # a Telegram token in the wrong variable
])
def test_a_discord_token_of_the_wrong_shape_is_refused_without_showing_it(token):
    with pytest.raises(ConfigError) as refused:
        from_env({"CREWBOT_DISCORD_TOKEN": token})
    [problem] = refused.value.problems
    assert problem.startswith("CREWBOT_DISCORD_TOKEN is not shaped like a Discord bot token")
    assert token not in problem and "MTMw" not in problem


def test_every_setting_has_its_default_when_unset():
    config = from_env({})
    assert (config.database, config.log_level, config.log_format, config.tick_seconds,
            config.default_timezone, config.health_port, config.health_host,
            config.platforms) == ("crewbot.sqlite3", "INFO", "text", 30.0, "UTC", None,
                                  "127.0.0.1", [])


def test_the_postgres_pool_size_reaches_the_engine():
    config = from_env({"CREWBOT_DB_POOL_SIZE": " 5 "})
    assert from_env({}).db_pool_size == 20
    engine = make_engine("postgresql://crewbot@db.invalid/crew", config.db_pool_size)
    # No connection is made until one is needed: the pool's limits are what it was built with.
    assert (engine.pool.size(), engine.sync_engine.pool._max_overflow) == (5, 5)  # type: ignore[attr-defined]


def test_values_are_trimmed_and_case_forgiving():
    config = from_env({"CREWBOT_LOG_LEVEL": " debug ", "CREWBOT_LOG_FORMAT": "JSON",
                       "CREWBOT_HEALTH_PORT": "8080 ", "CREWBOT_DEFAULT_TIMEZONE": "Europe/Oslo"})
    assert (config.log_level, config.log_format, config.health_port,
            config.default_timezone) == ("DEBUG", "json", 8080, "Europe/Oslo")


@pytest.fixture
def bare_environment(monkeypatch, tmp_path):
    """No CREWBOT_* variable in the environment, and an empty working directory."""
    for name in list(os.environ):
        if name.startswith("CREWBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_dot_env_file_in_the_working_directory_is_read(bare_environment, monkeypatch):
    (bare_environment / ".env").write_text(
        "# the crew's bot\n"
        "CREWBOT_TELEGRAM_TOKEN=123:AA-from-the-file-0123456789abcdef\n"
        "export CREWBOT_LOG_FORMAT=json\n"
        "CREWBOT_DEFAULT_TIMEZONE='Europe/Berlin'  # quoted, with a comment\n"
        "CREWBOT_TICK_SECONDS=60\n")
    monkeypatch.setenv("CREWBOT_TICK_SECONDS", "45")  # the real environment wins
    config = from_env()
    assert config.env_file == ".env"
    assert (config.telegram_token, config.log_format, config.default_timezone,
            config.tick_seconds) == ("123:AA-from-the-file-0123456789abcdef", "json",
                                     "Europe/Berlin", 45.0)


def test_crewbot_env_file_names_another_file(bare_environment, monkeypatch):
    (bare_environment / ".env").write_text("CREWBOT_LOG_LEVEL=ERROR\n")
    elsewhere = bare_environment / "crewbot.env"
    elsewhere.write_text("CREWBOT_LOG_LEVEL=WARNING\n")
    monkeypatch.setenv("CREWBOT_ENV_FILE", str(elsewhere))
    assert from_env().log_level == "WARNING"
    monkeypatch.setenv("CREWBOT_ENV_FILE", str(bare_environment / "missing.env"))
    with pytest.raises(ConfigError, match=r"CREWBOT_ENV_FILE names .*missing\.env"):
        from_env()


def test_a_missing_env_file_is_reported_with_the_other_wrong_values(bare_environment,
                                                                    monkeypatch):
    monkeypatch.setenv("CREWBOT_ENV_FILE", str(bare_environment / "missing.env"))
    monkeypatch.setenv("CREWBOT_TICK_SECONDS", "never")
    with pytest.raises(ConfigError) as refused:
        from_env()
    assert [p.split()[0] for p in refused.value.problems] == ["CREWBOT_ENV_FILE",
                                                              "CREWBOT_TICK_SECONDS"]


def test_without_a_file_only_the_environment_counts(bare_environment, monkeypatch):
    monkeypatch.setenv("CREWBOT_LOG_LEVEL", "ERROR")
    config = from_env()
    assert (config.env_file, config.log_level) == (None, "ERROR")


async def test_a_wrong_value_in_the_dot_env_file_names_the_variable(tmp_path):
    (tmp_path / ".env").write_text("CREWBOT_DEFAULT_TIMEZONE=Berlin\n")
    code, _, err = await crewbot("export", env=clean_env(), cwd=tmp_path)
    assert code == 2
    [line] = err.splitlines()
    assert line.startswith("crewbot: CREWBOT_DEFAULT_TIMEZONE 'Berlin' is not an IANA time zone")


async def test_the_dot_env_file_configures_the_real_command(tmp_path):
    (tmp_path / ".env").write_text(f"CREWBOT_DATABASE_URL={tmp_path / 'from-file.sqlite3'}\n"
                                   "CREWBOT_DEFAULT_TIMEZONE=America/New_York\n")
    code, out, err = await crewbot("db", "upgrade", env=clean_env(), cwd=tmp_path)
    assert code == 0, err
    assert "from-file.sqlite3 is at the latest schema" in out
    env = clean_env(CREWBOT_DATABASE_URL=str(tmp_path / "from-env.sqlite3"))
    code, out, err = await crewbot("db", "upgrade", env=env, cwd=tmp_path)  # env wins
    assert code == 0, err
    assert "from-env.sqlite3 is at the latest schema" in out


async def test_a_new_crew_starts_in_the_default_time_zone_and_old_crews_keep_theirs(tmp_path):
    db = str(tmp_path / "crew.sqlite3")
    join = CommandReceived(Chat("console", "old"), Actor("a", "alice"), "/settings")
    app = await open_app(db, SimClock(START))
    try:
        [before] = await app.game.handle(join)
    finally:
        await app.close()
    assert "\ntimezone: UTC \u2014" in before.plain()

    app = await open_app(db, SimClock(START), "Europe/Berlin")
    try:
        [new] = await app.game.handle(CommandReceived(Chat("console", "new"),
                                                      Actor("b", "bob"), "/settings"))
        [old] = await app.game.handle(join)
    finally:
        await app.close()
    assert "\ntimezone: Europe/Berlin \u2014" in new.plain()
    assert "\ntimezone: UTC \u2014" in old.plain()


async def test_the_console_gives_new_crews_the_default_time_zone(tmp_path):
    code, out, err = await crewbot(
        "console", "--db", str(tmp_path / "c.sqlite3"), "--start", "2026-11-02T09:00",
        env=clean_env(CREWBOT_DEFAULT_TIMEZONE="Asia/Tokyo"), cwd=tmp_path,
        stdin="alice: /meeting schedule first monday 19:00\n")
    assert code == 0, err
    assert "meets first monday 19:00 (Asia/Tokyo). Next meeting: Mon 2 Nov 2026 19:00 JST" in out
