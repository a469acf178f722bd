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
    return Config(database=database,
                  telegram_token=env.get("CREWBOT_TELEGRAM_TOKEN") or None,
                  discord_token=env.get("CREWBOT_DISCORD_TOKEN") or None,
                  log_level=level, tick_seconds=tick)


def setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level),
                        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    for noisy in ("apscheduler", "aiosqlite", "sqlalchemy.engine", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, getattr(logging, level)))
