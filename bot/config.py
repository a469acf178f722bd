"""Settings read from the environment and an optional .env file (CREWBOT_*), checked at start."""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from bot.logs import Redact, setup_logging
from bot.rules.settings import SETTINGS
from storage.engine import DEFAULT_SQLITE, PG_POOL_SIZE, database_url

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")
DEFAULT_TIMEZONE = str(SETTINGS["timezone"].default)
ENV_FILE = ".env"
# Read by the test suite only, never by the bot: not reported as unknown.
TEST_VARIABLES = frozenset({"CREWBOT_TEST_DATABASE_URL", "CREWBOT_REQUIRE_POSTGRES"})
# Loose on purpose: they catch a paste of the wrong thing, the platform judges the rest.
TELEGRAM_TOKEN = re.compile(r"[0-9]+:[A-Za-z0-9_-]{30,}")
DISCORD_TOKEN = re.compile(r"[\w-]{20,}\.[\w-]{4,}\.[\w-]{20,}", re.ASCII)
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what setWebhook's secret_token allows
WEBHOOK_PORTS = (443, 80, 88, 8443)  # the ports Telegram's own servers post webhooks to
DEFAULT_WEBHOOK_LISTEN = "127.0.0.1:8443"


@dataclass(frozen=True)
class Variable:
    """One setting as the README, .env.example and --help show it."""

    name: str
    default: str  # as written for people; "unset" when there is none
    meaning: str
    secret: bool = False


VARIABLES: dict[str, Variable] = {v.name: v for v in (
    Variable("CREWBOT_DATABASE_URL", DEFAULT_SQLITE,
             "a SQLite file path, `sqlite:///path`, or `postgresql://user:pass@host/db`"),
    Variable("CREWBOT_TELEGRAM_TOKEN", "unset", "Telegram bot token: serve Telegram", True),
    Variable("CREWBOT_TELEGRAM_API_URL", "Telegram's", "base URL of a self-hosted Bot API server"),
    Variable("CREWBOT_TELEGRAM_WEBHOOK_URL", "unset (polling)",
             "public `https://` URL Telegram posts updates to: receive them by webhook instead "
             "of polling (`http://` only with a self-hosted Bot API server)"),
    Variable("CREWBOT_TELEGRAM_WEBHOOK_LISTEN", DEFAULT_WEBHOOK_LISTEN,
             "`host:port` this process serves the webhook URL's path on (behind your TLS "
             "proxy or load balancer)"),
    Variable("CREWBOT_TELEGRAM_WEBHOOK_SECRET", "unset",
             "secret Telegram sends with each webhook update (1-256 of `A-Z a-z 0-9 _ -`); "
             "required with a webhook URL", True),
    Variable("CREWBOT_DISCORD_TOKEN", "unset", "Discord bot token: serve Discord", True),
    Variable("CREWBOT_DISCORD_GUILD_IDS", "unset",
             "server ids (comma-separated) to sync slash commands to at once"),
    Variable("CREWBOT_DISCORD_SHARD_COUNT", "Discord's count",
             "gateway shards across all processes (set it to split the shards over processes)"),
    Variable("CREWBOT_DISCORD_SHARD_IDS", "every shard",
             "the shards this process runs, such as `0-3` or `4,5` (needs "
             "CREWBOT_DISCORD_SHARD_COUNT)"),
    Variable("CREWBOT_DISCORD_API_URL", "Discord's",
             "base URL of a Discord-compatible API and gateway (proxies, tests)"),
    Variable("CREWBOT_DEFAULT_TIMEZONE", DEFAULT_TIMEZONE,
             "IANA time zone a new crew starts with (`/settings timezone` changes a crew's)"),
    Variable("CREWBOT_DB_POOL_SIZE", str(PG_POOL_SIZE),
             "PostgreSQL connections each bot process keeps open (1-100), and as many more for "
             "a burst"),
    Variable("CREWBOT_TICK_SECONDS", "30", "how often the scheduler looks for due work (1-3600)"),
    Variable("CREWBOT_LOG_LEVEL", "INFO", "`DEBUG`, `INFO`, `WARNING` or `ERROR`"),
    Variable("CREWBOT_LOG_FORMAT", "text", "`text` (key=value lines) or `json` (one JSON object "
             "a line)"),
    Variable("CREWBOT_HEALTH_PORT", "unset",
             "serve `/healthz` and `/readyz` over HTTP on this port (unset: no endpoint)"),
    Variable("CREWBOT_HEALTH_HOST", "127.0.0.1",
             "address the health endpoint listens on (`0.0.0.0` in the Docker image)"),
    Variable("CREWBOT_PICTURES_DIR", "next to the database",
             "where the console saves pictures and files (see the console)"),
    Variable("CREWBOT_ENV_FILE", ".env", "the .env file to read settings from, if it exists "
             "(variables set in the environment win)"),
)}


