"""The Discord adapter: discord.py slash commands, buttons and reactions in, messages out."""

from __future__ import annotations

import asyncio
import inspect
import io
import logging
import re
from dataclasses import replace
from typing import Any, Literal

import discord
import discord.gateway
import discord.http
import yarl
from discord import app_commands

from bot.adapters.discord_shards import (
    IdentifyPacer,
    Turns,
    refusal,
    shard_states,
    syncs_commands,
)
from bot.commands.events import (
    Actor,
    ButtonPressed,
    Chat,
    CommandReceived,
    Event,
    Mention,
    Message,
    Post,
    ReactionChanged,
)
from bot.commands.game import Game
from bot.commands.registry import COMMANDS, Command, Option
from bot.config import PlatformRefused, TokenRefused

log = logging.getLogger("crewbot.discord")

PLATFORM = "discord"
TEXT_LIMIT = 2000
ANSWER_WITHIN = 2.0  # Discord wants an answer in 3 s; slower work is deferred first
USER_MENTION = re.compile(r"<@!?([0-9]{1,20})>")
NO_MENTIONS = discord.AllowedMentions.none()
INVITE_SECONDS = 7 * 24 * 3600  # a knock's invitation, used once


def point_at(api_url: str) -> None:
    """Sends discord.py's REST and gateway traffic to another host (a proxy or a test server),
    for CREWBOT_DISCORD_API_URL only.

    The project's one exception to using libraries through their documented options: discord.py
    has no setting for its base URLs, which are the class attributes `Route.BASE` and
    `DiscordWebSocket.DEFAULT_GATEWAY`. Assigning them is the smallest way, and it holds for the
    whole process (the bot runs one Discord client, whatever its number of shards)."""
    root = api_url.rstrip("/")
    discord.http.Route.BASE = f"{root}/api/v10"
    ws = "wss" + root[5:] if root.startswith("https") else "ws" + root[4:]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"{ws}/gateway")


def chat_of(channel: Any) -> Chat:
    guild = getattr(channel, "guild", None)
    return Chat(PLATFORM, str(channel.id), getattr(channel, "name", None) or str(channel.id),
                str(guild.id) if guild is not None else "")


def actor_of(user: Any, is_admin: bool | None = None) -> Actor:
    name = getattr(user, "display_name", None) or getattr(user, "name", None) or ""
    return Actor(str(user.id), name, is_admin=is_admin, handle=getattr(user, "name", None))


def is_admin(interaction: discord.Interaction) -> bool:
    permissions = interaction.permissions
    return bool(permissions.manage_channels or permissions.manage_guild)


def render(message: Message) -> tuple[list[str], discord.AllowedMentions]:
    """Text chunks within Discord's limit; only the members the core mentions may be pinged."""
    users = [discord.Object(int(p.user_id)) for p in message.parts
             if isinstance(p, Mention) and p.user_id.isdigit()]
    text = "".join(p if isinstance(p, str) else (
        f"<@{p.user_id}>" if p.user_id.isdigit() else f"@{p.name}") for p in message.parts)
    allowed = discord.AllowedMentions(everyone=False, roles=False, replied_user=False,
                                      users=users) if users else NO_MENTIONS
    return chunks(text), allowed


def file_of(message: Message) -> discord.File | None:
    """A new discord.File for the message's picture or file (one is used up by each send)."""
    if message.attachment is None:
        return None
    return discord.File(io.BytesIO(message.attachment.data), filename=message.attachment.filename,
                        description=message.attachment.alt[:1024] or None)


def chunks(text: str) -> list[str]:
    out: list[str] = []
    while len(text) > TEXT_LIMIT:
        cut = text.rfind("\n", 0, TEXT_LIMIT)
        cut = cut if cut > 0 else TEXT_LIMIT
        out.append(text[:cut])
        text = text[cut:].lstrip("\n")
    return [*out, text]


