"""A fake Discord REST API and gateway on 127.0.0.1 for running the real discord.py client."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import itertools
import json
import math
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Self

import discord
import discord.gateway
import discord.http
import yarl
from aiohttp import BodyPartReader, WSMsgType, web

JSON = dict[str, Any]
API = "/api/v10"

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ALL_PERMISSIONS = discord.Permissions.all().value
ADMINISTRATOR = 1 << 3
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
READ_MESSAGE_HISTORY = 1 << 16
CREATE_INSTANT_INVITE = 1 << 0
MENTION_EVERYONE = 1 << 17
DEFAULT_EVERYONE = discord.Permissions(
    view_channel=True, send_messages=True, send_messages_in_threads=True,
    create_public_threads=True, embed_links=True, attach_files=True, add_reactions=True,
    read_message_history=True, use_external_emojis=True, use_application_commands=True,
    connect=True, speak=True, change_nickname=True, create_instant_invite=True,
).value
DEFAULT_BOT = discord.Permissions(
    view_channel=True, send_messages=True, send_messages_in_threads=True, embed_links=True,
    attach_files=True, add_reactions=True, read_message_history=True, mention_everyone=True,
    use_external_emojis=True, use_application_commands=True, manage_messages=True,
).value

# Gateway intents and the events each one gates.
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
DIRECT_MESSAGES = 1 << 12
DIRECT_MESSAGE_REACTIONS = 1 << 13
MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT
_MEMBER_EVENTS = frozenset({"GUILD_MEMBER_ADD", "GUILD_MEMBER_UPDATE", "GUILD_MEMBER_REMOVE"})
_MESSAGE_EVENTS = frozenset({
    "MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_DELETE_BULK",
})
_REACTION_EVENTS = frozenset({
    "MESSAGE_REACTION_ADD", "MESSAGE_REACTION_REMOVE", "MESSAGE_REACTION_REMOVE_ALL",
    "MESSAGE_REACTION_REMOVE_EMOJI",
})
_GUILD_EVENTS = frozenset({
    "GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE", "GUILD_ROLE_CREATE", "GUILD_ROLE_UPDATE",
    "GUILD_ROLE_DELETE", "CHANNEL_CREATE", "CHANNEL_UPDATE", "CHANNEL_DELETE",
    "CHANNEL_PINS_UPDATE", "THREAD_CREATE", "THREAD_UPDATE", "THREAD_DELETE",
})

# Message flags.
SUPPRESS_EMBEDS = 1 << 2
EPHEMERAL = 1 << 6
LOADING = 1 << 7
SUPPRESS_NOTIFICATIONS = 1 << 12
IS_COMPONENTS_V2 = 1 << 15
_SENDABLE_FLAGS = SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2
_INTERACTION_FLAGS = _SENDABLE_FLAGS | EPHEMERAL

MAX_CONTENT = 2000
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
_USER_MENTION = re.compile(r"<@!?(\d{1,20})>")
_ROLE_MENTION = re.compile(r"<@&(\d{1,20})>")


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _int(value: Any) -> int:
    return value.id if hasattr(value, "id") else int(value)


def _perm(value: discord.Permissions | int) -> int:
    return value.value if isinstance(value, discord.Permissions) else int(value)


def _emoji(emoji: str | JSON) -> JSON:
    """A partial emoji object from "👍", "name:123…" (an id of 13+ digits), "<:name:id>"."""
    if isinstance(emoji, dict):
        return dict(emoji)
    found = re.fullmatch(r"<?(a)?:?([A-Za-z0-9_]+):(\d{13,20})>?", emoji)
    if found:
        data: JSON = {"id": found[3], "name": found[2]}
        if found[1]:
            data["animated"] = True
        return data
    return {"id": None, "name": emoji}


def _emoji_key(emoji: JSON) -> str:
    return f"{emoji['name']}:{emoji['id']}" if emoji.get("id") else str(emoji["name"])


class ApiError(Exception):
    """An error answer of the REST API, raised inside route handlers."""

    def __init__(
        self, status: int, code: int, message: str, errors: JSON | None = None,
        headers: dict[str, str] | None = None, body: JSON | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = headers or {}
        self._body = body

    def body(self) -> JSON:
        if self._body is not None:
            return self._body
        body: JSON = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def invalid_form(path: str, code: str, message: str) -> ApiError:
    """Discord's 400 "Invalid Form Body" (50035) for one field, `path` dotted like "a.0.b"."""
    errors: JSON = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(path.split(".")):
        errors = {part: errors}
    return ApiError(400, 50035, "Invalid Form Body", errors)


def _unknown(what: str, code: int) -> ApiError:
    return ApiError(404, code, f"Unknown {what}")


@dataclass
class Call:
    """One request the fake received (REST), or one gateway op a client sent (method "WS")."""

    kind: str
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None
    files: list[JSON] = field(default_factory=list)
    authorization: str | None = None
    status: int = 0
    response: Any = None
    at: float = field(default_factory=time.monotonic)  # when the fake received it

    @property
    def ok(self) -> bool:
        """Whether the call succeeded (2xx, or a gateway op)."""
        return self.status < 300

    @property
    def data(self) -> JSON:
        """The body's "data" object (interaction callbacks), or {}."""
        data = self.body.get("data") if isinstance(self.body, dict) else None
        return data if isinstance(data, dict) else {}

    def brief(self) -> str:
        body = json.dumps(self.body, ensure_ascii=False, default=str)
        if len(body) > 300:
            body = body[:300] + "…"
        return f"{self.method} {self.path} -> {self.status or 'ws'} {body}"