class ConfigError(ValueError):
    """Settings with wrong values; each problem names its variable and how to fix it."""

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class TokenRefused(Exception):
    """A platform answered that its token is wrong; the message says which and what to do."""


class PlatformRefused(Exception):
    """A platform ended the connection for good (Discord's fatal gateway closes); the message
    says what it means and which setting to change."""


@dataclass(frozen=True)
class Config:
    database: str = DEFAULT_SQLITE
    telegram_token: str | None = field(default=None, repr=False)
    discord_token: str | None = field(default=None, repr=False)
    log_level: str = "INFO"
    tick_seconds: float = 30.0
    db_pool_size: int = PG_POOL_SIZE
    telegram_api_url: str | None = None
    webhook_url: str | None = None
    webhook_host: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_secret: str | None = field(default=None, repr=False)
    discord_guild_ids: tuple[int, ...] = ()
    discord_api_url: str | None = None
    discord_shard_count: int | None = None  # None: the count Discord recommends
    discord_shard_ids: tuple[int, ...] | None = None  # None: every shard of the count
    default_timezone: str = DEFAULT_TIMEZONE
    log_format: str = "text"
    health_port: int | None = None
    health_host: str = "127.0.0.1"
    pictures_dir: str | None = None
    env_file: str | None = None  # the .env file that was read, if any
    unknown: tuple[str, ...] = ()  # CREWBOT_* names that are no setting (typos)

    @property
    def secrets(self) -> list[str]:
        password = database_url(self.database).password
        return [s for s in (self.telegram_token, self.discord_token, self.webhook_secret,
                            password) if s]

    @property
    def platforms(self) -> list[str]:
        return [name for name, token in (("telegram", self.telegram_token),
                                         ("discord", self.discord_token)) if token]

    def unknown_notes(self) -> list[str]:
        """One line per CREWBOT_* name that is no setting, with the likely one meant."""
        notes = []
        for name in self.unknown:
            close = difflib.get_close_matches(name, VARIABLES, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            notes.append(f"{name} is not a Crewbot setting and is ignored{hint}")
        return notes


def read_env_file(environ: dict[str, str]) -> tuple[dict[str, str], str | None]:
    """The settings in CREWBOT_ENV_FILE, or in ./.env when that exists; ({}, None) if none."""
    named = environ.get("CREWBOT_ENV_FILE")
    path = Path(named or ENV_FILE)
    if not path.is_file():
        if named:
            raise ConfigError(f"CREWBOT_ENV_FILE names {named}, which is not a file: fix the "
                              "path or unset CREWBOT_ENV_FILE")
        return {}, None
    try:
        values = dotenv_values(path)
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"CREWBOT_ENV_FILE: cannot read {path} ({type(error).__name__}): "
                          "make it a readable UTF-8 text file") from None
    return {k: v for k, v in values.items() if v is not None}, str(path)


