"""Settings read from the environment (CREWBOT_*); secrets never leave this object unredacted."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from storage.engine import DEFAULT_SQLITE, database_url

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class ConfigError(ValueError):
    """A setting with a wrong value; the message names the variable."""


@dataclass(frozen=True)
class Config:
    database: str = DEFAULT_SQLITE
    telegram_token: str | None = field(default=None, repr=False)
    discord_token: str | None = field(default=None, repr=False)
    log_level: str = "INFO"
    tick_seconds: float = 30.0
    telegram_api_url: str | None = None
    discord_guild_ids: tuple[int, ...] = ()
    discord_api_url: str | None = None

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.telegram_token, self.discord_token) if s]

    @property
    def platforms(self) -> list[str]:
        return [name for name, token in (("telegram", self.telegram_token),
                                         ("discord", self.discord_token)) if token]


def from_env(env: dict[str, str] | None = None) -> Config:
    env = dict(os.environ if env is None else env)
    database = env.get("CREWBOT_DATABASE_URL") or DEFAULT_SQLITE
    try:
        database_url(database)
    except Exception as error:
        raise ConfigError(f"CREWBOT_DATABASE_URL is not a usable database URL ({error})") from None
    level = env.get("CREWBOT_LOG_LEVEL", "INFO").upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"CREWBOT_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    try:
        tick = float(env.get("CREWBOT_TICK_SECONDS", "30"))
        if not 1 <= tick <= 3600:
            raise ValueError
    except ValueError:
        raise ConfigError("CREWBOT_TICK_SECONDS must be a number of seconds from 1 to 3600"
                          ) from None
    api_url = env.get("CREWBOT_TELEGRAM_API_URL") or None
    if api_url and not api_url.startswith(("http://", "https://")):
        raise ConfigError("CREWBOT_TELEGRAM_API_URL must be an http:// or https:// URL")
    guilds = env.get("CREWBOT_DISCORD_GUILD_IDS", "").replace(",", " ").split()
    if not all(g.isascii() and g.isdigit() and len(g) <= 20 for g in guilds):
        raise ConfigError("CREWBOT_DISCORD_GUILD_IDS must be server ids (numbers) separated by "
                          "commas")
    discord_url = env.get("CREWBOT_DISCORD_API_URL") or None
    if discord_url and not discord_url.startswith(("http://", "https://")):
        raise ConfigError("CREWBOT_DISCORD_API_URL must be an http:// or https:// URL")
    return Config(database=database, discord_guild_ids=tuple(int(g) for g in guilds),
                  discord_api_url=discord_url,
                  telegram_token=env.get("CREWBOT_TELEGRAM_TOKEN") or None,
                  discord_token=env.get("CREWBOT_DISCORD_TOKEN") or None,
                  log_level=level, tick_seconds=tick, telegram_api_url=api_url)


class Redact(logging.Filter):
    """Replaces every secret in a log record's final text with ***."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if any(s in text for s in self.secrets):
            for secret in self.secrets:
                text = text.replace(secret, "***")
            record.msg, record.args = text, None
        return True


def setup_logging(level: str, secrets: list[str] | None = None) -> None:
    logging.basicConfig(level=getattr(logging, level),
                        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(Redact(secrets or []))
    # httpx logs every request URL, and Telegram's URLs carry the bot token.
    for noisy in ("apscheduler", "aiosqlite", "sqlalchemy.engine", "alembic", "httpx",
                  "httpcore", "telegram", "discord"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, getattr(logging, level)))