@dataclass
class User:
    """A Discord user."""

    id: int
    username: str
    global_name: str | None = None
    bot: bool = False

    def payload(self) -> JSON:
        data: JSON = {
            "id": str(self.id), "username": self.username, "discriminator": "0",
            "global_name": self.global_name, "avatar": None, "public_flags": 0, "flags": 0,
            "banner": None, "accent_color": None, "avatar_decoration_data": None,
            "collectibles": None, "primary_guild": None,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass
class Role:
    """A guild role; the @everyone role has the guild's id."""

    id: int
    guild_id: int
    name: str
    permissions: int = 0
    position: int = 0
    managed: bool = False
    mentionable: bool = False
    hoist: bool = False
    bot_id: int | None = None

    def payload(self) -> JSON:
        data: JSON = {
            "id": str(self.id), "name": self.name, "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": self.hoist, "icon": None, "unicode_emoji": None, "position": self.position,
            "permissions": str(self.permissions), "managed": self.managed,
            "mentionable": self.mentionable, "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass
class Overwrite:
    """A channel permission overwrite for a role (type 0) or a member (type 1)."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0

    def payload(self) -> JSON:
        return {
            "id": str(self.id), "type": self.type, "allow": str(self.allow),
            "deny": str(self.deny),
        }


@dataclass
class Channel:
    """A guild text channel (type 0) or a DM channel (type 1, guild_id None)."""

    id: int
    name: str
    guild_id: int | None
    type: int = 0
    position: int = 0
    topic: str | None = None
    overwrites: list[Overwrite] = field(default_factory=list)
    recipient_id: int | None = None
    last_message_id: int | None = None


@dataclass
class Member:
    """A user's membership of a guild."""

    user: User
    guild_id: int
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    flags: int = 0

    @property
    def id(self) -> int:
        return self.user.id

    def payload(self, *, with_user: bool = True) -> JSON:
        data: JSON = {
            "nick": self.nick, "avatar": None, "banner": None,
            "roles": [str(r) for r in self.roles], "joined_at": self.joined_at.isoformat(),
            "premium_since": None, "deaf": False, "mute": False, "flags": self.flags,
            "pending": False, "communication_disabled_until": None,
            "avatar_decoration_data": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        return data


@dataclass
class Guild:
    """A guild with its roles, channels and members."""

    id: int
    name: str
    owner_id: int
    locale: str = "en-US"
    roles: dict[int, Role] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    joined_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]


@dataclass
class _Interaction:
    """An interaction the fake issued, and how the bot answered it."""

    id: int
    token: str
    type: int
    guild_id: int | None
    channel_id: int
    user_id: int
    command_name: str | None = None
    message_id: int | None = None  # the message a component sits on
    dispatched_at: float | None = None
    response_type: int | None = None
    original_id: int | None = None


@dataclass(eq=False)
class _Connection:
    """One websocket connection to the fake gateway."""

    ws: web.WebSocketResponse
    path: str
    query: dict[str, str]
    session: _Session | None = None
    ready: bool = False
    closed_by_server: bool = False
    heartbeats: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def open(self) -> bool:
        return not self.ws.closed

    async def send(self, frame: JSON) -> bool:
        async with self.lock:
            if self.ws.closed:
                return False
            try:
                await self.ws.send_str(json.dumps(frame))
            except (ConnectionError, RuntimeError):
                return False
            return True


@dataclass(eq=False)
class _Session:
    """A gateway session: its sequence, every dispatch it got (for RESUME), its connection."""

    id: int
    session_id: str
    intents: int
    alive: bool = True
    seq: int = 0
    log: list[JSON] = field(default_factory=list)
    connection: _Connection | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    shard: tuple[int, int] | None = None  # [shard_id, num_shards] from IDENTIFY, if sharded


def shard_of(guild_id: int, num_shards: int) -> int:
    """The shard a guild's events go to (Discord's formula)."""
    return (guild_id >> 22) % num_shards


@dataclass
class _Failure:
    """A fault injected with fail_next."""

    method: str
    pattern: re.Pattern[str]
    left: int
    status: int
    retry_after: float
    is_global: bool
    body: JSON | None


_Handler = Callable[[Call], Awaitable[Any]]


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    kind: str
    handler: _Handler
    auth: bool


_NO_CONTENT = object()


@contextlib.contextmanager
def patched(fake: FakeDiscord) -> Iterator[None]:
    """Points discord.py's REST base URL and default gateway at the fake, restoring them after."""
    base = discord.http.Route.BASE
    gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway


@contextlib.asynccontextmanager
async def run_client(
    fake: FakeDiscord, client: discord.Client, *, timeout: float = 5,
) -> AsyncIterator[asyncio.Task[None]]:
    """Runs ``client.start(fake.token)`` (patched) until the client is ready; closes it on exit.

    Yields the start task. A client that fails to start raises here instead of timing out.
    """
    with patched(fake):
        identified = len(fake.calls_of("identify"))
        task = asyncio.create_task(client.start(fake.token), name="discord-client")
        try:
            await _first(task, fake.wait_for("identify", count=identified + 1, timeout=timeout))
            await _first(task, fake.wait_ready(timeout))
            await _first(task, asyncio.wait_for(client.wait_until_ready(), timeout))
            yield task
        finally:
            await client.close()
            if not task.done():
                try:
                    await asyncio.wait_for(task, timeout)
                except TimeoutError:
                    task.cancel()
                    raise AssertionError(
                        f"client.start did not end {timeout}s after close()") from None
            elif not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]


async def _first(task: asyncio.Task[None], waiting: Awaitable[Any]) -> None:
    """Awaits `waiting`, but raises at once if the client task ended first."""
    waiter = asyncio.ensure_future(waiting)
    done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if waiter in done:
        waiter.result()
        return
    waiter.cancel()
    with contextlib.suppress(asyncio.CancelledError, AssertionError):
        await waiter
    task.result()
    raise AssertionError("client.start() returned before the client was ready")


class FakeDiscord:
    """Discord's REST API (v10) and gateway over HTTP/WS on 127.0.0.1 for the real discord.py.

    Build the world first (``add_guild``, ``add_role``, ``add_channel``, ``add_member``), then
    run a client with ``run_client(dc, client)`` or inside ``with patched(dc):``. Push events
    with ``await dc.dispatch(name, data)`` and the payload builders; wait for what the bot did
    with ``await dc.wait_for(kind)``. Every request is a ``Call`` in ``dc.calls`` (kinds: me,
    application, gateway, commands, command_sync, message, fetch_message, edit, delete,
    bot_reaction, bot_reaction_remove, fetch_channel, fetch_member, fetch_user, dm_channel,
    callback, original, original_edit, original_delete, followup, followup_get, followup_edit,
    followup_delete, unknown; gateway ops: identify, resume, presence, request_members).

    Like Discord it refuses what Discord refuses in the cases an adapter meets (unknown
    channels/messages/interactions, a second or late (> `interaction_deadline` s) interaction
    response, follow-ups before the response, empty or too long messages, duplicate or
    > 100-character custom_ids, missing channel permissions, closed DMs), echoes the bot's own
    messages and reactions as gateway events, and only delivers events the session's intents
    subscribe to (GUILD_MEMBER_* need the privileged members intent; message content needs
    MESSAGE_CONTENT). Routes it does not serve answer 404 and land in ``unhandled``; with
    ``strict`` those and errors inside the fake fail the ``async with`` block on exit.

    Sharding as Discord does it: GET /gateway/bot recommends ``recommended_shards`` (default
    one per 1,000 guilds) with ``max_concurrency``; an IDENTIFY with ``shard: [id, count]``
    gets only the guilds with ``(guild_id >> 22) % count == id`` (READY echoes the shard), and
    each guild event goes only to that shard's session (events with no guild, such as DMs, to
    shard 0). IDENTIFYs closer than 5 s in one bucket land in ``identify_too_soon``. An
    IDENTIFY with an impossible shard is closed with 4010, one whose session would hold more
    than ``max_guilds_per_shard`` guilds with 4011 (sharding required);
    ``refuse_identify(code)`` closes the next IDENTIFYs with any code.
    """

    def __init__(
        self,
        *,
        application_id: int = 1300000000000000001,
        bot_id: int | None = None,
        bot_name: str = "Crewbot",
        token: str | None = None,
        heartbeat_interval: int = 41250,
        interaction_deadline: float = 3.0,
        privileged_intents: int = PRIVILEGED_INTENTS,
        echo: bool = True,
        strict: bool = True,
        recommended_shards: int | None = None,
        max_concurrency: int = 1,
        max_guilds_per_shard: int = 2500,
    ) -> None:
        self.application_id = application_id
        self.bot = User(bot_id or application_id, bot_name.lower(), bot_name, bot=True)
        self._token = token
        self.heartbeat_interval = heartbeat_interval
        self.interaction_deadline = interaction_deadline
        self.privileged_intents = privileged_intents
        self.echo = echo
        self.strict = strict
        self.recommended_shards = recommended_shards
        self.max_concurrency = max_concurrency
        self.max_guilds_per_shard = max_guilds_per_shard
        self.session_starts_left = 999  # GET /gateway/bot's session_start_limit.remaining
        # IDENTIFYs that came within 5 s of another in their bucket (shard id modulo
        # max_concurrency), as [shard_id, num_shards]: over Discord's limit. Recorded, not
        # refused (tests that restart a client at once do it on purpose).
        self.identify_too_soon: list[list[int]] = []
        self._identified_at: dict[int, float] = {}
        self.port = 0
        # World.
        self.users: dict[int, User] = {self.bot.id: self.bot}
        self.guilds: dict[int, Guild] = {}
        self.dm_channels: dict[int, Channel] = {}
        self.closed_dms: set[int] = set()
        self.invites: list[JSON] = []  # every invite made, as returned, with its channel id
        self.messages: dict[int, JSON] = {}
        self.deleted: set[int] = set()
        self.global_commands: list[JSON] = []
        self.guild_commands: dict[int, list[JSON]] = {}
        # Records.
        self.calls: list[Call] = []
        self.unhandled: list[Call] = []
        self.server_errors: list[BaseException] = []
        self.dispatched: list[JSON] = []
        self.ready_count = 0
        # Machinery.
        self._reactions: dict[int, dict[str, tuple[JSON, list[int]]]] = {}
        self._interactions: dict[int, _Interaction] = {}
        self._sessions: dict[str, _Session] = {}
        self._connections: list[_Connection] = []
        self._failures: list[_Failure] = []
        self._identify_refusals: list[int] = []
        self._component_ids = itertools.count(1)
        self._session_ids = itertools.count(1)
        self._last_snowflake = 0
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._routes = self._route_table()

    # ----------------------------------------------------------------- lifecycle

    @property
    def token(self) -> str:
        """The token to give discord.py (any token is accepted unless one was passed in)."""
        # Shaped like a real one (the bot's id in base64, a time stamp, a signature).
        user_id = base64.urlsafe_b64encode(str(self.bot.id).encode()).decode().rstrip("=")
        return self._token or f"{user_id}.GFake0.fake-signature-for-the-loopback-gateway"

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/resume-gateway"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/resume-gateway", self._gateway)
        app.router.add_route("*", API + "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Closes every gateway connection (1001), then the server."""
        for conn in list(self._connections):
            conn.closed_by_server = True
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        await self.stop()
        if exc_type is None and self.strict and (self.server_errors or self.unhandled):
            raise AssertionError(
                "the fake Discord met problems: errors inside the fake "
                f"{self.server_errors!r}; routes it does not serve "
                f"{[c.brief() for c in self.unhandled]}"
            )

    # ----------------------------------------------------------------- world

    def add_guild(
        self,
        id: int,
        name: str,
        owner_id: int,
        *,
        everyone_permissions: discord.Permissions | int = DEFAULT_EVERYONE,
        bot_permissions: discord.Permissions | int = DEFAULT_BOT,
        locale: str = "en-US",
    ) -> Guild:
        """A guild with @everyone (id = guild id) and the bot as member with a managed role."""
        guild = Guild(id, name, owner_id, locale)
        guild.roles[id] = Role(id, id, "@everyone", _perm(everyone_permissions))
        bot_role = Role(
            self._snowflake(), id, self.bot.global_name or self.bot.username,
            _perm(bot_permissions), position=1, managed=True, bot_id=self.bot.id,
        )
        guild.roles[bot_role.id] = bot_role
        guild.members[self.bot.id] = Member(self.bot, id, [bot_role.id])
        self.guilds[id] = guild
        return guild

    def add_role(
        self,
        guild: Guild | int,
        id: int,
        name: str,
        permissions: discord.Permissions | int = 0,
        *,
        position: int | None = None,
        mentionable: bool = False,
        hoist: bool = False,
    ) -> Role:
        """A role; `permissions` as discord.Permissions or an int."""
        g = self._guild(guild)
        if position is None:
            position = max(r.position for r in g.roles.values()) + 1
        role = Role(id, g.id, name, _perm(permissions), position, mentionable=mentionable,
                    hoist=hoist)
        g.roles[id] = role
        return role

    def add_channel(
        self,
        guild: Guild | int,
        id: int,
        name: str,
        *,
        overwrites: Iterable[Overwrite] = (),
        position: int | None = None,
        topic: str | None = None,
    ) -> Channel:
        """A text channel (type 0) with optional permission overwrites (see overwrite())."""
        g = self._guild(guild)
        if position is None:
            position = len(g.channels)
        channel = Channel(id, name, g.id, 0, position, topic, list(overwrites))
        g.channels[id] = channel
        return channel

    def add_user(
        self, id: int, username: str, *, global_name: str | None = None, bot: bool = False,
    ) -> User:
        """A user known to the fake (members are added with add_member)."""
        user = self.users.get(id)
        if user is None:
            user = self.users[id] = User(id, username, global_name, bot)
        return user

    def add_member(
        self,
        guild: Guild | int,
        id: int,
        username: str,
        *,
        roles: Iterable[Role | int] = (),
        nick: str | None = None,
        global_name: str | None = None,
        bot: bool = False,
        joined_at: datetime | None = None,
    ) -> Member:
        """A guild member (the user is created if new); `roles` exclude @everyone."""
        g = self._guild(guild)
        user = self.add_user(id, username, global_name=global_name, bot=bot)
        member = Member(user, g.id, [_int(r) for r in roles], nick)
        if joined_at is not None:
            member.joined_at = joined_at
        g.members[id] = member
        return member

    @staticmethod
    def overwrite(
        target: Role | Member | User | int,
        *,
        allow: discord.Permissions | int = 0,
        deny: discord.Permissions | int = 0,
        member: bool = False,
    ) -> Overwrite:
        """A channel overwrite for a role or member (an int id is a role unless `member`)."""
        kind = 1 if isinstance(target, Member | User) or member else 0
        return Overwrite(_int(target), kind, _perm(allow), _perm(deny))

    def close_dms(self, user: User | Member | int, closed: bool = True) -> None:
        """Makes sending a DM to the user fail with 50007, as when DMs are closed."""
        if closed:
            self.closed_dms.add(_int(user))
        else:
            self.closed_dms.discard(_int(user))

    def permissions_for(
        self, guild: Guild | int, user: Member | User | int, channel: Channel | int | None = None,
    ) -> discord.Permissions:
        """A member's permissions in the guild or a channel, computed as Discord does."""
        g = self._guild(guild)
        ch = None if channel is None else self._channel(channel)
        return discord.Permissions(self._permissions(g, _int(user), ch))

    def channel_messages(self, channel: Channel | int) -> list[JSON]:
        """The messages in a channel everyone can see (not deleted, not ephemeral), in order."""
        cid = str(_int(channel))
        return [
            m for mid, m in self.messages.items()
            if m["channel_id"] == cid and mid not in self.deleted
            and not m.get("flags", 0) & EPHEMERAL
        ]

    def uploads(self) -> list[JSON]:
        """Every file the bot uploaded in a successful call, in order: its call kind, the
        field, file name, bytes and content type, and the attachment description it gave."""
        out: list[JSON] = []
        for call in self.calls:
            if call.ok and call.files:
                body = call.body or {}
                described = {str(a.get("id")): a.get("description")
                             for a in (body.get("data", body) or {}).get("attachments") or []}
                for i, f in enumerate(call.files):
                    out.append(f | {"kind": call.kind, "description": described.get(str(i))})
        return out

    def refuse_identify(self, code: int, times: int = 1) -> None:
        """Closes the next `times` IDENTIFYs with this close code (e.g. 4010, 4011)."""
        self._identify_refusals.extend([code] * times)

    def shards_recommended(self) -> int:
        """What GET /gateway/bot answers: as set, else one shard per 1,000 guilds."""
        return self.recommended_shards or max(1, math.ceil(len(self.guilds) / 1000))

    def ready_shards(self) -> dict[int, int]:
        """Shard id -> its count, for every open connection that is ready (unsharded: 0 -> 1)."""
        return {(c.session.shard or (0, 1))[0]: (c.session.shard or (0, 1))[1]
                for c in self._connections if c.ready and c.open and c.session is not None}

    async def wait_shards(self, ids: Iterable[int], timeout: float = 5) -> None:
        """Waits until every shard in `ids` has an open, ready connection."""
        wanted = set(ids)
        try:
            await self._until(lambda: wanted <= set(self.ready_shards()), timeout)
        except TimeoutError:
            raise AssertionError(f"shards {sorted(wanted)} not all ready after {timeout}s; ready: "
                                 f"{sorted(self.ready_shards())}") from None

    def calls_of(self, kind: str, *, failed: bool = False) -> list[Call]:
        """Recorded calls of a kind: successful ones, or all with `failed`."""
        return [c for c in self.calls if c.kind == kind and (failed or c.ok)]

    def fail_next(
        self,
        method: str,
        path_regex: str,
        times: int = 1,
        status: int = 429,
        retry_after: float = 0.2,
        *,
        is_global: bool = False,
        body: JSON | None = None,
    ) -> None:
        """Makes the next `times` requests matching fail with `status` (429: rate limited).

        `path_regex` is matched in full against the path after /api/v10, e.g.
        r"/channels/\\d+/messages". A 429 carries Via, Retry-After and X-RateLimit-* headers
        and {"message", "retry_after", "global"}; discord.py sleeps retry_after and retries.
        Note discord.py retries 500/502/504 after 1 + 2·n seconds (slow in tests).
        """
        self._failures.append(_Failure(
            method.upper(), re.compile(path_regex), times, status, retry_after, is_global, body,
        ))

    # ----------------------------------------------------------------- gateway events

    async def dispatch(self, event: str, data: JSON, *, require_client: bool = True) -> int:
        """Sends a DISPATCH frame to every live session whose intents cover the event.

        Sessions that are disconnected but resumable get it on RESUME. Returns how many
        sessions it was given to; with `require_client`, raises when no session exists.
        """
        if event == "INTERACTION_CREATE":
            issued = self._interactions.get(int(data["id"]))
            if issued is not None and issued.dispatched_at is None:
                issued.dispatched_at = time.monotonic()
        self.dispatched.append({"t": event, "d": data})
        sessions = [s for s in self._sessions.values() if s.alive]
        if require_client and not sessions:
            raise AssertionError(
                f"no gateway session to dispatch {event} to: start a client and "
                "`await dc.wait_ready()` first"
            )
        given = 0
        for session in sessions:
            if not self._routes_to(session, data):
                continue
            payload = self._for_session(session, event, data)
            if payload is not None:
                await self._send_dispatch(session, event, payload)
                given += 1
        return given

    def interaction_command(
        self,
        guild: Guild | int,
        channel: Channel | int,
        member: Member | int,
        name: str,
        options: list[JSON] | None = None,
        resolved: JSON | None = None,
        *,
        locale: str = "en-US",
    ) -> JSON:
        """An INTERACTION_CREATE payload for a registered slash command (type 2).

        The command must have been synced (global or to this guild), as Discord only sends
        registered commands; ``data.id``/``data.guild_id`` come from the registration.
        USER/CHANNEL/ROLE/MENTIONABLE option values known to the fake are added to
        ``resolved``. ``member.permissions`` and ``app_permissions`` are computed from the
        roles and channel overwrites.
        """
        g = self._guild(guild)
        ch = self._channel(channel)
        m = self._member(g, member)
        command, scope = self._registered(g.id, name)
        options = copy.deepcopy(options or [])
        data: JSON = {
            "id": command["id"], "name": name, "type": command.get("type", 1),
            "options": options,
        }
        if scope is not None:
            data["guild_id"] = str(scope)
        auto = self._auto_resolved(g, ch, options)
        for key, values in (resolved or {}).items():
            auto.setdefault(key, {}).update(values)
        if auto:
            data["resolved"] = auto
        payload = self._interaction_payload(2, g, ch, m, data, locale)
        self._interactions[int(payload["id"])].command_name = name
        return payload

    def interaction_button(
        self,
        guild: Guild | int,
        channel: Channel | int,
        member: Member | int,
        message_id: int,
        custom_id: str,
        *,
        component_type: int = 2,
        values: list[str] | None = None,
        locale: str = "en-US",
    ) -> JSON:
        """An INTERACTION_CREATE payload for a press on a component (type 3, MESSAGE_COMPONENT).

        The message must be one the fake stored and carry a component with that custom_id
        (discord.py's DynamicItem silently drops presses whose message lacks it).
        """
        g = self._guild(guild)
        ch = self._channel(channel)
        m = self._member(g, member)
        message = self.messages.get(int(message_id))
        if message is None or int(message_id) in self.deleted:
            raise AssertionError(f"no message {message_id} to press a component on")
        component = next(
            (c for c in _walk(message.get("components", [])) if c.get("custom_id") == custom_id),
            None,
        )
        if component is None:
            found = [c.get("custom_id") for c in _walk(message.get("components", []))]
            raise AssertionError(
                f"message {message_id} has no component {custom_id!r}; it has {found}"
            )
        data: JSON = {"custom_id": custom_id, "component_type": component_type}
        if "id" in component:
            data["id"] = component["id"]
        if values is not None:
            data["values"] = list(values)
        payload = self._interaction_payload(3, g, ch, m, data, locale)
        payload["message"] = self._render(int(message_id))
        self._interactions[int(payload["id"])].message_id = int(message_id)
        return payload

    def reaction_add(
        self,
        guild: Guild | int,
        channel: Channel | int,
        message_id: int,
        member: Member | int,
        emoji: str | JSON,
        *,
        burst: bool = False,
    ) -> JSON:
        """A MESSAGE_REACTION_ADD payload (with member, type, burst); updates the message."""
        g = self._guild(guild)
        m = self._member(g, member)
        partial = _emoji(emoji)
        data: JSON = {
            "user_id": str(m.id), "channel_id": str(_int(channel)),
            "message_id": str(message_id), "guild_id": str(g.id),
            "member": m.payload(), "emoji": partial, "burst": burst, "burst_colors": [],
            "type": 1 if burst else 0,
        }
        message = self.messages.get(int(message_id))
        if message is not None:
            data["message_author_id"] = message["author"]["id"]
            self._react(int(message_id), partial, m.id, add=True)
        return data

    def reaction_remove(
        self,
        guild: Guild | int,
        channel: Channel | int,
        message_id: int,
        member: Member | int,
        emoji: str | JSON,
        *,
        burst: bool = False,
    ) -> JSON:
        """A MESSAGE_REACTION_REMOVE payload (no member, as on Discord); updates the message."""
        g = self._guild(guild)
        user_id = _int(member)
        partial = _emoji(emoji)
        if int(message_id) in self.messages:
            self._react(int(message_id), partial, user_id, add=False)
        return {
            "user_id": str(user_id), "channel_id": str(_int(channel)),
            "message_id": str(message_id), "guild_id": str(g.id), "emoji": partial,
            "burst": burst, "type": 1 if burst else 0,
        }

    def member_add(self, guild: Guild | int, member: Member) -> JSON:
        """A GUILD_MEMBER_ADD payload (the member was added with add_member)."""
        return member.payload() | {"guild_id": str(self._guild(guild).id)}

    def member_remove(self, guild: Guild | int, user: Member | User | int) -> JSON:
        """A GUILD_MEMBER_REMOVE payload; the member leaves the fake's guild too.

        Discord sends it only with the privileged GUILD_MEMBERS intent.
        """
        g = self._guild(guild)
        uid = _int(user)
        member = g.members.pop(uid, None)
        known = member.user if member else self.users.get(uid) or User(uid, f"user{uid}")
        return {"guild_id": str(g.id), "user": known.payload()}

    def message_create(
        self,
        guild: Guild | int,
        channel: Channel | int,
        member: Member | int,
        content: str,
    ) -> JSON:
        """A MESSAGE_CREATE payload from a member (stored; content is stripped per session
        unless it has MESSAGE_CONTENT or the message mentions the bot)."""
        g = self._guild(guild)
        ch = self._channel(channel)
        m = self._member(g, member)
        message = self._store_message(ch, {"content": content}, author=m.user)
        return message | {"member": m.payload(with_user=False)}

    # ----------------------------------------------------------------- waiting

    async def wait_for(
        self,
        kind: str,
        predicate: Callable[[Call], bool] | None = None,
        count: int = 1,
        timeout: float = 5,
        *,
        failed: bool = False,
    ) -> list[Call]:
        """Waits until `count` successful calls of `kind` match; returns all that match."""

        def matching() -> list[Call]:
            return [c for c in self.calls_of(kind, failed=failed)
                    if predicate is None or predicate(c)]

        try:
            await self._until(lambda: len(matching()) >= count or bool(self.server_errors),
                              timeout)
        except TimeoutError:
            same = "\n".join(f"  {c.brief()}" for c in self.calls if c.kind == kind)
            kinds = sorted({c.kind for c in self.calls})
            raise AssertionError(
                f"timed out after {timeout}s waiting for {count} {kind!r} call(s) matching "
                f"{predicate!r}; got {len(matching())}. Recorded {kind!r} calls:\n"
                f"{same or '  (none)'}\nkinds recorded: {kinds}; unhandled: "
                f"{[c.brief() for c in self.unhandled]}"
            ) from None
        if self.server_errors:
            raise AssertionError(f"the fake failed: {self.server_errors!r}")
        return matching()

    async def wait_ready(self, timeout: float = 5) -> None:
        """Waits until an open connection has IDENTIFYed and got READY and every GUILD_CREATE
        (or RESUMEd)."""
        try:
            await self._until(
                lambda: any(c.ready and c.open for c in self._connections), timeout,
            )
        except TimeoutError:
            raise AssertionError(
                f"no ready gateway connection after {timeout}s; connections="
                f"{len(self._connections)}, calls={[c.brief() for c in self.calls]}"
            ) from None

    async def disconnect_clients(self, code: int = 4000, *, resumable: bool = True) -> int:
        """Closes every gateway connection from the server side; returns how many.

        discord.py reconnects to resume_gateway_url and RESUMEs (getting missed events); with
        ``resumable=False`` the sessions are invalidated first, so the RESUME gets
        INVALID_SESSION and the client IDENTIFYs anew. Codes 4004 and 4010-4014 end the client.
        """
        closed = 0
        for conn in list(self._connections):
            if not resumable and conn.session is not None:
                conn.session.alive = False
            conn.closed_by_server = True
            if conn.open:
                await conn.ws.close(code=code)
                closed += 1
        return closed

    # ----------------------------------------------------------------- gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = _Connection(ws, request.path, dict(request.query))
        self._connections.append(conn)
        try:
            await conn.send({
                "op": 10, "s": None, "t": None,
                "d": {"heartbeat_interval": self.heartbeat_interval, "_trace": ["fake-gateway"]},
            })
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._gateway_op(conn, json.loads(msg.data))
                elif msg.type is WSMsgType.BINARY:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
        except Exception as error:  # a bug in the fake: say so instead of hanging the client
            self.server_errors.append(error)
            await ws.close(code=4000)
        finally:
            self._connections.remove(conn)
            session = conn.session
            if session is not None and session.connection is conn:
                session.connection = None
                if not conn.closed_by_server and ws.close_code in (1000, 1001):
                    session.alive = False  # a client closing with 1000/1001 ends its session
            self._notify()
        return ws

    async def _gateway_op(self, conn: _Connection, frame: JSON) -> None:
        op = frame.get("op")
        d: Any = frame.get("d")
        if op == 1:
            conn.heartbeats += 1
            await conn.send({"op": 11})
            return
        kinds = {2: "identify", 3: "presence", 6: "resume", 8: "request_members"}
        kind = kinds.get(op) if isinstance(op, int) else None
        self._record(Call(kind or f"op{op}", "WS", conn.path, query=conn.query, body=d))
        if op in (2, 6, 8) and not isinstance(d, dict):
            await conn.ws.close(code=4002, message=b"Error while decoding payload.")
            return
        if op == 2:
            await self._identify(conn, d)
        elif op == 6:
            await self._resume(conn, d)
        elif op == 8:
            await self._request_members(conn, d)
        elif op not in (3, 4):
            await conn.ws.close(code=4001, message=b"Unknown opcode.")

    def _routes_to(self, session: _Session, data: JSON) -> bool:
        """Whether an event goes to this session: its guild's shard, or shard 0 for no guild."""
        if session.shard is None:
            return True
        shard_id, count = session.shard
        guild_id = data.get("guild_id")
        return shard_id == (shard_of(int(guild_id), count) if guild_id else 0)

    async def _identify(self, conn: _Connection, d: JSON) -> None:
        if self._token is not None and d.get("token") != self._token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        if self._identify_refusals:
            code = self._identify_refusals.pop(0)
            await conn.ws.close(code=code, message=b"Refused by the test.")
            return
        shard = d.get("shard")
        if shard is not None and not (
            isinstance(shard, list) and len(shard) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) for n in shard)
            and 0 <= shard[0] < shard[1]
        ):
            await conn.ws.close(code=4010, message=b"Invalid shard.")
            return
        sharded = tuple(shard) if shard is not None else None
        guilds = [g for g in self.guilds.values()
                  if sharded is None or shard_of(g.id, sharded[1]) == sharded[0]]
        if len(guilds) > self.max_guilds_per_shard:
            await conn.ws.close(code=4011, message=b"Sharding required.")
            return
        bucket = (sharded[0] if sharded else 0) % self.max_concurrency
        now = time.monotonic()
        if now - self._identified_at.get(bucket, -math.inf) < 5.0:
            self.identify_too_soon.append(list(sharded or (0, 1)))
        self._identified_at[bucket] = now
        if conn.session is not None:
            await conn.ws.close(code=4005, message=b"Already authenticated.")
            return
        intents = d.get("intents")
        if not isinstance(intents, int):
            await conn.ws.close(code=4013, message=b"Invalid intent(s).")
            return
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        number = next(self._session_ids)
        session = _Session(number, f"fake-session-{number}-{secrets.token_hex(8)}", intents,
                           shard=sharded)  # type: ignore[arg-type]
        self._sessions[session.session_id] = session
        session.connection = conn
        conn.session = session
        ready: JSON = {
            "v": 10, "user": self._me(), "session_type": "normal",
            "session_id": session.session_id, "resume_gateway_url": self.resume_gateway_url,
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "application": {"id": str(self.application_id), "flags": self._app_flags()},
            "private_channels": [], "relationships": [], "presences": [],
            "guild_join_requests": [], "geo_ordered_rtc_regions": [], "user_settings": {},
            "auth": {}, "_trace": ["fake-gateway"],
        }
        if sharded is not None:
            ready["shard"] = list(sharded)
        async with session.lock:
            await self._emit(session, "READY", ready)
            for guild in guilds:
                await self._emit(session, "GUILD_CREATE", self._guild_create(guild, intents))
            conn.ready = True
            self.ready_count += 1
        self._notify()

    async def _resume(self, conn: _Connection, d: JSON) -> None:
        session = self._sessions.get(str(d.get("session_id")))
        token_ok = self._token is None or d.get("token") == self._token
        if session is None or not session.alive or not token_ok:
            await conn.send({"op": 9, "d": False, "s": None, "t": None})
            return
        old = session.connection
        if old is not None and old is not conn:
            old.closed_by_server = True
            await old.ws.close(code=4000)
        session.connection = conn
        conn.session = session
        seen = d.get("seq") or 0
        async with session.lock:
            for frame in session.log:
                if frame["s"] > seen:
                    await conn.send(frame)
            await self._emit(session, "RESUMED", {"_trace": ["fake-gateway"]})
            conn.ready = True
            self.ready_count += 1
        self._notify()

    async def _request_members(self, conn: _Connection, d: JSON) -> None:
        session = conn.session
        guild = self.guilds.get(int(d.get("guild_id", 0)))
        if session is None or guild is None:
            return
        members = list(guild.members.values())
        if d.get("user_ids"):
            wanted = {int(u) for u in d["user_ids"]}
            members = [m for m in members if m.id in wanted]
        elif d.get("query"):
            q = str(d["query"]).lower()
            members = [m for m in members if m.user.username.lower().startswith(q)
                       or (m.nick or "").lower().startswith(q)]
        if d.get("limit"):
            members = members[: int(d["limit"])]
        chunk: JSON = {
            "guild_id": str(guild.id), "members": [m.payload() for m in members],
            "chunk_index": 0, "chunk_count": 1, "not_found": [],
        }
        if d.get("nonce") is not None:
            chunk["nonce"] = d["nonce"]
        await self._send_dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)

    async def _send_dispatch(self, session: _Session, event: str, data: JSON) -> None:
        async with session.lock:
            await self._emit(session, event, data)

    async def _emit(self, session: _Session, event: str, data: JSON) -> None:
        """Numbers, logs and sends one dispatch; hold session.lock."""
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.log.append(frame)
        if session.connection is not None:
            await session.connection.send(frame)

    def _for_session(self, session: _Session, event: str, data: JSON) -> JSON | None:
        """The payload this session gets for an event, or None when its intents exclude it."""
        intents = session.intents
        in_guild = "guild_id" in data
        if event in _MEMBER_EVENTS:
            needed = GUILD_MEMBERS
        elif event in _MESSAGE_EVENTS:
            needed = GUILD_MESSAGES if in_guild else DIRECT_MESSAGES
        elif event in _REACTION_EVENTS:
            needed = GUILD_MESSAGE_REACTIONS if in_guild else DIRECT_MESSAGE_REACTIONS
        elif event == "PRESENCE_UPDATE":
            needed = GUILD_PRESENCES
        elif event in _GUILD_EVENTS:
            needed = GUILDS
        else:
            needed = 0
        if needed and not intents & needed:
            return None
        if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE") and not intents & MESSAGE_CONTENT:
            author = data.get("author", {}).get("id")
            mentioned = any(u.get("id") == str(self.bot.id) for u in data.get("mentions", []))
            if in_guild and author != str(self.bot.id) and not mentioned:
                data = data | {"content": "", "embeds": [], "attachments": [], "components": []}
        return copy.deepcopy(data)

    # ----------------------------------------------------------------- REST

    def _route_table(self) -> list[_Route]:
        app = r"/applications/(?P<app>\d+)"
        msg = r"/channels/(?P<channel>\d+)/messages/(?P<message>\d+)"
        hook = r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)"
        table: list[tuple[str, str, str, _Handler, bool]] = [
            ("GET", r"/users/@me", "me", self._get_me, True),
            ("GET", r"/oauth2/applications/@me", "application", self._get_application, True),
            ("GET", r"/applications/@me", "application", self._get_application, True),
            ("GET", r"/gateway", "gateway", self._get_gateway, False),
            ("GET", r"/gateway/bot", "gateway", self._get_gateway_bot, True),
            ("GET", app + r"/commands", "commands", self._get_commands, True),
            ("PUT", app + r"/commands", "command_sync", self._put_commands, True),
            ("GET", app + r"/guilds/(?P<guild>\d+)/commands", "commands", self._get_commands,
             True),
            ("PUT", app + r"/guilds/(?P<guild>\d+)/commands", "command_sync",
             self._put_commands, True),
            ("POST", r"/channels/(?P<channel>\d+)/messages", "message", self._post_message,
             True),
            ("GET", msg, "fetch_message", self._get_message, True),
            ("PATCH", msg, "edit", self._patch_message, True),
            ("DELETE", msg, "delete", self._delete_message, True),
            ("PUT", msg + r"/reactions/(?P<emoji>[^/]+)/@me", "bot_reaction",
             self._put_reaction, True),
            ("DELETE", msg + r"/reactions/(?P<emoji>[^/]+)/@me", "bot_reaction_remove",
             self._delete_reaction, True),
            ("GET", r"/channels/(?P<channel>\d+)", "fetch_channel", self._get_channel, True),
            ("GET", r"/guilds/(?P<guild>\d+)/members/(?P<user>\d+)", "fetch_member",
             self._get_member, True),
            ("GET", r"/users/(?P<user>\d+)", "fetch_user", self._get_user, True),
            ("GET", r"/guilds/(?P<guild>\d+)/roles", "fetch_roles", self._get_roles, True),
            ("POST", r"/users/@me/channels", "dm_channel", self._post_dm_channel, True),
            ("POST", r"/channels/(?P<channel>\d+)/invites", "invite", self._post_invite, True),
            ("POST", r"/interactions/(?P<interaction>\d+)/(?P<token>[^/]+)/callback",
             "callback", self._post_callback, False),
            ("GET", hook + r"/messages/@original", "original", self._get_original, False),
            ("PATCH", hook + r"/messages/@original", "original_edit", self._patch_original,
             False),
            ("DELETE", hook + r"/messages/@original", "original_delete",
             self._delete_original, False),
            ("POST", hook, "followup", self._post_followup, False),
            ("GET", hook + r"/messages/(?P<message>\d+)", "followup_get", self._get_followup,
             False),
            ("PATCH", hook + r"/messages/(?P<message>\d+)", "followup_edit",
             self._patch_followup, False),
            ("DELETE", hook + r"/messages/(?P<message>\d+)", "followup_delete",
             self._delete_followup, False),
        ]
        return [_Route(m, re.compile(p), k, h, a) for m, p, k, h, a in table]

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path[len(API):] or "/"
        route, params = self._match(request.method, path)
        call = Call(
            route.kind if route else "unknown", request.method, path, params,
            dict(request.query), authorization=request.headers.get("Authorization"),
        )
        try:
            call.body, call.files = await self._read_body(request)
        except ValueError as error:
            self._record(call)
            return self._finish(call, ApiError(400, 50109, f"The request body is invalid: {error}"))
        self._record(call)
        try:
            self._maybe_fail(call)
            if route is None:
                self.unhandled.append(call)
                raise ApiError(404, 0, "404: Not Found")
            if route.auth and not self._authorized(call.authorization):
                raise ApiError(401, 0, "401: Unauthorized")
            result = await route.handler(call)
        except ApiError as error:
            return self._finish(call, error)
        except Exception as error:  # a bug in the fake: 400 (no retries), recorded and raised
            self.server_errors.append(error)
            return self._finish(call, ApiError(400, 0, f"the fake failed: {error!r}"))
        return self._finish(call, result)

    def _finish(self, call: Call, result: Any) -> web.Response:
        headers: dict[str, str] = {}
        if isinstance(result, ApiError):
            status, body, headers = result.status, result.body(), result.headers
        elif result is _NO_CONTENT:
            status, body = 204, None
        else:
            status, body = 200, result
        call.status = status
        call.response = body
        self._notify()
        if body is None:
            return web.Response(status=status, headers=headers)
        # bytes, not text=: aiohttp appends "; charset=utf-8" to text responses and to
        # json_response, and discord.py only decodes a Content-Type of exactly application/json
        return web.Response(
            body=json.dumps(body).encode(), status=status, headers=headers,
            content_type="application/json",
        )

    def _match(self, method: str, path: str) -> tuple[_Route | None, dict[str, str]]:
        for route in self._routes:
            found = route.pattern.fullmatch(path)
            if found and route.method == method:
                return route, found.groupdict()
        return None, {}

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Bot "):
            return False
        return self._token is None or header == f"Bot {self._token}"

    @staticmethod
    async def _read_body(request: web.Request) -> tuple[Any, list[JSON]]:
        if not request.can_read_body:
            return None, []
        if request.content_type.startswith("multipart/"):
            body: Any = None
            files: list[JSON] = []
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, BodyPartReader):
                    continue
                content = await part.read()
                if part.name == "payload_json":
                    body = json.loads(content)
                else:
                    files.append({
                        "name": part.name, "filename": part.filename, "content": bytes(content),
                        "content_type": part.headers.get("Content-Type"),
                    })
            return body, files
        raw = await request.read()
        if not raw:
            return None, []
        return json.loads(raw), []

    def _maybe_fail(self, call: Call) -> None:
        for failure in self._failures:
            if failure.left <= 0 or failure.method != call.method:
                continue
            if not failure.pattern.fullmatch(call.path):
                continue
            failure.left -= 1
            if failure.status != 429:
                body: JSON = failure.body or {
                    403: {"message": "Missing Permissions", "code": 50013},
                    404: {"message": "Unknown Channel", "code": 10003},
                }.get(failure.status, {"message": f"{failure.status}: injected", "code": 0})
                raise ApiError(failure.status, int(body.get("code", 0)),
                               str(body.get("message")), body=body)
            after = failure.retry_after
            headers = {
                "Via": "1.1 google",
                "Retry-After": str(math.ceil(after)),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + after:.3f}",
                "X-RateLimit-Reset-After": f"{after:.3f}",
                "X-RateLimit-Bucket": "fakebucket" + str(abs(hash(call.path)) % 10**8),
                "X-RateLimit-Scope": "global" if failure.is_global else "user",
            }
            if failure.is_global:
                headers["X-RateLimit-Global"] = "true"
            body = failure.body or {
                "message": "You are being rate limited.", "retry_after": after,
                "global": failure.is_global,
            }
            raise ApiError(429, 0, "You are being rate limited.", headers=headers, body=body)

    # Route handlers: each takes the Call and returns the JSON body (or _NO_CONTENT).

    async def _get_me(self, call: Call) -> JSON:
        return self._me()

    async def _get_application(self, call: Call) -> JSON:
        owner = next(iter(self.guilds.values())).owner_id if self.guilds else 1
        owner_user = self.users.get(owner) or User(owner, f"owner{owner}")
        return {
            "id": str(self.application_id), "name": self.bot.global_name, "icon": None,
            "description": "", "summary": "", "type": None, "bot_public": True,
            "bot_require_code_grant": False, "verify_key": "0" * 64,
            "flags": self._app_flags(), "owner": owner_user.payload(), "team": None,
            "bot": self.bot.payload(), "redirect_uris": [], "interactions_endpoint_url": None,
            "tags": [], "approximate_guild_count": len(self.guilds),
            "integration_types_config": {"0": {}},
        }

    async def _get_gateway(self, call: Call) -> JSON:
        return {"url": self.gateway_url}

    async def _get_gateway_bot(self, call: Call) -> JSON:
        return {
            "url": self.gateway_url, "shards": self.shards_recommended(),
            "session_start_limit": {
                "total": 1000, "remaining": self.session_starts_left, "reset_after": 14400000,
                "max_concurrency": self.max_concurrency,
            },
        }

    async def _get_commands(self, call: Call) -> list[JSON]:
        self._check_app(call)
        if "guild" in call.params:
            return copy.deepcopy(self.guild_commands.get(int(call.params["guild"]), []))
        return copy.deepcopy(self.global_commands)

    async def _put_commands(self, call: Call) -> list[JSON]:
        self._check_app(call)
        if not isinstance(call.body, list):
            raise invalid_form("_root", "LIST_TYPE_CONVERT", "Only iterables may be used.")
        guild_id = int(call.params["guild"]) if "guild" in call.params else None
        if guild_id is not None and guild_id not in self.guilds:
            raise ApiError(403, 50001, "Missing Access")
        old = self.guild_commands.get(guild_id, []) if guild_id else self.global_commands
        ids = {(c["name"], c.get("type", 1)): c["id"] for c in old}
        stored: list[JSON] = []
        seen: set[tuple[str, int]] = set()
        for index, command in enumerate(call.body):
            name = command.get("name", "")
            ctype = command.get("type", 1)
            if ctype == 1 and (not re.fullmatch(r"[-_\w]{1,32}", name) or name != name.lower()):
                raise invalid_form(f"{index}.name", "APPLICATION_COMMAND_INVALID_NAME",
                                   "Command name is invalid")
            if (name, ctype) in seen:
                raise invalid_form(f"{index}.name", "APPLICATION_COMMANDS_DUPLICATE_NAME",
                                   f"Application command names must be unique: {name}")
            seen.add((name, ctype))
            entry = copy.deepcopy(command)
            entry.update({
                "id": ids.get((name, ctype)) or str(self._snowflake()),
                "application_id": str(self.application_id), "version": str(self._snowflake()),
                "type": ctype, "description": command.get("description", ""),
                "default_member_permissions": command.get("default_member_permissions"),
                "nsfw": command.get("nsfw", False),
            })
            if guild_id is not None:
                entry["guild_id"] = str(guild_id)
            stored.append(entry)
        if guild_id is not None:
            self.guild_commands[guild_id] = stored
        else:
            self.global_commands = stored
        return copy.deepcopy(stored)

    async def _post_message(self, call: Call) -> JSON:
        channel = self._rest_channel(call.params["channel"])
        body = call.body or {}
        if channel.guild_id is None:
            if channel.recipient_id in self.closed_dms:
                raise ApiError(403, 50007, "Cannot send messages to this user")
        else:
            perms = self._permissions(self.guilds[channel.guild_id], self.bot.id, channel)
            if not perms & VIEW_CHANNEL:
                raise ApiError(403, 50001, "Missing Access")
            if not perms & SEND_MESSAGES:
                raise ApiError(403, 50013, "Missing Permissions")
        flags = int(body.get("flags") or 0)
        if flags & ~_SENDABLE_FLAGS:
            raise invalid_form("flags", "MESSAGE_FLAGS_INVALID", "Invalid flags")
        message = self._store_message(channel, body, author=self.bot, files=call.files,
                                      flags=flags)
        await self._echo_create(message)
        return self._render(int(message["id"]))

    async def _get_message(self, call: Call) -> JSON:
        channel = self._rest_channel(call.params["channel"])
        return self._render(self._channel_message(channel, call.params["message"]))

    async def _patch_message(self, call: Call) -> JSON:
        channel = self._rest_channel(call.params["channel"])
        mid = self._channel_message(channel, call.params["message"])
        if self.messages[mid]["author"]["id"] != str(self.bot.id):
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._edit(mid, call.body or {}, call.files)
        await self._echo_update(mid)
        return self._render(mid)

    async def _delete_message(self, call: Call) -> object:
        channel = self._rest_channel(call.params["channel"])
        mid = self._channel_message(channel, call.params["message"])
        own = self.messages[mid]["author"]["id"] == str(self.bot.id)
        if not own and channel.guild_id is not None:
            perms = self._permissions(self.guilds[channel.guild_id], self.bot.id, channel)
            if not perms & MANAGE_MESSAGES:
                raise ApiError(403, 50013, "Missing Permissions")
        await self._remove(mid)
        return _NO_CONTENT

    async def _put_reaction(self, call: Call) -> object:
        channel = self._rest_channel(call.params["channel"])
        mid = self._channel_message(channel, call.params["message"])
        if channel.guild_id is not None:
            perms = self._permissions(self.guilds[channel.guild_id], self.bot.id, channel)
            if not perms & READ_MESSAGE_HISTORY or not perms & ADD_REACTIONS:
                raise ApiError(403, 50013, "Missing Permissions")
        emoji = _emoji(call.params["emoji"])
        if channel.guild_id is not None and self.echo:
            data = self.reaction_add(channel.guild_id, channel, mid, self.bot.id, emoji)
            await self.dispatch("MESSAGE_REACTION_ADD", data, require_client=False)
        else:
            self._react(mid, emoji, self.bot.id, add=True)
        return _NO_CONTENT

    async def _delete_reaction(self, call: Call) -> object:
        channel = self._rest_channel(call.params["channel"])
        mid = self._channel_message(channel, call.params["message"])
        emoji = _emoji(call.params["emoji"])
        if channel.guild_id is not None and self.echo:
            data = self.reaction_remove(channel.guild_id, channel, mid, self.bot.id, emoji)
            await self.dispatch("MESSAGE_REACTION_REMOVE", data, require_client=False)
        else:
            self._react(mid, emoji, self.bot.id, add=False)
        return _NO_CONTENT

    async def _get_channel(self, call: Call) -> JSON:
        return self._channel_payload(self._rest_channel(call.params["channel"]))

    async def _get_member(self, call: Call) -> JSON:
        guild = self.guilds.get(int(call.params["guild"]))
        if guild is None:
            raise _unknown("Guild", 10004)
        member = guild.members.get(int(call.params["user"]))
        if member is None:
            raise _unknown("Member", 10007)
        return member.payload()

    async def _get_roles(self, call: Call) -> list[JSON]:
        """GET /guilds/{id}/roles (call kind fetch_roles), which `crewbot check` reads."""
        guild = self.guilds.get(int(call.params["guild"]))
        if guild is None:
            raise _unknown("Guild", 10004)
        return [role.payload() for role in guild.roles.values()]

    async def _get_user(self, call: Call) -> JSON:
        user = self.users.get(int(call.params["user"]))
        if user is None:
            raise _unknown("User", 10013)
        return user.payload()

    async def _post_invite(self, call: Call) -> JSON:
        """An invite to a guild channel; the bot needs Create Invite there, as on Discord."""
        channel = self._rest_channel(call.params["channel"])
        if channel.guild_id is None:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        guild = self.guilds[channel.guild_id]
        perms = self._permissions(guild, self.bot.id, channel)
        if not perms & VIEW_CHANNEL:
            raise ApiError(403, 50001, "Missing Access")
        if not perms & CREATE_INSTANT_INVITE:
            raise ApiError(403, 50013, "Missing Permissions")
        body = call.body or {}
        max_age = int(body.get("max_age", 86400))
        max_uses = int(body.get("max_uses", 0))
        if not 0 <= max_age <= 604800:
            raise invalid_form("max_age", "NUMBER_TYPE_MAX", "Must be 604800 or less.")
        if not 0 <= max_uses <= 100:
            raise invalid_form("max_uses", "NUMBER_TYPE_MAX", "Must be 100 or less.")
        now = datetime.now(UTC)
        invite: JSON = {
            "type": 0, "code": f"fake{self._snowflake() % 10**8:08d}",
            "guild": {"id": str(guild.id), "name": guild.name, "features": [], "icon": None,
                      "splash": None, "banner": None, "description": None,
                      "verification_level": 0, "vanity_url_code": None, "nsfw_level": 0},
            "channel": {"id": str(channel.id), "name": channel.name, "type": channel.type},
            "inviter": self.bot.payload(), "uses": 0, "max_uses": max_uses, "max_age": max_age,
            "temporary": bool(body.get("temporary", False)), "created_at": now.isoformat(),
            "expires_at": (now + timedelta(seconds=max_age)).isoformat() if max_age else None,
        }
        self.invites.append(invite)
        return copy.deepcopy(invite)

    async def _post_dm_channel(self, call: Call) -> JSON:
        recipient = int((call.body or {}).get("recipient_id", 0))
        user = self.users.get(recipient)
        if user is None:
            raise invalid_form("recipient_id", "NUMBER_TYPE_COERCE", "Unknown user")
        channel = self.dm_channels.get(recipient)
        if channel is None:
            channel = Channel(self._snowflake(), "", None, 1, recipient_id=recipient)
            self.dm_channels[recipient] = channel
        return self._channel_payload(channel)

    async def _post_callback(self, call: Call) -> Any:
        issued = self._interactions.get(int(call.params["interaction"]))
        if issued is None or issued.token != call.params["token"]:
            raise _unknown("interaction", 10062)
        started = issued.dispatched_at
        if started is not None and time.monotonic() - started > self.interaction_deadline:
            raise _unknown("interaction", 10062)  # what Discord says after the 3 s are up
        if issued.response_type is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        body = call.body or {}
        kind = body.get("type")
        data = body.get("data") or {}
        component = issued.type == 3
        if kind not in (1, 4, 5, 6, 7, 8, 9) or kind == 1 or (kind in (6, 7) and not component):
            raise invalid_form("type", "INTERACTION_RESPONSE_TYPE_INVALID",
                               "Interaction response type is invalid for this interaction")
        channel = self._channel(issued.channel_id)
        flags = int(data.get("flags") or 0)
        resource: JSON | None = None
        if kind == 4:
            message = self._store_message(
                channel, data, author=self.bot, files=call.files,
                flags=flags & _INTERACTION_FLAGS, type_=20 if issued.type == 2 else 0,
                interaction=issued,
            )
            issued.original_id = int(message["id"])
            await self._echo_create(message)
        elif kind == 5:
            message = self._store_message(
                channel, {"content": ""}, author=self.bot, flags=LOADING | (flags & EPHEMERAL),
                type_=20 if issued.type == 2 else 0, interaction=issued, validate=False,
            )
            issued.original_id = int(message["id"])
        elif kind in (6, 7):
            issued.original_id = issued.message_id
            if kind == 7 and issued.message_id is not None:
                self._edit(issued.message_id, data, call.files)
                await self._echo_update(issued.message_id)
        issued.response_type = kind
        if "with_response" not in call.query:
            return _NO_CONTENT
        answer: JSON = {"interaction": {
            "id": str(issued.id), "type": issued.type, "activity_instance_id": None,
            "response_message_id": str(issued.original_id) if issued.original_id else None,
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool(flags & EPHEMERAL) and kind in (4, 5),
        }}
        if kind in (4, 5, 7) and issued.original_id is not None:
            resource = {"type": kind, "message": self._render(issued.original_id)}
            answer["resource"] = resource
        return answer

    async def _get_original(self, call: Call) -> JSON:
        return self._render(self._original(call))

    async def _patch_original(self, call: Call) -> JSON:
        mid = self._original(call)
        self._edit(mid, call.body or {}, call.files, finish_loading=True)
        await self._echo_update(mid)
        return self._render(mid)

    async def _delete_original(self, call: Call) -> object:
        await self._remove(self._original(call))
        return _NO_CONTENT

    async def _post_followup(self, call: Call) -> Any:
        issued = self._by_token(call)
        if issued.response_type is None:
            raise _unknown("Webhook", 10015)
        body = call.body or {}
        original = self.messages.get(issued.original_id or 0)
        if original is not None and original["flags"] & LOADING:
            # the first follow-up after a "thinking" defer replaces the loading message
            mid = int(original["id"])
            self._edit(mid, body, call.files, finish_loading=True)
            await self._echo_update(mid)
        else:
            flags = int(body.get("flags") or 0) & _INTERACTION_FLAGS
            message = self._store_message(
                self._channel(issued.channel_id), body, author=self.bot, files=call.files,
                flags=flags, interaction=issued,
            )
            mid = int(message["id"])
            await self._echo_create(message)
        if call.query.get("wait") in ("1", "true", "True"):
            return self._render(mid)
        return _NO_CONTENT

    async def _get_followup(self, call: Call) -> JSON:
        return self._render(self._followup(call))

    async def _patch_followup(self, call: Call) -> JSON:
        mid = self._followup(call)
        self._edit(mid, call.body or {}, call.files)
        await self._echo_update(mid)
        return self._render(mid)

    async def _delete_followup(self, call: Call) -> object:
        await self._remove(self._followup(call))
        return _NO_CONTENT

    # ----------------------------------------------------------------- helpers

    def _notify(self) -> None:
        """Wakes every waiter, which then re-checks its condition."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _until(self, condition: Callable[[], bool], timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                await self._changed.wait()

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._notify()

    def _snowflake(self) -> int:
        value = discord.utils.time_snowflake(datetime.now(UTC))
        self._last_snowflake = max(value, self._last_snowflake + 1)
        return self._last_snowflake

    def _me(self) -> JSON:
        return self.bot.payload() | {
            "verified": True, "mfa_enabled": False, "locale": "en-US", "email": None,
            "bio": "",
        }

    def _app_flags(self) -> int:
        flags = 0
        if self.privileged_intents & GUILD_PRESENCES:
            flags |= 1 << 13
        if self.privileged_intents & GUILD_MEMBERS:
            flags |= 1 << 15
        if self.privileged_intents & MESSAGE_CONTENT:
            flags |= 1 << 19
        return flags

    def _guild(self, guild: Guild | int) -> Guild:
        gid = _int(guild)
        if gid not in self.guilds:
            raise AssertionError(f"no guild {gid}; add it with add_guild()")
        return self.guilds[gid]

    def _channel(self, channel: Channel | int) -> Channel:
        cid = _int(channel)
        for guild in self.guilds.values():
            if cid in guild.channels:
                return guild.channels[cid]
        for dm in self.dm_channels.values():
            if dm.id == cid:
                return dm
        raise AssertionError(f"no channel {cid}; add it with add_channel()")

    def _rest_channel(self, raw: str) -> Channel:
        try:
            return self._channel(int(raw))
        except AssertionError:
            raise _unknown("Channel", 10003) from None

    def _member(self, guild: Guild, member: Member | int) -> Member:
        uid = _int(member)
        if uid not in guild.members:
            raise AssertionError(f"user {uid} is not a member of guild {guild.id}")
        return guild.members[uid]

    def _channel_message(self, channel: Channel, raw: str) -> int:
        mid = int(raw)
        message = self.messages.get(mid)
        if (message is None or mid in self.deleted or message["channel_id"] != str(channel.id)
                or message.get("flags", 0) & EPHEMERAL):
            raise _unknown("Message", 10008)
        return mid

    def _check_app(self, call: Call) -> None:
        if int(call.params["app"]) != self.application_id:
            raise ApiError(403, 50001, "Missing Access")

    def _by_token(self, call: Call) -> _Interaction:
        if int(call.params["app"]) == self.application_id:
            for issued in self._interactions.values():
                if issued.token == call.params["token"]:
                    return issued
        raise _unknown("Webhook", 10015)

    def _original(self, call: Call) -> int:
        issued = self._by_token(call)
        mid = issued.original_id
        if mid is None or mid in self.deleted:
            raise _unknown("Message", 10008)
        return mid

    def _followup(self, call: Call) -> int:
        issued = self._by_token(call)
        mid = int(call.params["message"])
        message = self.messages.get(mid)
        meta = (message or {}).get("interaction_metadata") or {}
        own = meta.get("id") == str(issued.id) or mid == issued.original_id
        if message is None or mid in self.deleted or not own:
            raise _unknown("Message", 10008)
        return mid

    def _registered(self, guild_id: int, name: str) -> tuple[JSON, int | None]:
        for command in self.guild_commands.get(guild_id, []):
            if command["name"] == name and command.get("type", 1) == 1:
                return command, guild_id
        for command in self.global_commands:
            if command["name"] == name and command.get("type", 1) == 1:
                return command, None
        raise AssertionError(
            f"/{name} is not registered for guild {guild_id} or globally (Discord only sends "
            f"synced commands): guild {[c['name'] for c in self.guild_commands.get(guild_id, [])]}"
            f", global {[c['name'] for c in self.global_commands]}"
        )

    def _permissions(self, guild: Guild, user_id: int, channel: Channel | None) -> int:
        if guild.owner_id == user_id:
            return ALL_PERMISSIONS
        member = guild.members.get(user_id)
        roles = member.roles if member else []
        perms = guild.everyone.permissions
        for rid in roles:
            if rid in guild.roles:
                perms |= guild.roles[rid].permissions
        if perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
        if channel is None:
            return perms
        by_role = {o.id: o for o in channel.overwrites if o.type == 0}
        everyone = by_role.get(guild.id)
        if everyone:
            perms = (perms & ~everyone.deny) | everyone.allow
        allow = deny = 0
        for rid in roles:
            if rid in by_role:
                allow |= by_role[rid].allow
                deny |= by_role[rid].deny
        perms = (perms & ~deny) | allow
        for o in channel.overwrites:
            if o.type == 1 and o.id == user_id:
                perms = (perms & ~o.deny) | o.allow
        if not perms & VIEW_CHANNEL:
            return 0
        return perms

    def _channel_payload(self, channel: Channel, *, in_guild_create: bool = False) -> JSON:
        if channel.guild_id is None:
            recipient = self.users[channel.recipient_id or 0]
            return {
                "id": str(channel.id), "type": 1, "flags": 0,
                "last_message_id": str(channel.last_message_id) if channel.last_message_id
                else None, "recipients": [recipient.payload()],
            }
        data: JSON = {
            "id": str(channel.id), "type": channel.type, "name": channel.name,
            "position": channel.position, "parent_id": None, "topic": channel.topic,
            "nsfw": False, "rate_limit_per_user": 0, "flags": 0,
            "last_message_id": str(channel.last_message_id) if channel.last_message_id else None,
            "permission_overwrites": [o.payload() for o in channel.overwrites],
        }
        if not in_guild_create:
            data["guild_id"] = str(channel.guild_id)
        return data

    def _guild_create(self, guild: Guild, intents: int) -> JSON:
        members = [
            m for m in guild.members.values() if intents & GUILD_MEMBERS or m.id == self.bot.id
        ]
        return {
            "id": str(guild.id), "name": guild.name, "icon": None, "splash": None,
            "discovery_splash": None, "banner": None, "owner_id": str(guild.owner_id),
            "afk_channel_id": None, "afk_timeout": 300, "verification_level": 0,
            "default_message_notifications": 0, "explicit_content_filter": 0,
            "roles": [r.payload() for r in guild.roles.values()], "emojis": [],
            "stickers": [], "features": [], "mfa_level": 0, "application_id": None,
            "system_channel_id": None, "system_channel_flags": 0, "rules_channel_id": None,
            "public_updates_channel_id": None, "safety_alerts_channel_id": None,
            "vanity_url_code": None, "description": None, "premium_tier": 0,
            "premium_subscription_count": 0, "preferred_locale": guild.locale,
            "nsfw_level": 0, "premium_progress_bar_enabled": False,
            "max_members": 500000, "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "joined_at": guild.joined_at.isoformat(), "large": False, "unavailable": False,
            "lazy": True, "member_count": len(guild.members), "voice_states": [],
            "members": [m.payload() for m in members],
            "channels": [self._channel_payload(c, in_guild_create=True)
                         for c in guild.channels.values()],
            "threads": [], "presences": [], "stage_instances": [],
            "guild_scheduled_events": [], "soundboard_sounds": [],
        }

    def _interaction_payload(
        self, kind: int, guild: Guild, channel: Channel, member: Member, data: JSON,
        locale: str,
    ) -> JSON:
        iid = self._snowflake()
        token = "itoken_" + secrets.token_urlsafe(48)
        perms = self._permissions(guild, member.id, channel)
        app_perms = self._permissions(guild, self.bot.id, channel)
        self._interactions[iid] = _Interaction(iid, token, kind, guild.id, channel.id, member.id)
        return {
            "id": str(iid), "application_id": str(self.application_id), "type": kind,
            "data": data, "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": guild.locale, "features": []},
            "channel_id": str(channel.id),
            "channel": self._channel_payload(channel) | {"permissions": str(perms)},
            "member": member.payload() | {"permissions": str(perms)},
            "token": token, "version": 1, "app_permissions": str(app_perms),
            "locale": locale, "guild_locale": guild.locale, "entitlements": [],
            "entitlement_sku_ids": [], "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0, "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }

    def _auto_resolved(self, guild: Guild, channel: Channel, options: list[JSON]) -> JSON:
        resolved: JSON = {}
        for option in _walk_options(options):
            kind = option.get("type")
            value = option.get("value")
            if kind not in (6, 7, 8, 9) or value is None:
                continue
            oid = int(value)
            if kind in (6, 9) and oid in self.users:
                resolved.setdefault("users", {})[str(oid)] = self.users[oid].payload()
                if oid in guild.members:
                    perms = self._permissions(guild, oid, channel)
                    resolved.setdefault("members", {})[str(oid)] = (
                        guild.members[oid].payload(with_user=False) | {"permissions": str(perms)}
                    )
            if kind in (8, 9) and oid in guild.roles:
                resolved.setdefault("roles", {})[str(oid)] = guild.roles[oid].payload()
            if kind == 7 and oid in guild.channels:
                ch = guild.channels[oid]
                perms = self._permissions(guild, self.bot.id, ch)
                resolved.setdefault("channels", {})[str(oid)] = {
                    "id": str(oid), "name": ch.name, "type": ch.type, "parent_id": None,
                    "permissions": str(perms), "guild_id": str(guild.id),
                }
        return resolved

    def _validate(self, body: JSON, files: list[JSON], *, creating: bool) -> None:
        content = body.get("content")
        if content is not None and not isinstance(content, str):
            raise invalid_form("content", "BASE_TYPE_STRING", "Must be a string.")
        if content and len(content) > MAX_CONTENT:
            raise invalid_form("content", "BASE_TYPE_MAX_LENGTH",
                               f"Must be {MAX_CONTENT} or fewer in length.")
        if len(body.get("embeds") or []) > 10:
            raise invalid_form("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        components = body.get("components") or []
        v2 = int(body.get("flags") or 0) & IS_COMPONENTS_V2
        if not v2 and len(components) > 5:
            raise invalid_form("components", "BASE_TYPE_MAX_LENGTH",
                               "Must be 5 or fewer in length.")
        seen: set[str] = set()
        for path, component in _walk_paths(components, "components"):
            if not v2 and component.get("type") == 1 and len(component.get("components", [])) > 5:
                raise invalid_form(f"{path}.components", "BASE_TYPE_MAX_LENGTH",
                                   "Must be 5 or fewer in length.")
            custom_id = component.get("custom_id")
            if component.get("type") == 2 and component.get("style") != 5 and not custom_id:
                raise invalid_form(f"{path}.custom_id", "BASE_TYPE_REQUIRED",
                                   "This field is required")
            if custom_id is None:
                continue
            if len(custom_id) > 100:
                raise invalid_form(f"{path}.custom_id", "BASE_TYPE_BAD_LENGTH",
                                   "Must be between 1 and 100 in length.")
            if custom_id in seen:
                raise invalid_form(f"{path}.custom_id", "COMPONENT_CUSTOM_ID_DUPLICATED",
                                   "Component custom id cannot be duplicated")
            seen.add(custom_id)
        if creating and not (content or body.get("embeds") or components or files
                             or body.get("sticker_ids") or body.get("poll")):
            raise ApiError(400, 50006, "Cannot send an empty message")

    def _store_message(
        self,
        channel: Channel,
        body: JSON,
        *,
        author: User,
        files: list[JSON] | None = None,
        flags: int = 0,
        type_: int = 0,
        interaction: _Interaction | None = None,
        validate: bool = True,
    ) -> JSON:
        if validate:
            self._validate(body, files or [], creating=True)
        mid = self._snowflake()
        message: JSON = {
            "id": str(mid), "channel_id": str(channel.id), "author": author.payload(),
            "content": body.get("content") or "", "timestamp": _now(), "edited_timestamp": None,
            "tts": bool(body.get("tts")), "pinned": False, "type": type_, "flags": flags,
            "embeds": copy.deepcopy(body.get("embeds") or []),
            "attachments": self._attachments(channel, files or []),
            "components": self._with_ids(body.get("components") or []),
            "mention_everyone": False, "mentions": [], "mention_roles": [],
        }
        if channel.guild_id is not None:
            message["guild_id"] = str(channel.guild_id)
        if body.get("nonce") is not None:
            message["nonce"] = body["nonce"]
        if body.get("poll"):
            message["poll"] = copy.deepcopy(body["poll"])
        reference = body.get("message_reference")
        if reference:
            target = self.messages.get(int(reference.get("message_id", 0)))
            if target is None or int(target["id"]) in self.deleted:
                if reference.get("fail_if_not_exists", True):
                    raise invalid_form("message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                                       "Unknown message")
            else:
                message["type"] = 19
                message["message_reference"] = {
                    "type": 0, "message_id": target["id"], "channel_id": target["channel_id"],
                    "guild_id": target.get("guild_id"),
                }
                message["referenced_message"] = copy.deepcopy(target)
        if interaction is not None:
            message["webhook_id"] = str(self.application_id)
            message["application_id"] = str(self.application_id)
            user = self.users[interaction.user_id].payload()
            meta: JSON = {
                "id": str(interaction.id), "type": interaction.type, "user": user,
                "authorizing_integration_owners": {"0": str(interaction.guild_id)},
            }
            if interaction.command_name:
                meta["name"] = interaction.command_name
                meta["command_type"] = 1
                message["interaction"] = {
                    "id": str(interaction.id), "type": interaction.type,
                    "name": interaction.command_name, "user": user,
                }
            if interaction.message_id is not None:
                meta["interacted_message_id"] = str(interaction.message_id)
            if interaction.original_id is not None:
                meta["original_response_message_id"] = str(interaction.original_id)
            message["interaction_metadata"] = meta
        self._apply_mentions(message, body.get("allowed_mentions"), channel)
        self.messages[mid] = message
        channel.last_message_id = mid
        return message

    def _edit(
        self, mid: int, body: JSON, files: list[JSON], *, finish_loading: bool = False,
    ) -> None:
        message = self.messages[mid]
        self._validate(body, files, creating=False)
        for key in ("content", "embeds", "poll"):
            if key in body:
                message[key] = copy.deepcopy(body[key]) if body[key] is not None else (
                    "" if key == "content" else [])
        if "components" in body:
            message["components"] = self._with_ids(body["components"] or [])
        if "attachments" in body or files:
            keep = {str(a.get("id")) for a in body.get("attachments") or []}
            kept = [a for a in message["attachments"] if a["id"] in keep]
            channel = self._channel(int(message["channel_id"]))
            message["attachments"] = kept + self._attachments(channel, files)
        if "flags" in body and body["flags"] is not None:
            keep_flags = message["flags"] & ~SUPPRESS_EMBEDS
            message["flags"] = keep_flags | (int(body["flags"]) & SUPPRESS_EMBEDS)
        loading = message["flags"] & LOADING
        if finish_loading and loading:
            message["flags"] &= ~LOADING
        else:
            message["edited_timestamp"] = _now()
        if "content" in body or "allowed_mentions" in body or loading:
            channel = self._channel(int(message["channel_id"]))
            self._apply_mentions(message, body.get("allowed_mentions"), channel)

    async def _remove(self, mid: int) -> None:
        self.deleted.add(mid)
        message = self.messages[mid]
        if self.echo and not message.get("flags", 0) & EPHEMERAL:
            data: JSON = {"id": message["id"], "channel_id": message["channel_id"]}
            if "guild_id" in message:
                data["guild_id"] = message["guild_id"]
            await self.dispatch("MESSAGE_DELETE", data, require_client=False)

    async def _echo_create(self, message: JSON) -> None:
        if not self.echo or message.get("flags", 0) & (EPHEMERAL | LOADING):
            return
        data = copy.deepcopy(message)
        if "guild_id" in data and "webhook_id" not in data:
            guild = self.guilds[int(data["guild_id"])]
            member = guild.members.get(int(data["author"]["id"]))
            if member is not None:
                data["member"] = member.payload(with_user=False)
        await self.dispatch("MESSAGE_CREATE", data, require_client=False)

    async def _echo_update(self, mid: int) -> None:
        message = self.messages[mid]
        if not self.echo or message.get("flags", 0) & EPHEMERAL:
            return
        await self.dispatch("MESSAGE_UPDATE", self._render(mid), require_client=False)

    def _apply_mentions(self, message: JSON, allowed: Any, channel: Channel) -> None:
        """Fills mentions/mention_roles/mention_everyone as Discord does from allowed_mentions."""
        content = message.get("content") or ""
        user_ids = list(dict.fromkeys(int(u) for u in _USER_MENTION.findall(content)))
        role_ids = list(dict.fromkeys(int(r) for r in _ROLE_MENTION.findall(content)))
        if allowed is None:
            parse = {"users", "roles", "everyone"}
            users_ok: set[int] = set()
            roles_ok: set[int] = set()
            replied = True
        else:
            parse = set(allowed.get("parse") or [])
            if "users" in parse and allowed.get("users"):
                raise invalid_form("allowed_mentions", "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                                   'parse:["users"] and users: [ids] are mutually exclusive.')
            if "roles" in parse and allowed.get("roles"):
                raise invalid_form("allowed_mentions", "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                                   'parse:["roles"] and roles: [ids] are mutually exclusive.')
            users_ok = {int(u) for u in allowed.get("users") or []}
            roles_ok = {int(r) for r in allowed.get("roles") or []}
            replied = bool(allowed.get("replied_user"))
        guild = self.guilds.get(channel.guild_id or 0)
        pinged = [u for u in user_ids if "users" in parse or u in users_ok]
        reference = message.get("referenced_message")
        if reference and replied:
            author = int(reference["author"]["id"])
            if author not in pinged:
                pinged.append(author)
        mentions: list[JSON] = []
        for uid in pinged:
            user = self.users.get(uid)
            if user is None:
                continue
            entry = user.payload()
            if guild is not None and uid in guild.members:
                entry["member"] = guild.members[uid].payload(with_user=False)
            mentions.append(entry)
        message["mentions"] = mentions
        message["mention_roles"] = [
            str(r) for r in role_ids
            if ("roles" in parse or r in roles_ok) and (guild is None or r in guild.roles)
        ]
        everyone = "@everyone" in content or "@here" in content
        may = guild is None or bool(
            self._permissions(guild, int(message["author"]["id"]), channel) & MENTION_EVERYONE
        )
        message["mention_everyone"] = everyone and "everyone" in parse and may

    def _attachments(self, channel: Channel, files: list[JSON]) -> list[JSON]:
        out: list[JSON] = []
        for f in files:
            aid = self._snowflake()
            name = f.get("filename") or "file"
            url = f"http://127.0.0.1:{self.port}/attachments/{channel.id}/{aid}/{name}"
            out.append({
                "id": str(aid), "filename": name, "size": len(f.get("content", b"")),
                "url": url, "proxy_url": url, "content_type": f.get("content_type"),
            })
        return out

    def _with_ids(self, components: list[JSON]) -> list[JSON]:
        """Components as Discord echoes them: each gets a numeric id unless it has one."""
        copied = copy.deepcopy(components)
        for component in _walk(copied):
            component.setdefault("id", next(self._component_ids))
        return copied

    def _react(self, mid: int, emoji: JSON, user_id: int, *, add: bool) -> None:
        per_message = self._reactions.setdefault(mid, {})
        key = _emoji_key(emoji)
        stored, users = per_message.get(key, (emoji, []))
        if add and user_id not in users:
            users.append(user_id)
        elif not add and user_id in users:
            users.remove(user_id)
        if users:
            per_message[key] = (stored, users)
        else:
            per_message.pop(key, None)

    def _render(self, mid: int) -> JSON:
        """A stored message as Discord returns it (with current reactions)."""
        message = copy.deepcopy(self.messages[mid])
        reactions = [
            {
                "emoji": emoji, "count": len(users), "count_details": {
                    "burst": 0, "normal": len(users)}, "burst_colors": [],
                "me": self.bot.id in users, "me_burst": False,
            }
            for emoji, users in self._reactions.get(mid, {}).values()
        ]
        if reactions:
            message["reactions"] = reactions
        return message


def _walk(components: Iterable[JSON]) -> Iterator[JSON]:
    for component in components:
        yield component
        yield from _walk(component.get("components") or [])
        if isinstance(component.get("accessory"), dict):
            yield component["accessory"]
        if isinstance(component.get("component"), dict):
            yield from _walk([component["component"]])


def _walk_paths(components: list[JSON], prefix: str) -> Iterator[tuple[str, JSON]]:
    for index, component in enumerate(components):
        path = f"{prefix}.{index}"
        yield path, component
        yield from _walk_paths(component.get("components") or [], f"{path}.components")


def _walk_options(options: list[JSON]) -> Iterator[JSON]:
    for option in options:
        yield option
        yield from _walk_options(option.get("options") or [])