def from_env(env: dict[str, str] | None = None) -> Config:
    """The settings: `env` (default os.environ) over the .env file's (skipped when `env` is
    given, so tests see exactly what they pass). Every wrong value is reported at once, in one
    ConfigError."""
    problems: list[str] = []
    env_file = None
    if env is None:
        environ = dict(os.environ)
        try:
            from_file, env_file = read_env_file(environ)
        except ConfigError as error:
            problems.extend(error.problems)
            from_file = {}
        env = {**from_file, **environ}
    else:
        env = dict(env)
    unknown = tuple(sorted(name for name in env if name.startswith("CREWBOT_")
                           and name not in VARIABLES and name not in TEST_VARIABLES))

    def get(name: str) -> str:
        return env.get(name, "").strip()

    database = get("CREWBOT_DATABASE_URL") or DEFAULT_SQLITE
    try:
        database_url(database)
    except ValueError as error:
        detail = str(error) if "scheme" in str(error) else "it cannot be read as a URL"
        problems.append(f"CREWBOT_DATABASE_URL is not a usable database URL ({detail}): write "
                        "postgresql://USER:PASSWORD@HOST:5432/DB or a SQLite file path")
    level = (get("CREWBOT_LOG_LEVEL") or "INFO").upper()
    if level not in LOG_LEVELS:
        problems.append(f"CREWBOT_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    log_format = (get("CREWBOT_LOG_FORMAT") or "text").lower()
    if log_format not in LOG_FORMATS:
        problems.append("CREWBOT_LOG_FORMAT must be text or json")
    tick = number(get("CREWBOT_TICK_SECONDS") or "30")
    if tick is None or not 1 <= tick <= 3600:
        problems.append("CREWBOT_TICK_SECONDS must be a number of seconds from 1 to 3600")
    pool_text = get("CREWBOT_DB_POOL_SIZE") or str(PG_POOL_SIZE)
    if not (pool_text.isascii() and pool_text.isdigit() and 1 <= int(pool_text) <= 100):
        problems.append("CREWBOT_DB_POOL_SIZE must be a number of connections from 1 to 100 "
                        f"(default {PG_POOL_SIZE}); each process may open twice that")
    zone = get("CREWBOT_DEFAULT_TIMEZONE") or DEFAULT_TIMEZONE
    if not is_zone(zone):
        problems.append(f"CREWBOT_DEFAULT_TIMEZONE '{zone[:64]}' is not an IANA time zone: use "
                        "a name such as Europe/Berlin, America/New_York or UTC")
    port_text = get("CREWBOT_HEALTH_PORT")
    if port_text and not (port_text.isascii() and port_text.isdigit()
                          and 1 <= int(port_text) <= 65535):
        problems.append("CREWBOT_HEALTH_PORT must be a port number from 1 to 65535, or unset "
                        "for no health endpoint")
    host = get("CREWBOT_HEALTH_HOST") or "127.0.0.1"
    if not _is_host(host):
        problems.append("CREWBOT_HEALTH_HOST must be an IP address or host name, such as "
                        "127.0.0.1 (this machine only) or 0.0.0.0 (every interface)")
    telegram_token = get("CREWBOT_TELEGRAM_TOKEN")
    if telegram_token and not TELEGRAM_TOKEN.fullmatch(telegram_token):
        problems.append("CREWBOT_TELEGRAM_TOKEN is not shaped like a Telegram bot token (digits, "
                        "a colon, then 30 or more letters, digits, - or _): copy it again from "
                        "@BotFather, without quotes or spaces")
    api_url = get("CREWBOT_TELEGRAM_API_URL") or None
    if api_url and not api_url.startswith(("http://", "https://")):
        problems.append("CREWBOT_TELEGRAM_API_URL must be an http:// or https:// URL")
    webhook = webhook_settings(get, bool(telegram_token), api_url,
                               (host, int(port_text)) if port_text.isdigit() else None, problems)
    discord_token = get("CREWBOT_DISCORD_TOKEN")
    if discord_token and not DISCORD_TOKEN.fullmatch(discord_token):
        problems.append("CREWBOT_DISCORD_TOKEN is not shaped like a Discord bot token (three "
                        "parts separated by dots): copy it again from the Bot page of your "
                        "application in the Discord developer portal, without the word Bot")
    guilds = get("CREWBOT_DISCORD_GUILD_IDS").replace(",", " ").split()
    if not all(g.isascii() and g.isdigit() and len(g) <= 20 for g in guilds):
        problems.append("CREWBOT_DISCORD_GUILD_IDS must be server ids (numbers) separated by "
                        "commas")
    shard_count, shard_ids = shards(get("CREWBOT_DISCORD_SHARD_COUNT"),
                                    get("CREWBOT_DISCORD_SHARD_IDS"), problems)
    discord_url = get("CREWBOT_DISCORD_API_URL") or None
    if discord_url and not discord_url.startswith(("http://", "https://")):
        problems.append("CREWBOT_DISCORD_API_URL must be an http:// or https:// URL")
    if problems:
        raise ConfigError(*problems)
    assert tick is not None
    return Config(database=database, discord_guild_ids=tuple(int(g) for g in guilds),
                  discord_api_url=discord_url, discord_shard_count=shard_count,
                  discord_shard_ids=shard_ids,
                  telegram_token=telegram_token or None, discord_token=discord_token or None,
                  log_level=level, tick_seconds=tick, telegram_api_url=api_url,
                  db_pool_size=int(pool_text),
                  default_timezone=zone, log_format=log_format,
                  health_port=int(port_text) if port_text else None,
                  health_host=host, env_file=env_file,
                  pictures_dir=get("CREWBOT_PICTURES_DIR") or None, unknown=unknown,
                  **webhook)


def webhook_settings(get: Callable[[str], str], has_token: bool, api_url: str | None,
                     health: tuple[str, int] | None, problems: list[str]) -> dict:
    """The webhook's Config fields, each problem added to `problems`."""
    url, secret = get("CREWBOT_TELEGRAM_WEBHOOK_URL"), get("CREWBOT_TELEGRAM_WEBHOOK_SECRET")
    listen = get("CREWBOT_TELEGRAM_WEBHOOK_LISTEN")
    if not url:
        if secret:  # meant for a webhook that is not set: polling would surprise
            problems.append("CREWBOT_TELEGRAM_WEBHOOK_SECRET is only used with "
                            "CREWBOT_TELEGRAM_WEBHOOK_URL: set that too to receive updates by "
                            "webhook, or unset the secret to poll")
        return {}
    if not has_token:
        problems.append("CREWBOT_TELEGRAM_WEBHOOK_URL needs CREWBOT_TELEGRAM_TOKEN: set the "
                        "bot's token too, or unset the webhook URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or not parts.hostname or parts.scheme not in ("https", "http"):
        problems.append("CREWBOT_TELEGRAM_WEBHOOK_URL must be a URL such as "
                        "https://bot.example.org/telegram, where Telegram can reach this bot")
    elif parts.scheme == "http" and not api_url:
        problems.append("CREWBOT_TELEGRAM_WEBHOOK_URL must start with https://: Telegram posts "
                        "only to HTTPS (plain http:// works only with a self-hosted Bot API "
                        "server named in CREWBOT_TELEGRAM_API_URL)")
    elif not api_url and (port or 443) not in WEBHOOK_PORTS:
        problems.append(f"CREWBOT_TELEGRAM_WEBHOOK_URL uses port {port}, but Telegram posts "
                        "only to ports 443, 80, 88 or 8443: use one of them (the proxy in "
                        "front may forward to any port)")
    elif parts.fragment or parts.query:
        problems.append("CREWBOT_TELEGRAM_WEBHOOK_URL must not have a ?query or #fragment: "
                        "write the scheme, host and path only")
    if not WEBHOOK_SECRET.fullmatch(secret):
        problems.append("CREWBOT_TELEGRAM_WEBHOOK_SECRET must be set with a webhook URL, 1 to "
                        "256 of the characters A-Z a-z 0-9 _ and -, for example the output of "
                        "`openssl rand -hex 32`")
    host, _, port_text = (listen or DEFAULT_WEBHOOK_LISTEN).rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not (_is_host(host) and port_text.isascii() and port_text.isdigit()
            and 1 <= int(port_text) <= 65535):
        problems.append("CREWBOT_TELEGRAM_WEBHOOK_LISTEN must be host:port, such as "
                        "127.0.0.1:8443 (behind a proxy on this machine) or 0.0.0.0:8443")
        return {}
    if health is not None and int(port_text) == health[1] and host in (health[0], "0.0.0.0"):
        problems.append("CREWBOT_TELEGRAM_WEBHOOK_LISTEN and CREWBOT_HEALTH_PORT name the same "
                        "port: give the webhook and the health endpoint a port each")
    return {"webhook_url": url, "webhook_host": host, "webhook_port": int(port_text),
            "webhook_secret": secret}


SHARD_RANGE = re.compile(r"([0-9]{1,6})(?:-([0-9]{1,6}))?")
MAX_SHARDS = 100_000


def shards(count_text: str, ids_text: str, problems: list[str]
           ) -> tuple[int | None, tuple[int, ...] | None]:
    """CREWBOT_DISCORD_SHARD_COUNT and _IDS read together; problems are appended."""
    count = None
    if count_text:
        if count_text.isascii() and count_text.isdigit() and 1 <= int(count_text) <= MAX_SHARDS:
            count = int(count_text)
        else:
            problems.append("CREWBOT_DISCORD_SHARD_COUNT must be a whole number of shards from 1 "
                            f"to {MAX_SHARDS:,} (the same in every process), or unset for the "
                            "count Discord recommends")
            return None, None
    if not ids_text:
        return count, None
    ids: set[int] = set()
    for part in ids_text.replace(" ", "").split(","):
        match = SHARD_RANGE.fullmatch(part)
        first, last = (int(match[1]), int(match[2] or match[1])) if match else (0, -1)
        if last < first:
            problems.append(f"CREWBOT_DISCORD_SHARD_IDS '{ids_text[:64]}' is not a list of shard "
                            "numbers: write ranges and numbers separated by commas, such as 0-3, "
                            "4,5 or 0-1,6")
            return count, None
        ids.update(range(first, last + 1))
    if count is None:
        problems.append("CREWBOT_DISCORD_SHARD_IDS needs CREWBOT_DISCORD_SHARD_COUNT, the number "
                        "of shards across all processes: set it too (for example 4, with 0-1 in "
                        "one process and 2-3 in the other)")
        return None, None
    if max(ids) >= count:
        problems.append(f"CREWBOT_DISCORD_SHARD_IDS lists shard {max(ids)}, but "
                        f"CREWBOT_DISCORD_SHARD_COUNT is {count}: shards are numbered from 0 to "
                        f"{count - 1}; raise the count or drop the shard")
        return count, None
    return count, tuple(sorted(ids))


def number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def is_zone(name: str) -> bool:
    try:
        return len(name) <= 64 and ZoneInfo(name) is not None
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False


def _is_host(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        labels = text.rstrip(".").split(".")
        return len(text) <= 253 and all(
            0 < len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii()
            for label in labels)


__all__ = ["Config", "ConfigError", "PlatformRefused", "Redact", "TokenRefused", "Variable",
           "from_env", "setup_logging"]