def command_text(cmd: Command, values: dict[str, Any]) -> tuple[str, tuple[Actor, ...]]:
    """The slash command's options put back into the text command the core reads."""
    words = [f"/{cmd.name}"]
    mentions: list[Actor] = []
    for option in cmd.options:
        value = values.get(option.name)
        if value is None:
            continue
        if option.kind == "member":
            words.append(f"@dc{value.id}")
            mentions.append(Actor(str(value.id), f"dc{value.id}"))
        else:
            text = str(value)
            for user_id in USER_MENTION.findall(text):
                mentions.append(Actor(user_id, f"dc{user_id}"))
            words.append(USER_MENTION.sub(lambda m: f"@dc{m[1]}", text))
    return " ".join(words), tuple(mentions)


def annotation(option: Option) -> Any:
    kinds: dict[str, Any] = {"text": app_commands.Range[str, 1, 2000],
                             "member": discord.Member,
                             "id": app_commands.Range[int, 1, 2**53]}
    kind = Literal[option.choices] if option.kind == "choice" else kinds[option.kind]
    return kind if option.required else kind | None


def slash_command(cmd: Command, adapter: DiscordAdapter) -> app_commands.Command:
    """A slash command whose options come from the registry's typed options."""

    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        await adapter.on_slash(interaction, cmd, values)

    params = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                annotation=discord.Interaction)]
    for option in sorted(cmd.options, key=lambda o: not o.required):  # required ones first
        params.append(inspect.Parameter(
            option.name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation(option),
            default=inspect.Parameter.empty if option.required else None))
    callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    callback.__name__ = cmd.name
    if cmd.options:
        callback = app_commands.describe(
            **{o.name: o.description[:100] for o in cmd.options})(callback)
    return app_commands.Command(name=cmd.name, description=cmd.summary[:100], callback=callback)


BUTTON_ID = r"crew:(?P<action>[a-z]:[0-9]{1,18})"


class GameButton(discord.ui.DynamicItem[discord.ui.Button], template=BUTTON_ID):
    """A game button whose state is in its custom id, so it works after a restart."""

    def __init__(self, action: str, label: str = "OK") -> None:
        super().__init__(discord.ui.Button(label=label, style=discord.ButtonStyle.primary,
                                           custom_id=f"crew:{action}"))
        self.action = action

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button,
                             match: re.Match[str]) -> GameButton:
        return cls(match["action"], item.label or "OK")

    async def callback(self, interaction: discord.Interaction) -> None:
        adapter: DiscordAdapter = interaction.client.crewbot  # type: ignore[attr-defined]
        await adapter.on_button(interaction, self.action)


ANSWERED_PRIVATELY = "I answered you privately (only you can see it)."


def answers_for(replies: list[Message], user_id: str, deferred: bool
                ) -> tuple[list[Message], list[Message]]:
    """The replies to an interaction, and the direct messages for other people. Anything for
    the one who acted alone (private, or dm_to them) is an ephemeral answer. After a "thinking"
    defer, the first answer fills the public thinking message whatever its flags say, so it is
    never a private one: a public reply goes first, or a neutral line."""
    answers = [replace(r, private=True) if r.dm_to else r for r in replies
               if r.dm_to is None or r.dm_to.user_id == user_id]
    elsewhere = [r for r in replies if r.dm_to is not None and r.dm_to.user_id != user_id]
    if deferred and answers and answers[0].private:
        public = next((r for r in answers if not r.private), None)
        answers = ([public, *(r for r in answers if r is not public)] if public is not None
                   else [Message((ANSWERED_PRIVATELY,)), *answers])
    return answers, elsewhere


def view_for(message: Message) -> discord.ui.View | None:
    if not message.buttons:
        return None
    view = discord.ui.View(timeout=None)
    for b in message.buttons:
        view.add_item(GameButton(b.action, b.label))
    return view


