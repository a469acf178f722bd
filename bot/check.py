"""`crewbot check`: what the bot can see of its database and platforms, one line per finding."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection

from bot.config import Config
from storage.engine import database_url, make_engine, redacted
from storage.migrate import alembic_config
from storage.models import CrewRow

TIMEOUT = 15.0  # seconds one platform may take to answer everything
THREADS = frozenset({10, 11, 12})  # Discord channel types that are threads
# What the bot needs in a Discord crew channel, by discord.Permissions attribute.
DISCORD_NEEDS = {
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "add_reactions": "Add Reactions",
    "read_message_history": "Read Message History",
    "use_application_commands": "Use Application Commands",
}


@dataclass(frozen=True)
class Finding:
    level: str  # ok | note | PROBLEM
    text: str

    def line(self) -> str:
        return f"{self.level}: {self.text}"


def ok(text: str) -> Finding:
    return Finding("ok", text)


def note(text: str) -> Finding:
    return Finding("note", text)


def problem(text: str) -> Finding:
    return Finding("PROBLEM", text)


@dataclass(frozen=True)
class CrewChat:
    platform: str
    chat_id: str
    title: str

    def label(self) -> str:
        return f"{self.platform} crew {self.chat_id} ({self.title[:40]!r})"


def _revision(connection: Connection) -> tuple[str | None, bool]:
    current = MigrationContext.configure(connection).get_current_revision()
    return current, inspect(connection).has_table(CrewRow.__tablename__)


async def check_database(database: str) -> tuple[list[Finding], list[CrewChat]]:
    """Reachable? Migrated to this code's latest revision? And the crews it holds."""
    name = redacted(database)
    url = database_url(database)
    if url.drivername.startswith("sqlite") and not Path(url.database or "").is_file():
        return [problem(f"database {name}: the file does not exist yet: run `crewbot db upgrade` "
                        "(or `crewbot run`, which creates it) or fix CREWBOT_DATABASE_URL")], []
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    engine = make_engine(database)
    try:
        async with asyncio.timeout(TIMEOUT):
            async with engine.connect() as connection:
                current, has_crews = await connection.run_sync(_revision)
                crews = []
                if has_crews:
                    rows = await connection.execute(
                        select(CrewRow.platform, CrewRow.chat_id, CrewRow.title)
                        .order_by(CrewRow.id))
                    crews = [CrewChat(*row) for row in rows]
    except Exception as error:  # an unreachable database is a finding, not a crash
        return [problem(f"database {name}: cannot connect ({type(error).__name__}): check "
                        "CREWBOT_DATABASE_URL and that the database server is running")], []
    finally:
        await engine.dispose()
    known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current == head:
        found = ok(f"database {name}: reachable, schema at {head} (the latest); "
                   f"{len(crews)} crew(s)")
    elif current is None:
        found = problem(f"database {name}: reachable but empty: run `crewbot db upgrade` (or "
                        "`crewbot run`, which does it at start)")
    elif current in known:
        found = problem(f"database {name}: schema at {current}, this crewbot needs {head}: run "
                        "`crewbot db upgrade` (or `crewbot run`, which does it at start)")
    else:
        found = problem(f"database {name}: schema at {current}, which this crewbot does not "
                        "know (a newer version made it): run the newer crewbot")
    return [found], crews


