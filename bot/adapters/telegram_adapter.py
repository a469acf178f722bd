"""The Telegram adapter: python-telegram-bot updates in, the core's messages out."""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeDefault,
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    MessageEntity,
    ReactionTypeCustomEmoji,
    ReactionTypeEmoji,
    ReplyParameters,
    Update,
)
from telegram import Message as TgMessage
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    MessageReactionHandler,
    filters,
)
from telegram.request import BaseRequest, RequestData

from bot.adapters.telegram_http import AiohttpRequest
from bot.adapters.telegram_pacing import ChatOrderedUpdates, WindowRateLimiter
from bot.adapters.telegram_poller import PollerElection, Role
from bot.adapters.telegram_webhook import MAX_CONNECTIONS, Webhook, WebhookServer
from bot.commands.admin import intro_text
from bot.commands.events import (
    Actor,
    ButtonPressed,
    Chat,
    CommandReceived,
    Event,
    MemberLeft,
    Mention,
    Message,
    Post,
    ReactionChanged,
)
from bot.commands.game import Game, Replies
from bot.commands.registry import COMMANDS
from bot.config import TokenRefused

log = logging.getLogger("crewbot.telegram")

PLATFORM = "telegram"
ALLOWED_UPDATES = ["message", "callback_query", "message_reaction", "my_chat_member",
                   "chat_member"]
GROUPS = (ChatType.GROUP, ChatType.SUPERGROUP)
INVITE_LASTS = timedelta(days=7)  # a knock's invitation link, used once
ADMIN_STATUSES = (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
GONE_STATUSES = (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED)
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
ADMIN_CACHE_SECONDS = 120
ADMIN_RETRY_SECONDS = 10
POLL_TIMEOUT = 10  # seconds a getUpdates long poll waits (PTB's default)
POLL_FRESH = POLL_TIMEOUT + 20  # a poll that succeeded this recently means "connected"
PRIVATE_START = (
    "Hello! Crewbot plays the Reciprocity Game with a crew in its group chat. To start: add me "
    "to your crew's group (group info > Add members), then make me an admin there so I can see "
    "reactions. Everyone then plays with /checkin, /ask, /offer and friends; /help lists them."
)
# What the group sees when something for the asker alone cannot reach them: how to make it
# possible, never the content.
NO_DM = ("I can't message you privately yet: open a chat with me (@{bot}) and press Start, then "
         "send {again} again.")
NO_DM_NOTE = ("I have a private note for you but can't message you yet: open a chat with me "
              "(@{bot}) and press Start; private notes will reach you there.")
PRIVATE_POINTER = ("Game commands work in your crew's group, not here. Add me to the group and "
                   "send them there; /start explains how.")


def no_dm_pointer(message: Message, bot_username: str) -> Message:
    """The group's line when `message`, for the member who acted, cannot reach them privately."""
    text = NO_DM.format(bot=bot_username, again=message.again) if message.again else (
        NO_DM_NOTE.format(bot=bot_username))
    return Message((text,))


def actor(user: Any, is_admin: bool | None = None) -> Actor:
    return Actor(user_id=str(user.id), name=user.full_name or user.username or str(user.id),
                 is_admin=is_admin, handle=user.username)


def chat_of(chat: Any) -> Chat:
    return Chat(PLATFORM, str(chat.id), chat.title or chat.full_name or str(chat.id))


def command_text(message: TgMessage) -> tuple[str, tuple[Actor, ...]]:
    """The command text with each text-mention (a user without @username) turned into `@tgID`,
    and the people mentioned, keyed so the core can resolve them."""
    text = message.text or ""
    mentions: list[Actor] = []
    pieces: list[str] = []
    last = 0
    for entity in sorted(message.entities or (), key=lambda e: e.offset):
        if entity.type == MessageEntity.TEXT_MENTION and entity.user:
            start = len(text.encode("utf-16-le")[: entity.offset * 2].decode("utf-16-le"))
            end = len(text.encode("utf-16-le")[: (entity.offset + entity.length) * 2]
                      .decode("utf-16-le"))
            token = f"tg{entity.user.id}"
            pieces += [text[last:start], f"@{token}"]
            last = end
            person = actor(entity.user)
            mentions.append(Actor(person.user_id, token, handle=person.handle))
            mentions.append(person)
    pieces.append(text[last:])
    return "".join(pieces), tuple(mentions)


def render(message: Message) -> tuple[list[str], str | None, InlineKeyboardMarkup | None]:
    """Text chunks (Telegram's 4096 limit), parse mode and keyboard. User text is never markup:
    plain text, or HTML-escaped when a mention needs a link."""
    has_mentions = any(isinstance(p, Mention) for p in message.parts)
    if has_mentions:
        text = "".join(
            html.escape(p) if isinstance(p, str) else (
                f'<a href="tg://user?id={p.user_id}">{html.escape(p.name)}</a>'
                if p.user_id.isdigit() else html.escape("@" + p.name))
            for p in message.parts)
    else:
        text = message.plain()
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.action) for b in message.buttons]]
    ) if message.buttons else None
    return chunks(text), ParseMode.HTML if has_mentions else None, keyboard