class NoVoiceNotice(logging.Filter):
    """Drops discord.py's warnings that voice is unsupported: this bot never uses voice."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "voice will NOT be supported" not in record.getMessage()


logging.getLogger("discord.client").addFilter(NoVoiceNotice())


class CrewClient(discord.AutoShardedClient):
    """Every shard this process runs (all of them by default, as many as Discord recommends),
    on one connection state: discord.py routes each shard's events to the same handlers."""

    def __init__(self, adapter: DiscordAdapter, **options: Any) -> None:
        super().__init__(intents=discord.Intents.default(), allowed_mentions=NO_MENTIONS,
                         **options)
        self.crewbot = adapter
        self.tree = app_commands.CommandTree(self)
        self.tree.on_error = adapter.on_tree_error  # type: ignore[method-assign]
        self.pacer = IdentifyPacer(shared=adapter.turns)

    async def setup_hook(self) -> None:
        """Once per process (at login, not per shard)."""
        self.add_dynamic_items(GameButton)
        try:
            limits = await self.fetch_session_start_limits()
            self.pacer = IdentifyPacer(limits.max_concurrency, self.crewbot.turns)
        except (discord.HTTPException, discord.GatewayNotFound):
            log.warning("platform=discord outcome=no_session_limits pacing=one_shard_per_5s")
        if syncs_commands(self.shard_ids):
            await self.crewbot.sync_commands()
        else:
            log.info("platform=discord outcome=commands_not_synced reason=shard_0_elsewhere")

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        await self.pacer.wait(shard_id)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self.crewbot.on_reaction(payload, added=True)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self.crewbot.on_reaction(payload, added=False)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        self.crewbot.record_error(event_method)