async def check_telegram(config: Config, crews: Sequence[CrewChat]) -> list[Finding]:
    """getMe, then the bot's own membership in every Telegram crew's chat."""
    from telegram import Bot
    from telegram.constants import ChatMemberStatus
    from telegram.error import InvalidToken, TelegramError

    from bot.adapters.telegram_http import AiohttpRequest

    assert config.telegram_token is not None
    options: dict[str, Any] = {}
    if config.telegram_api_url:
        root = config.telegram_api_url.rstrip("/")
        options = {"base_url": f"{root}/bot", "base_file_url": f"{root}/file/bot"}
    # The HTTP client the adapter runs on, so the check meets the same proxy settings and CA
    # store (aiohttp uses the system's, httpx certifi's) as the running bot.
    bot = Bot(config.telegram_token, request=AiohttpRequest(),
              get_updates_request=AiohttpRequest(connection_pool_size=1), **options)
    findings: list[Finding] = []
    try:
        async with asyncio.timeout(TIMEOUT):
            try:
                await bot.initialize()  # getMe
            except InvalidToken:
                return [problem("telegram: the token is refused (Unauthorized): copy it again "
                                "from @BotFather into CREWBOT_TELEGRAM_TOKEN")]
            me = bot.bot
            privacy = ("privacy mode on: it sees commands, replies to it and buttons, which is "
                       "enough" if not me.can_read_all_group_messages else
                       "privacy mode off: it is sent every group message (it needs only "
                       "commands; privacy mode on is enough)")
            findings.append(ok(f"telegram: connected as @{me.username} (id {me.id}); {privacy}"))
            for crew in crews:
                try:
                    member = await bot.get_chat_member(int(crew.chat_id), me.id)
                except TelegramError as error:
                    findings.append(problem(
                        f"{crew.label()}: Telegram refuses to describe the chat "
                        f"({_first_line(error)}): the bot was probably removed; add it to the "
                        "group again (or ignore this if the crew no longer plays)"))
                    continue
                status = member.status
                if status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER):
                    findings.append(ok(f"{crew.label()}: the bot is an admin: it sees "
                                       "commands, buttons, reactions and members leaving"))
                elif status in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED):
                    findings.append(problem(
                        f"{crew.label()}: the bot is not in this chat ({status}): add it to the "
                        "group again (or ignore this if the crew no longer plays)"))
                elif status == ChatMemberStatus.RESTRICTED and not getattr(
                        member, "can_send_messages", True):
                    findings.append(problem(f"{crew.label()}: the bot may not send messages "
                                            "here: lift its restriction in the group settings"))
                else:
                    findings.append(note(
                        f"{crew.label()}: the bot is not an admin: it sees commands and buttons "
                        "but not reactions or members leaving; make it an admin of the group "
                        "(no special rights needed) so reactions count as listening"))
    except TimeoutError:
        findings.append(problem(f"telegram: no answer within {TIMEOUT:g} s: check the "
                                "network (and CREWBOT_TELEGRAM_API_URL if set)"))
    except TelegramError as error:
        findings.append(problem(f"telegram: cannot reach the Bot API ({_first_line(error)}): "
                                "check the network (and CREWBOT_TELEGRAM_API_URL if set)"))
    finally:
        await _quietly(bot.shutdown())
    return findings


def channel_permissions(bot_id: int, guild_id: int, member_roles: Sequence[int],
                        roles: Sequence[dict[str, Any]],
                        overwrites: Sequence[dict[str, Any]]) -> int:
    """The bot's permission bits in a channel, computed as Discord documents it."""
    import discord

    by_id = {int(r["id"]): int(r["permissions"]) for r in roles}
    perms = by_id.get(guild_id, 0)
    for role in member_roles:
        perms |= by_id.get(role, 0)
    if perms & discord.Permissions(administrator=True).value:
        return discord.Permissions.all().value
    role_overwrites = {int(o["id"]): o for o in overwrites if int(o["type"]) == 0}
    everyone = role_overwrites.get(guild_id)
    if everyone:
        perms = (perms & ~int(everyone["deny"])) | int(everyone["allow"])
    allow = deny = 0
    for role in member_roles:
        if role in role_overwrites:
            allow |= int(role_overwrites[role]["allow"])
            deny |= int(role_overwrites[role]["deny"])
    perms = (perms & ~deny) | allow
    for o in overwrites:
        if int(o["type"]) == 1 and int(o["id"]) == bot_id:
            perms = (perms & ~int(o["deny"])) | int(o["allow"])
    return perms


async def check_discord(config: Config, crews: Sequence[CrewChat]) -> list[Finding]:
    """Logs in over REST (no gateway session, so a running bot is not disturbed), then reads
    the bot's permissions in every Discord crew's channel."""
    import discord
    from discord.http import HTTPClient

    from bot.adapters.discord_adapter import point_at

    assert config.discord_token is not None
    if config.discord_api_url:
        point_at(config.discord_api_url)
    http = HTTPClient(asyncio.get_running_loop())
    findings: list[Finding] = []
    try:
        async with asyncio.timeout(TIMEOUT):
            try:
                me = await http.static_login(config.discord_token)
            except discord.LoginFailure:
                return [problem("discord: the token is refused (401 Unauthorized): copy the bot "
                                "token again from the developer portal into "
                                "CREWBOT_DISCORD_TOKEN")]
            bot_id = int(me["id"])
            findings.append(ok(f"discord: connected as {me['username']} (id {bot_id})"))
            findings.append(shards_finding(config, *await http.get_bot_gateway()))
            guilds: dict[int, tuple[list[dict[str, Any]], list[int]]] = {}
            for crew in crews:
                findings.append(await _discord_crew(http, bot_id, crew, guilds))
    except TimeoutError:
        findings.append(problem(f"discord: no answer within {TIMEOUT:g} s: check the network "
                                "(and CREWBOT_DISCORD_API_URL if set)"))
    except (discord.HTTPException, OSError) as error:
        findings.append(problem(f"discord: cannot reach the API ({type(error).__name__}): "
                                "check the network (and CREWBOT_DISCORD_API_URL if set)"))
    finally:
        await _quietly(http.close())
    return findings