def utf16_len(text: str) -> int:
    """Telegram counts text lengths in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def chunks(text: str) -> list[str]:
    out: list[str] = []
    while len(text) > TEXT_LIMIT:
        cut = text.rfind("\n", 0, TEXT_LIMIT)
        cut = cut if cut > 0 else TEXT_LIMIT
        out.append(text[:cut])
        text = text[cut:].lstrip("\n")
    return [*out, text]


def reaction_keys(reactions: Iterable[Any]) -> set[str]:
    keys = set()
    for reaction in reactions:
        if isinstance(reaction, ReactionTypeEmoji):
            keys.add(reaction.emoji)
        elif isinstance(reaction, ReactionTypeCustomEmoji):
            keys.add(f"custom:{reaction.custom_emoji_id}")
    return keys


class PollWatch(BaseRequest):
    """The getUpdates connection, noting when a poll last came back fine (for readiness)."""

    def __init__(self, inner: BaseRequest) -> None:
        self.inner = inner
        self.last_ok: float | None = None

    @property
    def read_timeout(self) -> float | None:
        return self.inner.read_timeout

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = BaseRequest.DEFAULT_NONE,
                         write_timeout: Any = BaseRequest.DEFAULT_NONE,
                         connect_timeout: Any = BaseRequest.DEFAULT_NONE,
                         pool_timeout: Any = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        status, body = await self.inner.do_request(url, method, request_data, read_timeout,
                                                   write_timeout, connect_timeout, pool_timeout)
        if status == 200:
            self.last_ok = time.monotonic()
        return status, body


class TelegramAdapter:
    """Long-polls Telegram inside the bot's own loop, or with `webhook` serves Telegram's
    webhook instead; every group is a crew."""

    def __init__(self, game: Game, token: str, api_url: str | None = None,
                 builder: ApplicationBuilder | None = None,
                 rate_limiter: BaseRateLimiter | None = None,
                 request: BaseRequest | None = None,
                 get_updates_request: BaseRequest | None = None,
                 elect: Callable[[int], PollerElection] | None = None,
                 webhook: Webhook | None = None) -> None:
        """`builder` may bring the token, where Telegram is and other Application settings; the
        adapter gives it both connections: `request` (the bot's calls) and
        `get_updates_request` (the long polls) when given, else its own on aiohttp (about a
        third of the CPU of PTB's default HTTPXRequest per call). A builder given connection
        settings instead (proxy, timeouts, pool size) keeps PTB's HTTPXRequest with them for
        the bot's calls, as PTB refuses .request() next to those. `elect`, given the bot's id,
        makes the election that decides whether this process polls (several processes on one
        PostgreSQL); without it the adapter always polls."""
        self.game = game
        self.elect = elect
        self.election: PollerElection | None = None
        builder = builder or ApplicationBuilder().token(token)
        self.poll = PollWatch(get_updates_request or AiohttpRequest(connection_pool_size=1))
        self.last_poll_error: float | None = None
        builder = builder.get_updates_request(self.poll)
        self.request: BaseRequest | None = request or AiohttpRequest(connection_pool_size=256)
        try:
            builder = builder.request(self.request)
        except RuntimeError:
            if request is not None:
                raise
            self.request = None  # PTB makes its own, with the builder's settings
        if api_url:
            root = api_url.rstrip("/")
            builder = builder.base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
        self.webhook = webhook
        if webhook is not None:
            builder = builder.updater(None)  # PTB's documented way to serve a webhook oneself
        self.app: Application = (builder.rate_limiter(rate_limiter or WindowRateLimiter())
                                 .concurrent_updates(ChatOrderedUpdates()).build())
        self.admins: dict[int, tuple[float, frozenset[int]]] = {}  # chat: (when, admin ids)
        self.errors: list[BaseException] = []
        self.failed_updates: set[int] = set()  # update ids whose handling raised, till answered
        self.server = (WebhookServer(self.app, webhook, self.handling_failed)
                       if webhook is not None else None)
        self.webhook_set = False
        self.app.add_handler(MessageHandler(filters.COMMAND, self.on_command))
        self.app.add_handler(MessageHandler(filters.StatusUpdate.LEFT_CHAT_MEMBER, self.on_left))
        self.app.add_handler(CallbackQueryHandler(self.on_button))
        self.app.add_handler(MessageReactionHandler(self.on_reaction))
        self.app.add_handler(ChatMemberHandler(self.on_my_status,
                                               ChatMemberHandler.MY_CHAT_MEMBER))
        self.app.add_handler(ChatMemberHandler(self.on_member, ChatMemberHandler.CHAT_MEMBER))
        self.app.add_error_handler(self.on_error)

    # lifecycle

    async def start(self) -> None:
        try:
            await self.app.initialize()
        except InvalidToken:
            raise TokenRefused("Telegram refused the token in CREWBOT_TELEGRAM_TOKEN: check it "
                               "with @BotFather.") from None
        await self.publish_commands()
        await self.app.start()
        if self.server is not None:
            await self.start_webhook()
            return
        if self.elect is None:
            await self.start_polling()
            log.info("platform=telegram outcome=polling bot=%s", self.app.bot.username)
        else:
            self.election = self.elect(self.app.bot.id)
            self.election.begin(self.start_polling, self.stop_polling, self.polls_fine)

    async def start_polling(self) -> None:
        assert self.app.updater is not None
        await self.app.updater.start_polling(allowed_updates=ALLOWED_UPDATES,
                                             bootstrap_retries=-1, timeout=POLL_TIMEOUT,
                                             error_callback=self.on_poll_error)
        self.poll.last_ok = time.monotonic()  # getMe and setMyCommands just answered

    async def stop_polling(self) -> None:
        """Stops the long poll at once; PTB then confirms the updates it fetched."""
        if self.app.updater and self.app.updater.running:
            await self.app.updater.stop()

    def polls_fine(self) -> bool:
        """A poll came back fine within POLL_FRESH seconds (failed ones are retried meanwhile)."""
        last_ok = self.poll.last_ok
        return last_ok is not None and time.monotonic() - last_ok < POLL_FRESH

    @property
    def role(self) -> Role:
        """"webhook" when Telegram posts to this process; "polling" while it long-polls
        Telegram, else "standby"."""
        if self.server is not None:
            return "webhook"
        return "polling" if self.app.updater and self.app.updater.running else "standby"

    async def start_webhook(self) -> None:
        """Listens first, then asks Telegram to post there: updates that were waiting arrive
        at once. Every process sets the same webhook; none deletes it when it stops, so the
        others go on receiving."""
        assert self.server is not None and self.webhook is not None
        await self.server.start()
        await self.app.bot.set_webhook(self.webhook.url, secret_token=self.webhook.secret,
                                       allowed_updates=ALLOWED_UPDATES,
                                       max_connections=MAX_CONNECTIONS)
        self.webhook_set = True
        log.info("platform=telegram outcome=webhook bot=%s", self.app.bot.username)

    def handling_failed(self, update_id: int) -> bool:
        """Whether handling this update raised (then forgotten: the answer says so)."""
        if update_id in self.failed_updates:
            self.failed_updates.discard(update_id)
            return True
        return False

    @property
    def connected(self) -> bool:
        """Webhook: listening, with the webhook set. Polling: the latest poll came back fine,
        recently; or standing by for another process's poller."""
        if self.server is not None:
            return self.webhook_set and self.server.listening and self.app.running
        # A standby is ready as soon as the bot is: it sends, and polls once elected.
        if self.election is not None and self.role == "standby":
            return self.app.running
        last_ok = self.poll.last_ok
        return bool(self.app.updater and self.app.updater.running and last_ok is not None
                    and time.monotonic() - last_ok < POLL_FRESH
                    and (self.last_poll_error is None or self.last_poll_error < last_ok))

    def on_poll_error(self, error: TelegramError) -> None:
        self.last_poll_error = time.monotonic()
        log.warning("platform=telegram outcome=poll_failed error=%s", type(error).__name__)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()  # lets updates in hand finish; the webhook stays set
        if self.election is not None:
            await self.election.stop(self.stop_polling)
        await self.stop_polling()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()
        await self.app.bot.shutdown()  # its connections, when start failed before the app's
        # PTB before 22.6 leaves them open when the bot never initialized (a refused token):
        # the adapter closes the connections it made itself (closing twice is harmless).
        await self.poll.shutdown()
        if self.request is not None:
            await self.request.shutdown()

    async def publish_commands(self) -> None:
        commands = [BotCommand(c.name, c.summary[:256]) for c in COMMANDS.values()]
        await self.app.bot.set_my_commands(commands, scope=BotCommandScopeAllGroupChats())
        await self.app.bot.set_my_commands([BotCommand("start", "how to play with your crew")],
                                           scope=BotCommandScopeDefault())

    # inbound

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert context.error is not None
        self.errors.append(context.error)
        if isinstance(update, Update) and self.server is not None:
            self.failed_updates.add(update.update_id)
        log.error("platform=telegram outcome=error error=%s", type(context.error).__name__,
                  exc_info=context.error)

    async def is_admin(self, chat_id: int, user_id: int) -> bool:
        """One getChatAdministrators per chat every 2 minutes, not a getChatMember per member:
        a busy group costs one API call, and Telegram's rate limits are per bot."""
        cached = self.admins.get(chat_id)
        if cached is None or time.monotonic() - cached[0] >= ADMIN_CACHE_SECONDS:
            try:
                found = await self.app.bot.get_chat_administrators(chat_id)
                ids = frozenset(m.user.id for m in found)
                cached = (time.monotonic(), ids)
            except TelegramError:  # nobody is an admin until Telegram answers, for a little while
                cached = (time.monotonic() - ADMIN_CACHE_SECONDS + ADMIN_RETRY_SECONDS,
                          frozenset())
            self.admins[chat_id] = cached
        return user_id in cached[1]

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.from_user is None or message.from_user.is_bot:
            return
        name = (message.text or "").split()[0][1:].split("@")
        if len(name) > 1 and name[1].lower() != (self.app.bot.username or "").lower():
            return  # addressed to another bot
        if message.chat.type not in GROUPS:
            text = PRIVATE_START if name[0].lower() in ("start", "help") else PRIVATE_POINTER
            await message.reply_text(text, do_quote=False)
            return
        text, mentions = command_text(message)
        event = CommandReceived(
            chat_of(message.chat),
            actor(message.from_user, await self.is_admin(message.chat.id, message.from_user.id)),
            text, message_id=str(message.message_id),
            reply_to=str(message.reply_to_message.message_id) if message.reply_to_message
            else None, mentions=mentions, event_id=f"tg:{update.update_id}")
        await self.answer(event, reply_to=message.message_id)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query: CallbackQuery | None = update.callback_query
        if query is None:
            return
        message = query.message
        if message is None or message.chat.type not in GROUPS:
            await query.answer("This button only works in a crew's group.")
            return
        # the chat's admins as Telegram says (an Invite on a knock is theirs to press)
        who = actor(query.from_user, await self.is_admin(message.chat.id, query.from_user.id))
        event = ButtonPressed(chat_of(message.chat), who, action=query.data or "",
                              event_id=f"tg:{update.update_id}")
        replies = await self.game.handle(event, {"actor": event.actor.user_id, "button": True})
        # short private answers (refusals) as the presser's alert; anything for one person's
        # eyes (dm_to) goes by direct message, like a command's
        notes = [r for r in replies if r.private and r.dm_to is None]
        try:
            await query.answer("\n".join(r.plain() for r in notes)[:200] or None,
                               show_alert=bool(notes))
        except BadRequest:  # redelivered after a restart, the query has expired: still post
            log.info("platform=telegram outcome=answer_expired")
        await self.send_kept(event, Replies([r for r in replies if r not in notes],
                                            kept=getattr(replies, "kept", False)),
                             actor_id=event.actor.user_id)

    async def on_reaction(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.message_reaction
        if change is None or change.user is None or change.chat.type not in GROUPS:
            return  # anonymous reactions cannot confirm anyone's listening
        old, new = reaction_keys(change.old_reaction), reaction_keys(change.new_reaction)
        who = actor(change.user)
        for emoji, added in [*((e, True) for e in sorted(new - old)),
                             *((e, False) for e in sorted(old - new))]:
            event = ReactionChanged(chat_of(change.chat), who, str(change.message_id), emoji,
                                    added, event_id=f"tg:{update.update_id}:{emoji}:{added}")
            await self.answer(event)

    async def on_left(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message and message.left_chat_member and not message.left_chat_member.is_bot:
            await self.answer(MemberLeft(chat_of(message.chat),
                                         str(message.left_chat_member.id),
                                         event_id=f"tg:{update.update_id}"))

    async def on_member(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change: ChatMemberUpdated | None = update.chat_member
        if change is None:
            return
        user = change.new_chat_member.user
        self.admins.pop(change.chat.id, None)  # someone's rights may have changed
        if change.new_chat_member.status in GONE_STATUSES and not user.is_bot:
            await self.answer(MemberLeft(chat_of(change.chat), str(user.id),
                                         event_id=f"tg:{update.update_id}"))
        elif (change.old_chat_member.status in GONE_STATUSES and not user.is_bot
              and change.invite_link is not None and self.app.bot.id is not None
              and change.invite_link.creator.id == self.app.bot.id):
            # in by an invitation the bot made for a knock: they join the crew's game, as
            # /join does, and stop looking in the lobby
            await self.answer(CommandReceived(chat_of(change.chat), actor(user), "/join",
                                              event_id=f"tg:{update.update_id}"))

    async def on_my_status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.my_chat_member
        if change is None or change.chat.type not in GROUPS:
            return
        was, now = change.old_chat_member.status, change.new_chat_member.status
        if was in GONE_STATUSES and now not in GONE_STATUSES:
            rights = ("I'm an admin here, so reactions count as listening." if now in
                      ADMIN_STATUSES else
                      "I'm not an admin here, so I won't see reactions: the I listened button "
                      "does the same job. Make me an admin to use reactions too.")
            await self.send(chat_of(change.chat), Message((intro_text() + "\n" + rights,)))
        elif was not in ADMIN_STATUSES and now in ADMIN_STATUSES:
            await self.send(chat_of(change.chat),
                            Message(("Thanks for making me an admin: reactions now count as "
                                     "listening.",)))

    async def answer(self, event: Event, reply_to: int | None = None) -> None:
        actor_id = getattr(getattr(event, "actor", None), "user_id", None)
        replies = await self.game.handle(event, {"reply_to": reply_to, "actor": actor_id})
        await self.send_kept(event, replies, reply_to, actor_id)

    async def send_kept(self, event: Event, replies: list[Message], reply_to: int | None = None,
                        actor_id: str | None = None) -> None:
        """Sends an event's replies; those kept with the event are then marked sent, also when
        sending failed for good (a failure Telegram will not change its mind about). Only a
        process that dies or stops first leaves them kept, for the event's redelivery or for
        another process (`deliver`)."""
        kept = getattr(replies, "kept", False) and event.event_id
        try:
            await self.send_all(event.chat, replies, reply_to, actor_id)
        except Exception:
            if kept:
                await self.game.replies_sent(event.chat.platform, event.event_id or "")
            raise
        if kept:  # not when cancelled half-way (a stopping process): sent again later
            await self.game.replies_sent(event.chat.platform, event.event_id or "")

    # outbound

    async def send_all(self, chat: Chat, replies: list[Message], reply_to: int | None = None,
                       actor_id: str | None = None) -> None:
        """Replies to an event: public ones in the group, each dm_to one by direct message only.
        Telegram has no answer only one member sees, so when something for the member who acted
        cannot reach them, the group gets one line saying how to make it possible."""
        pointed = False
        for reply in replies:
            if reply.dm_to is None:
                try:
                    await self.send(chat, reply, reply_to)
                except (BadRequest, Forbidden):
                    raise
                except TelegramError as error:  # a 429 storm or the network: not lost, queued
                    log.warning("platform=telegram outcome=reply_queued error=%s",
                                type(error).__name__)
                    await self.game.say_in(chat, reply)
            elif (not await self.send_dm(reply) and reply.dm_to.user_id == actor_id
                  and not pointed):
                pointed = True
                await self.send(chat, no_dm_pointer(reply, self.app.bot.username or "the bot"),
                                reply_to)

    async def send_dm(self, message: Message) -> bool:
        """A message for one person only, in their private chat with the bot; Telegram allows it
        only once they have started that chat, and then it is False (never sent to the group)."""
        assert message.dm_to is not None
        try:
            await self._post(Chat(PLATFORM, message.dm_to.user_id),
                             await self.with_invite(message))
        except (Forbidden, BadRequest):
            if message.invite is not None:
                await self.send(message.invite, Message((
                    f"I could not reach {message.dm_to.name} privately: they have not opened a "
                    "chat with me, so the invitation did not go. Once they press Start in a "
                    "private chat with me, they can knock again.",)))
            return False
        return True

    async def with_invite(self, message: Message) -> Message:
        """The message with a one-use invite link to `message.invite`'s group, which the bot
        makes (it must be an admin there allowed to invite)."""
        if message.invite is None:
            return message
        try:
            link = await self.app.bot.create_chat_invite_link(
                int(message.invite.chat_id), expire_date=INVITE_LASTS, member_limit=1,
                name=f"Crewbot: {message.dm_to.name if message.dm_to else ''}"[:32])
            added = f"\n{link.invite_link}"
        except TelegramError as error:
            log.warning("platform=telegram outcome=invite_link_failed error=%s",
                        type(error).__name__)
            added = ("\nI could not make an invite link to that group (I need to be an admin "
                     "there, allowed to invite). Its admins can add you themselves.")
        return replace(message, parts=(*message.parts, added), invite=None)

    async def send(self, chat: Chat, message: Message, reply_to: int | None = None) -> str:
        """Sends one message and links it to the item it shows."""
        sent_id = await self._post(chat, message, reply_to)
        await self.game.message_sent(chat, sent_id, message.ref)
        return sent_id

    async def _post(self, chat: Chat, message: Message, reply_to: int | None = None) -> str:
        """Sends the message in chunks if long; the keyboard goes on the last, whose id counts."""
        if message.attachment is not None:
            return await self._post_file(chat, message, reply_to)
        parts, mode, keyboard = render(message)
        sent_id = ""
        for i, part in enumerate(parts):
            quote = ReplyParameters(reply_to, allow_sending_without_reply=True) if (
                reply_to and i == 0) else None
            sent = await self.app.bot.send_message(
                int(chat.chat_id), part, parse_mode=mode,
                reply_markup=keyboard if i == len(parts) - 1 else None,
                reply_parameters=quote, link_preview_options=NO_PREVIEW)
            sent_id = str(sent.message_id)
        return sent_id

    async def _post_file(self, chat: Chat, message: Message, reply_to: int | None) -> str:
        """A picture by sendPhoto, a file by sendDocument, with the text as its caption; a text
        too long for a caption follows as its own message."""
        attachment = message.attachment
        assert attachment is not None
        parts, mode, keyboard = render(message)
        fits = len(parts) == 1 and utf16_len(message.plain()) <= CAPTION_LIMIT
        quote = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        common: dict[str, Any] = {
            "caption": parts[0] if fits else None, "parse_mode": mode if fits else None,
            "reply_markup": keyboard if fits else None, "reply_parameters": quote,
            "filename": attachment.filename}
        if attachment.kind == "photo":
            sent = await self.app.bot.send_photo(int(chat.chat_id), attachment.data, **common)
        else:
            sent = await self.app.bot.send_document(int(chat.chat_id), attachment.data, **common)
        if fits:
            return str(sent.message_id)
        return await self._post(chat, replace(message, attachment=None))

    async def deliver(self) -> None:
        """Sends what the core queued (a failed post stays queued for the next tick), and the
        kept replies of events whose process ended before sending them."""
        await self.game.deliver(PLATFORM, self._send_post, TelegramError, pause_on=RetryAfter)
        for event_id, chat, kept, replies in await self.game.stale_replies(PLATFORM):
            if kept.get("button"):  # the presser's alert went with the query, long expired
                replies = [r for r in replies if not (r.private and r.dm_to is None)]
            try:
                await self.send_all(chat, replies, kept.get("reply_to"), kept.get("actor"))
            except TelegramError as error:
                log.warning("platform=telegram outcome=kept_reply_failed error=%s",
                            type(error).__name__)
            await self.game.replies_sent(PLATFORM, event_id)

    async def _send_post(self, posted: Post) -> str | None:
        if posted.message.dm_to:  # undeliverable privately: dropped, never public
            await self.send_dm(posted.message)
            return None
        return await self._post(posted.chat, posted.message)