class DiscordAdapter:
    """Serves every text channel or thread as a crew, from the bot's own loop."""

    def __init__(self, game: Game, token: str, guild_ids: list[int] | None = None,
                 api_url: str | None = None, answer_within: float = ANSWER_WITHIN,
                 shard_count: int | None = None, shard_ids: list[int] | None = None,
                 turns: Turns | None = None, **client_options: Any) -> None:
        if api_url:
            point_at(api_url)
        self.game = game
        self.answer_within = answer_within  # seconds before an answer is deferred
        self.token = token
        self.guild_ids = guild_ids or []
        self.count_set = shard_count is not None  # else the count Discord recommends
        self.turns = turns  # IDENTIFY turns shared with the other processes, if any
        self.client = CrewClient(self, shard_count=shard_count, shard_ids=shard_ids,
                                 **client_options)
        for cmd in COMMANDS.values():
            self.client.tree.add_command(slash_command(cmd, self))
        self.errors: list[BaseException] = []
        self.task: asyncio.Task[None] | None = None
        self.handled = 0  # events fully handled (replies sent and linked)
        self._progress = asyncio.Condition()

    async def _done(self) -> None:
        async with self._progress:
            self.handled += 1
            self._progress.notify_all()

    async def wait_handled(self, count: int, timeout: float = 5) -> None:
        """Waits until `count` events have been fully handled (for tests and health checks)."""
        async with self._progress:
            await asyncio.wait_for(self._progress.wait_for(lambda: self.handled >= count),
                                   timeout)

    # lifecycle

    async def start(self) -> None:
        try:
            await self.client.login(self.token)
        except discord.LoginFailure:
            raise TokenRefused("Discord refused the token in CREWBOT_DISCORD_TOKEN: copy it again "
                               "from the Bot page of the Discord developer portal.") from None
        self.task = asyncio.create_task(self.connect())

    async def connect(self) -> None:
        """The shards' connections until closed; a fatal gateway close (wrong shard settings,
        refused intents or token) raises PlatformRefused/TokenRefused saying what to change."""
        try:
            await self.client.connect(reconnect=True)
        except discord.PrivilegedIntentsRequired as error:
            raise PlatformRefused(refusal(4014, error.shard_id, self.client.shard_count,
                                          self.count_set)) from None
        except discord.ConnectionClosed as error:
            if error.code == 4004:
                raise TokenRefused("Discord refused the token in CREWBOT_DISCORD_TOKEN (gateway "
                                   "close 4004): copy it again from the Bot page of the Discord "
                                   "developer portal.") from None
            meaning = refusal(error.code, error.shard_id, self.client.shard_count,
                              self.count_set)
            if meaning is None:
                raise
            raise PlatformRefused(meaning) from None

    @property
    def connected(self) -> bool:
        """Logged in, and every shard this process runs ready with its websocket open."""
        shards = shard_states(self.client)
        return (self.client.is_ready() and not self.client.is_closed() and bool(shards)
                and all(shards.values()))

    def health(self) -> dict[str, Any]:
        """The readiness check: connected, and each of this process's shards."""
        return {"ok": self.connected, "shard_count": self.client.shard_count,
                "shards": [{"id": i, "ok": ok} for i, ok in shard_states(self.client).items()]}

    async def stop(self) -> None:
        await self.client.close()
        if self.task:
            # A shard may be reconnecting (waiting its turn to IDENTIFY): end that too, or it
            # would open a websocket after the close.
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if self.turns is not None:
            await self.turns.close()

    async def sync_commands(self) -> None:
        """Globally, or at once to the development guilds in CREWBOT_DISCORD_GUILD_IDS."""
        tree = self.client.tree
        for guild_id in self.guild_ids:
            guild = discord.Object(guild_id)
            tree.copy_global_to(guild=guild)
            await tree.sync(guild=guild)
        if not self.guild_ids:
            await tree.sync()
        log.info("platform=discord outcome=commands_synced count=%d", len(COMMANDS))

    def record_error(self, where: str) -> None:
        import sys

        error = sys.exc_info()[1]
        if error is not None:
            self.errors.append(error)
        log.error("platform=discord where=%s outcome=error", where, exc_info=error)

    async def on_tree_error(self, interaction: discord.Interaction,
                            error: app_commands.AppCommandError) -> None:
        self.errors.append(error)
        log.error("platform=discord outcome=error error=%s", type(error).__name__,
                  exc_info=error)

    # inbound

    async def on_slash(self, interaction: discord.Interaction, cmd: Command,
                       values: dict[str, Any]) -> None:
        channel = interaction.channel
        if channel is None or interaction.guild is None:
            await interaction.response.send_message(
                "Game commands work in a crew's channel on a server, not here.", ephemeral=True)
            return
        text, mentions = command_text(cmd, values)
        event = CommandReceived(chat_of(channel), actor_of(interaction.user, is_admin(interaction)),
                                text, mentions=mentions, event_id=f"dc:{interaction.id}")
        await self.answer(interaction, event)

    async def on_button(self, interaction: discord.Interaction, action: str) -> None:
        if interaction.channel is None or interaction.guild is None:
            await interaction.response.send_message("This button works in a crew's channel.",
                                                    ephemeral=True)
            return
        event = ButtonPressed(chat_of(interaction.channel),
                              actor_of(interaction.user, is_admin(interaction)),
                              action=action, event_id=f"dc:{interaction.id}")
        await self.answer(interaction, event)

    async def on_reaction(self, payload: discord.RawReactionActionEvent, added: bool) -> None:
        if payload.guild_id is None or (self.client.user and
                                        payload.user_id == self.client.user.id):
            return
        channel = self.client.get_channel(payload.channel_id)
        chat = chat_of(channel) if channel else Chat(PLATFORM, str(payload.channel_id))
        who = actor_of(payload.member) if payload.member else Actor(str(payload.user_id), "")
        try:
            replies = await self.game.handle(ReactionChanged(
                chat, who, str(payload.message_id), str(payload.emoji), added))
            for reply in replies:  # a reaction has no private answer: DMs, or the channel
                if reply.dm_to is not None:
                    await self.send_dm(reply)
                elif not reply.private and channel is not None:
                    await self.send(channel, reply)
        finally:
            await self._done()

    async def answer(self, interaction: discord.Interaction, event: Event) -> None:
        """Runs the event; answers at once when quick, otherwise defers and follows up."""
        try:
            await self._answer(interaction, event)
        finally:
            await self._done()

    async def _answer(self, interaction: discord.Interaction, event: Event) -> None:
        work = asyncio.ensure_future(self.game.handle(event))
        deferred = False
        try:
            replies = await asyncio.wait_for(asyncio.shield(work), self.answer_within)
        except TimeoutError:
            await interaction.response.defer(thinking=True)
            deferred = True
            replies = await work
        answers, elsewhere = answers_for(replies, str(interaction.user.id), deferred)
        if not answers and not interaction.response.is_done():
            try:
                await interaction.response.defer()
            except discord.HTTPException:  # handed over again: already acknowledged
                log.info("platform=discord outcome=duplicate_interaction")
        for reply in answers:
            await self.respond(interaction, event.chat, reply)
        for reply in elsewhere:  # after answering: Discord wants the answer within 3 s
            await self.send_dm(reply)

    async def respond(self, interaction: discord.Interaction, chat: Chat,
                      reply: Message) -> None:
        parts, allowed = render(reply)
        for i, part in enumerate(parts):
            view = view_for(reply) if i == len(parts) - 1 else None
            kwargs: dict[str, Any] = {"ephemeral": reply.private, "allowed_mentions": allowed}
            if view is not None:
                kwargs["view"] = view
            if i == len(parts) - 1 and (file := file_of(reply)):
                kwargs["file"] = file
            if not interaction.response.is_done():
                await interaction.response.send_message(part, **kwargs)
                sent = await interaction.original_response()
            else:
                sent = await interaction.followup.send(part, wait=True, **kwargs)
        if not reply.private:
            await self.game.message_sent(chat, str(sent.id), reply.ref)

    # outbound

    async def send(self, channel: Any, reply: Message) -> str:
        """Posts to a channel and links the message to the item it shows."""
        sent_id = await self._post(channel, reply)
        await self.game.message_sent(chat_of(channel), sent_id, reply.ref)
        return sent_id

    async def _post(self, channel: Any, reply: Message) -> str:
        parts, allowed = render(reply)
        sent_id = ""
        for i, part in enumerate(parts):
            view = view_for(reply) if i == len(parts) - 1 else None
            kwargs: dict[str, Any] = {"allowed_mentions": allowed}
            if view is not None:
                kwargs["view"] = view
            if i == len(parts) - 1 and (file := file_of(reply)):
                kwargs["file"] = file
            sent = await channel.send(part, **kwargs)
            sent_id = str(sent.id)
        return sent_id

    async def send_dm(self, message: Message) -> bool:
        """A message for one person only, as a direct message; False if they don't accept DMs
        (it is then dropped, never posted in the channel)."""
        assert message.dm_to is not None
        try:
            user = await self.client.fetch_user(int(message.dm_to.user_id))
            await self._post(user, await self.with_invite(message))
        except (discord.Forbidden, discord.NotFound, ValueError):
            if message.invite is not None:
                channel = await self.channel(message.invite.chat_id)
                if channel is not None:
                    await self._post(channel, Message((
                        f"I could not reach {message.dm_to.name} by direct message (they do "
                        "not accept them from me), so the invitation did not go. Once they "
                        "allow direct messages, they can knock again.",)))
            return False
        return True

    async def channel(self, chat_id: str) -> Any:
        try:
            return self.client.get_channel(int(chat_id)) or await self.client.fetch_channel(
                int(chat_id))
        except (discord.HTTPException, ValueError):
            return None

    async def with_invite(self, message: Message) -> Message:
        """The message with a one-use invite to `message.invite`'s channel (the bot needs the
        Create Invite permission there)."""
        if message.invite is None:
            return message
        channel = await self.channel(message.invite.chat_id)
        try:
            if channel is None:
                raise ValueError(message.invite.chat_id)
            invite = await channel.create_invite(
                max_age=INVITE_SECONDS, max_uses=1, unique=True,
                reason="Crewbot: an invitation after a knock")
            added = f"\n{invite.url}"
        except (discord.HTTPException, ValueError, AttributeError) as error:
            log.warning("platform=discord outcome=invite_failed error=%s", type(error).__name__)
            added = ("\nI could not make an invite to that channel (I need the Create Invite "
                     "permission there). Its admins can invite you themselves.")
        return replace(message, parts=(*message.parts, added), invite=None)

    async def deliver(self) -> None:
        """Sends what the core queued; a failed post stays queued for the next tick."""
        await self.game.deliver(PLATFORM, self._send_post,
                                (discord.HTTPException, discord.ClientException))

    async def _send_post(self, posted: Post) -> str | None:
        if posted.message.dm_to:  # undeliverable privately: dropped, never public
            await self.send_dm(posted.message)
            return None
        channel_id = int(posted.chat.chat_id)
        channel = self.client.get_channel(channel_id) or await self.client.fetch_channel(
            channel_id)
        return await self._post(channel, posted.message)