def shards_finding(config: Config, recommended: int, url: str,
                   limits: dict[str, Any]) -> Finding:
    """The gateway shards: Discord's recommendation against the settings, and whether the
    session starts left today cover a start of every shard."""
    count = config.discord_shard_count or recommended
    ids = config.discord_shard_ids
    here = (f"this process runs shards {','.join(map(str, ids))} of {count}" if ids
            else f"this process runs all {count}")
    left, shards = int(limits.get("remaining", 0)), len(ids) if ids else count
    if left < shards:
        hours = int(limits.get("reset_after", 0)) / 3_600_000
        return problem(f"discord: only {left} gateway session start(s) left (Discord resets "
                       f"them in {hours:.1f} h), fewer than the {shards} shard(s) this process "
                       "starts: wait before restarting, or Discord will refuse the connection")
    if config.discord_shard_count is not None and config.discord_shard_count < recommended:
        return note(f"discord: CREWBOT_DISCORD_SHARD_COUNT is {count} but Discord recommends "
                    f"{recommended}; fine until a shard holds 2,500 servers, when Discord "
                    f"refuses it: raise the count in every process ({here})")
    return ok(f"discord: {count} gateway shard(s), Discord recommends {recommended}; {here}")


async def _discord_crew(http: Any, bot_id: int, crew: CrewChat,
                        guilds: dict[int, tuple[list[dict[str, Any]], list[int]]]) -> Finding:
    import discord

    try:
        channel = await http.get_channel(int(crew.chat_id))
        is_thread = channel.get("type") in THREADS
        source = await http.get_channel(int(channel["parent_id"])) if is_thread else channel
        guild_id = int(channel["guild_id"])
        if guild_id not in guilds:
            member = await http.get_member(guild_id, bot_id)
            guilds[guild_id] = (await http.get_roles(guild_id),
                                [int(r) for r in member["roles"]])
    except discord.NotFound:
        return problem(f"{crew.label()}: Discord does not know this channel or server any more "
                       "(deleted, or the bot was removed): invite the bot again, or ignore this "
                       "if the crew no longer plays")
    except discord.Forbidden:
        return problem(f"{crew.label()}: the bot may not see this channel (403): give it View "
                       "Channel there, or invite it again with the link in the README")
    roles, member_roles = guilds[guild_id]
    bits = discord.Permissions(channel_permissions(
        bot_id, guild_id, member_roles, roles, source.get("permission_overwrites") or []))
    needs = dict(DISCORD_NEEDS)
    if is_thread:
        del needs["send_messages"]
        needs["send_messages_in_threads"] = "Send Messages in Threads"
    missing = [label for attr, label in needs.items() if not getattr(bits, attr)]
    if not bits.view_channel:
        missing = list(needs.values())
    if missing:
        return problem(f"{crew.label()}: the bot lacks {', '.join(missing)} here: grant them to "
                       "its role in the channel's permissions (Edit Channel > Permissions)")
    return ok(f"{crew.label()}: the bot has {', '.join(needs.values())}")


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:160]


async def _quietly(closing: Any) -> None:
    try:
        await closing
    except Exception:  # closing a client that never opened may fail; nothing to report
        return


async def check(config: Config, database: str) -> list[Finding]:
    """Every finding, in order: settings, database, Telegram, Discord."""
    findings = [note(text) for text in config.unknown_notes()]
    if config.env_file:
        findings.append(ok(f"settings: read from the environment and {config.env_file}"))
    found, crews = await check_database(database)
    findings += found
    if not config.platforms:
        findings.append(problem("no platform is configured: set CREWBOT_TELEGRAM_TOKEN and/or "
                                "CREWBOT_DISCORD_TOKEN (in .env or the environment)"))
    console = [c for c in crews if c.platform not in ("telegram", "discord")]
    if console:
        findings.append(note(f"{len(console)} console crew(s): nothing to check on a platform"))
    for platform, checker in (("telegram", check_telegram), ("discord", check_discord)):
        mine = [c for c in crews if c.platform == platform]
        if platform in config.platforms:
            findings += await checker(config, mine)
        elif mine:
            token = f"CREWBOT_{platform.upper()}_TOKEN"
            findings.append(problem(f"{platform}: {len(mine)} crew(s) in the database but no "
                                    f"{token} is set: set it, or they get no answers"))
        else:
            findings.append(note(f"{platform}: not configured (set CREWBOT_{platform.upper()}"
                                 f"_TOKEN to serve {platform.capitalize()})"))
    return findings
