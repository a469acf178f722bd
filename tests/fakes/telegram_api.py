"""A fake Telegram Bot API server on 127.0.0.1 for running the real python-telegram-bot."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import itertools
import json
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Self

import aiohttp
from aiohttp import web
from aiohttp.web_request import FileField
from telegram.constants import ReactionEmoji
from telegram.ext import ApplicationBuilder

from bot.adapters.telegram_http import AiohttpRequest

JSON = dict[str, Any]
Predicate = Callable[[JSON], bool]

# Parameters the Bot API defines as strings. PTB sends string values raw and everything else
# JSON-encoded, so a text of "123" is indistinguishable from the number 123 on the wire; these
# names are therefore never JSON-decoded.
STRING_FIELDS = frozenset({
    "text", "caption", "parse_mode", "callback_query_id", "url", "inline_message_id",
    "business_connection_id", "message_effect_id", "language_code", "title", "description",
    "short_description", "name", "custom_title", "emoji", "query", "secret_token", "ip_address",
    "document", "photo", "file_id", "sticker", "question", "explanation", "address",
    "phone_number", "first_name", "last_name", "vcard", "payload", "currency", "invite_link",
    "action", "switch_pm_text", "next_offset", "start_parameter", "provider_token",
})
# What Telegram sends when allowed_updates was never given or was an empty list.
NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
REACTION_EMOJI = frozenset(e.value for e in ReactionEmoji)
GROUP_TYPES = frozenset({"group", "supergroup", "channel"})
ADMIN_STATUSES = frozenset({"administrator", "creator"})
MAX_TEXT = 4096
MAX_CAPTION = 1024
# Telegram's flood limits: about 30 messages a second overall, 20 a minute in one group.
OVERALL = (30, 1.0)
PER_GROUP = (20, 60.0)
FLOOD_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})


class FloodWindow:
    """At most `limit` messages in any `period` seconds, by when each arrived."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit, self.period = limit, period
        self.times: collections.deque[float] = collections.deque()

    def wait(self, at: float) -> float:
        while self.times and self.times[0] <= at - self.period:
            self.times.popleft()
        return 0.0 if len(self.times) < self.limit else self.times[0] + self.period - at


class Request(NamedTuple):
    """One Bot API call the fake received: canonical method name and decoded parameters."""

    method: str
    params: JSON


class PollCall(NamedTuple):
    """One getUpdates call: who made it (the `via` name in its URL, "" without one) and when
    (the loop's monotonic clock)."""

    caller: str
    at: float


class ApiError(Exception):
    """An error answer of the Bot API, raised inside method handlers."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


@dataclass(eq=False)
class _Poll:
    """A getUpdates request that is waiting."""

    superseded: bool = False


@dataclass
class _Failure:
    """A fault injected with fail_next."""

    status: int
    description: str
    parameters: JSON | None
    left: int


@dataclass
class _Stored:
    """A file the bot uploaded, downloadable through base_file_url."""

    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    extra: JSON = field(default_factory=dict)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _decode(name: str, value: str) -> Any:
    if name in STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _message_id(value: Any) -> int:
    return value if isinstance(value, int) else -1


def _update_type(update: Mapping[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")


def _chat_key(update: Mapping[str, Any]) -> Any:
    """The chat an update belongs to (its updates are delivered one at a time, in order)."""
    body = update.get(_update_type(update))
    if not isinstance(body, dict):
        return None
    chat = body.get("chat") or (body.get("message") or {}).get("chat") or {}
    return chat.get("id") if isinstance(chat, dict) else None


@dataclass
class Delivery:
    """One webhook POST the fake made: the update, and the answer (a status, or the error)."""

    update_id: int
    status: int | str


def _scope_key(scope: Any, language_code: Any) -> str:
    scope = scope if isinstance(scope, dict) else {"type": "default"}
    key = str(scope.get("type", "default"))
    for part in ("chat_id", "user_id"):
        if part in scope:
            key += f":{scope[part]}"
    return f"{key}/{language_code}" if language_code else key


def member(user: JSON, status: str) -> JSON:
    """A complete ChatMember object of the given status, as PTB needs every required field."""
    base: JSON = {"status": status, "user": user}
    if status == "creator":
        return base | {"is_anonymous": False}
    if status == "administrator":
        return base | {
            "can_be_edited": False, "is_anonymous": False, "can_manage_chat": True,
            "can_delete_messages": True, "can_manage_video_chats": True,
            "can_restrict_members": True, "can_promote_members": False, "can_change_info": True,
            "can_invite_users": True, "can_post_stories": True, "can_edit_stories": True,
            "can_delete_stories": True, "can_pin_messages": True, "can_manage_topics": False,
        }
    if status == "restricted":
        rights = (
            "can_change_info", "can_invite_users", "can_pin_messages", "can_send_messages",
            "can_send_polls", "can_send_other_messages", "can_add_web_page_previews",
            "can_manage_topics", "can_send_audios", "can_send_documents", "can_send_photos",
            "can_send_videos", "can_send_video_notes", "can_send_voice_notes", "can_edit_tag",
        )
        return base | {"is_member": True, "until_date": 0} | dict.fromkeys(rights, False)
    if status == "kicked":
        return base | {"until_date": 0}
    if status in ("member", "left"):
        return base
    raise ValueError(f"unknown chat member status {status!r}")


class FakeTelegram:
    """The Bot API over HTTP on 127.0.0.1, with builders for updates and waits for the bot's calls.

    Point PTB at it with ``ApplicationBuilder().token(tg.token).base_url(tg.base_url)
    .base_file_url(tg.base_file_url)``, or use ``tg.application_builder()``.

    Recorded: ``calls`` (Counter by method), ``requests`` (every call, failed ones too), and the
    decoded params of successful calls in ``sent`` (sendMessage; the returned Messages are in
    ``sent_messages``), ``edited`` (editMessageText/ReplyMarkup), ``deleted``, ``answered``,
    ``bot_reactions``, ``uploads`` (sendDocument/sendPhoto with file name and bytes),
    ``commands`` (by scope key: "default", "all_group_chats", "chat:<id>", ... plus
    "/<language>" when one was given) and ``allowed_updates`` (last list getUpdates received).
    ``polls`` records who called getUpdates and when: give each bot process its own
    ``via_url(name)`` to tell them apart; ``conflicts`` counts the getUpdates ended with 409
    Conflict because another began (two pollers on one token, as Telegram refuses them).

    Like Telegram, it refuses what the real API refuses in the cases an adapter meets: unknown
    chats, a private chat the user never opened, chats the bot was removed from, edits that
    change nothing, replies to missing messages, invalid reactions and command names. It does
    not parse ``parse_mode`` markup: text is stored as sent.

    With ``flood_limits=True`` it refuses, like Telegram, messages beyond 30 a second overall or
    20 a minute in one group (sendMessage, sendPhoto, sendDocument) with 429 and
    ``retry_after``, counting each refusal in ``too_many`` (by method); ``overall`` and
    ``per_group`` (limit, seconds) change those numbers. It is off by default: the reliability
    drivers run the bot unpaced on purpose, to go fast.
    """

    def __init__(
        self,
        bot_username: str = "crewbot",
        *,
        bot_id: int = 7000000001,
        bot_name: str = "Crewbot",
        token: str | None = None,
        first_update_id: int = 100000,
        flood_limits: bool = False,
        overall: tuple[int, float] = OVERALL,
        per_group: tuple[int, float] = PER_GROUP,
    ) -> None:
        self.bot_user: JSON = {
            "id": bot_id, "is_bot": True, "first_name": bot_name, "username": bot_username,
        }
        self._token = token
        self.port = 0
        # Recorded traffic.
        self.calls: Counter[str] = Counter()
        self.requests: list[Request] = []
        self.sent: list[JSON] = []
        self.sent_messages: list[JSON] = []
        self.edited: list[JSON] = []
        self.deleted: list[JSON] = []
        self.answered: list[JSON] = []
        self.bot_reactions: list[JSON] = []
        self.uploads: list[JSON] = []
        self.commands: dict[str, list[JSON]] = {}
        self.allowed_updates: list[str] | None = None
        self.invite_links: list[JSON] = []
        self.server_errors: list[Exception] = []
        self.polls: list[PollCall] = []
        self.conflicts = 0
        # Telegram's flood limits, when on: a message beyond them is refused with 429.
        self.flood_limits = flood_limits
        self.too_many: Counter[str] = Counter()  # 429s given for the limits, by method
        self.sent_times: list[float] = []  # time.monotonic() of each message the limits count
        self._overall = FloodWindow(*overall)
        self._per_group = per_group
        self._groups: dict[int, FloodWindow] = {}
        # World state.
        self.chats: dict[int, JSON] = {}
        self.users: dict[int, JSON] = {}
        self.messages: dict[tuple[int, int], JSON] = {}
        self._admins: dict[int, set[int]] = {}
        self._bot_status: dict[int, str] = {}
        self._next_message_id: dict[int, int] = {}
        self._open_queries: set[str] = set()
        self._files: dict[str, _Stored] = {}
        # Updates.
        self._update_ids = itertools.count(first_update_id)
        self._pending: list[JSON] = []
        self._allowed_filter: frozenset[str] | None = None
        self._polls: list[_Poll] = []
        self._polls_started = 0
        self._confirmed_offset = 0
        # Webhook: what setWebhook set (None: polling), each POST made, and what is in flight.
        self.webhook: JSON | None = None
        self.deliveries: list[Delivery] = []
        self.webhook_retry = 0.2  # seconds before the first retry; doubled up to 2 s
        self.webhook_timeout = 30.0  # seconds a POST may take before it counts as failed
        self._in_flight: set[int] = set()
        self._retry_at: dict[int, float] = {}
        self._attempts: Counter[int] = Counter()
        self._deliverer: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None
        # Held calls: the next calls of a method wait here until released (or forever).
        self._hold: dict[str, int] = {}
        self.held: list[JSON] = []
        self.held_from: list[int] = []  # the client's port of each held call
        self._release = asyncio.Event()
        # Machinery.
        self._ids = itertools.count(1)
        self._failures: dict[str, list[_Failure]] = {}
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._methods: dict[str, tuple[str, Callable[[JSON], Awaitable[Any]]]] = {}
        for name, handler in self._method_table().items():
            self._methods[name.lower()] = (name, handler)

    # ----------------------------------------------------------------- lifecycle

    @property
    def token(self) -> str:
        """The token to give PTB (any token is accepted unless one was passed in)."""
        return self._token or f"{self.bot_user['id']}:AAFake-token_for-the-loopback-Bot-API"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        app.router.add_route("*", "/via/{caller}/bot{token}/{method}", self._handle)
        app.router.add_get("/via/{caller}/file/bot{token}/{path:.+}", self._download)
        # handler_cancellation: a long poll whose client went away (PTB cancels it on
        # updater.stop) ends at once instead of answering a closed connection later.
        self._runner = web.AppRunner(
            app, shutdown_timeout=1.0, access_log=None, handler_cancellation=True,
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        self._closing = False

    async def stop(self) -> None:
        """Answers every waiting getUpdates with [] at once, then closes the server."""
        self.release_polls()
        if self._deliverer is not None:
            self._deliverer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._deliverer
            self._deliverer = None
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._runner is not None:
            await asyncio.sleep(0)
            await self._runner.cleanup()
            self._runner = None

    def via_url(self, caller: str) -> str:
        """This fake's root for one caller (CREWBOT_TELEGRAM_API_URL): its calls are the same,
        and ``polls`` names it."""
        return f"http://127.0.0.1:{self.port}/via/{caller}"

    def pollers(self, since: float = 0.0) -> set[str]:
        """The callers of getUpdates at or after `since` (the loop's monotonic clock)."""
        return {call.caller for call in self.polls if call.at >= since}

    def release_polls(self) -> None:
        """Makes waiting getUpdates return [] now and later ones at once (stop polling next)."""
        self._closing = True
        self._notify()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def application_builder(self) -> ApplicationBuilder[Any, Any, Any, Any, Any, Any]:
        """An ApplicationBuilder pointed at this fake: token, both base URLs, fast requests.

        It sets ``request``/``get_updates_request``, so PTB refuses the builder's other
        connection settings (read_timeout, connection_pool_size, ...); pass your own instead.
        """
        return (
            ApplicationBuilder()
            .token(self.token)
            .base_url(self.base_url)
            .base_file_url(self.base_file_url)
            .request(self.ptb_request())
            .get_updates_request(self.ptb_request(get_updates=True))
        )

    @staticmethod
    def ptb_request(get_updates: bool = False) -> AiohttpRequest:
        """The adapter's own request, as in production. Unlike PTB's HTTPXRequest (~0.05 s to
        load the CA bundle for each client, two per Application, unless verification was
        turned off) it costs nothing to make: aiohttp loads the CA bundle once per process,
        when it is imported."""
        return AiohttpRequest(connection_pool_size=1 if get_updates else 256)

    # ----------------------------------------------------------------- test-side API

    def push(self, update: JSON, *, redeliver: bool = False) -> JSON:
        """Queues an update for getUpdates (assigning update_id) and returns it; `redeliver`
        sends an update again with its own update_id, as Telegram does after a crash."""
        update = dict(update)
        if not (redeliver and "update_id" in update):
            update["update_id"] = next(self._update_ids)
        self._absorb(update)
        self._pending.append(update)
        self._notify()
        return update

    def fail_next(
        self,
        method: str,
        times: int = 1,
        status: int = 429,
        retry_after: int = 1,
        description: str | None = None,
    ) -> None:
        """Makes the next `times` calls of `method` fail with `status` (429: Too Many Requests)."""
        parameters: JSON | None = None
        if status == 429:
            description = description or f"Too Many Requests: retry after {retry_after}"
            parameters = {"retry_after": retry_after}
        description = description or {
            400: "Bad Request: injected failure",
            401: "Unauthorized",
            403: "Forbidden: bot was kicked from the supergroup chat",
            409: "Conflict: terminated by other getUpdates request; make sure that only one "
                 "bot instance is running",
            502: "Bad Gateway",
        }.get(status, "Internal Server Error")
        failure = _Failure(status, description, parameters, times)
        self._failures.setdefault(method.lower(), []).append(failure)

    def hold(self, method: str, times: int = 1) -> None:
        """Makes the next `times` calls of `method` wait, unanswered and not yet done, until
        `release` (as a request Telegram has not answered yet): kill the bot meanwhile, and
        the call never happened."""
        self._hold[method.lower()] = self._hold.get(method.lower(), 0) + times

    def release(self) -> None:
        """Lets the held calls go on (those whose client went away are dropped)."""
        self._hold.clear()
        self._release.set()
        self._release = asyncio.Event()

    async def wait_held(self, count: int = 1, timeout: float = 10) -> list[JSON]:
        """Waits until `count` calls are being held; returns their params."""
        return await self._wait(lambda: self.held, None, count, timeout, "held")

    async def wait_delivered(self, timeout: float = 10) -> None:
        """Waits until every pushed update was posted to the webhook and answered 200."""
        def done() -> bool:
            return not self._deliverable() and not self._in_flight

        try:
            await self._until(done, timeout)
        except TimeoutError:
            raise AssertionError(
                f"webhook updates not delivered after {timeout}s: waiting "
                f"{[u['update_id'] for u in self._deliverable()]}, last answers "
                f"{self.deliveries[-5:]}") from None

    def set_bot_admin(self, chat_id: int, admin: bool = True) -> None:
        """Makes the bot an administrator of the chat, or a plain member."""
        self._bot_status[chat_id] = "administrator" if admin else "member"

    def set_admin(self, chat_id: int, user: JSON | int, admin: bool = True) -> None:
        """Adds a user to (or removes one from) the chat's administrators."""
        user_id = self._as_user(user)["id"]
        admins = self._admins.setdefault(chat_id, set())
        if admin:
            admins.add(user_id)
        else:
            admins.discard(user_id)

    def add_chat(
        self, chat_id: int, *, chat_type: str = "supergroup", title: str = "Crew",
        user: JSON | None = None,
    ) -> JSON:
        """Makes a chat known (sending to an unknown chat fails as on Telegram); returns it."""
        return self._chat(chat_id, chat_type, title, user)

    # Builders. Each returns an update dict without update_id; pass it to push().

    def user(
        self, id: int, first_name: str, username: str | None = None, *,
        language_code: str | None = None,
    ) -> JSON:
        """A User object (remembered, so getChatMember can describe it)."""
        user: JSON = {"id": id, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self.users[id] = user
        return user

    def message(
        self,
        chat_id: int,
        user: JSON | int,
        text: str,
        *,
        chat_type: str = "supergroup",
        title: str = "Crew",
        reply_to: int | JSON | None = None,
        entities: list[JSON] | None = None,
        message_id: int | None = None,
    ) -> JSON:
        """A "message" update; text starting with "/" gets its bot_command entity."""
        sender = self._as_user(user)
        chat = self._chat(chat_id, chat_type, title, sender)
        if entities is None and text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            entities = [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]
        message = self._new_message(
            chat, sender, text=text, entities=entities, message_id=message_id,
            reply_to=self._lookup_reply(chat["id"], reply_to),
        )
        return {"message": copy.deepcopy(message)}

    def private_message(self, user: JSON | int, text: str, **kwargs: Any) -> JSON:
        """A "message" update in the user's private chat with the bot."""
        sender = self._as_user(user)
        return self.message(sender["id"], sender, text, chat_type="private", **kwargs)

    def callback(self, chat_id: int, user: JSON | int, message_id: int, data: str) -> JSON:
        """A "callback_query" update: the user pressed a button with `data` on a message."""
        sender = self._as_user(user)
        chat = self._known_or_new_chat(chat_id)
        message = self.messages.get((chat["id"], message_id))
        if message is None:
            message = {
                "message_id": message_id, "from": self.bot_user, "chat": chat,
                "date": int(time.time()), "text": "",
            }
        query_id = str(4000000000000000000 + next(self._ids))
        self._open_queries.add(query_id)
        return {"callback_query": {
            "id": query_id, "from": sender, "message": copy.deepcopy(message),
            "chat_instance": str(abs(chat["id"]) * 7 + 11), "data": data,
        }}

    def reaction(
        self,
        chat_id: int,
        user: JSON | int,
        message_id: int,
        old: Iterable[str] = (),
        new: Iterable[str] = (),
    ) -> JSON:
        """A "message_reaction" update: the user's emoji reactions changed from old to new."""
        return {"message_reaction": {
            "chat": self._known_or_new_chat(chat_id),
            "message_id": message_id,
            "user": self._as_user(user),
            "date": int(time.time()),
            "old_reaction": [{"type": "emoji", "emoji": e} for e in old],
            "new_reaction": [{"type": "emoji", "emoji": e} for e in new],
        }}

    def my_chat_member(
        self, chat_id: int, old_status: str, new_status: str, by_user: JSON | int,
    ) -> JSON:
        """A "my_chat_member" update: the bot's own status changed (pushing it applies it)."""
        return {"my_chat_member": {
            "chat": self._known_or_new_chat(chat_id),
            "from": self._as_user(by_user),
            "date": int(time.time()),
            "old_chat_member": member(self.bot_user, old_status),
            "new_chat_member": member(self.bot_user, new_status),
        }}

    def chat_member(
        self, chat_id: int, user: JSON | int, old_status: str, new_status: str, *,
        by_user: JSON | int | None = None, invite_link: str | None = None,
    ) -> JSON:
        """A "chat_member" update: a user's status changed (pushing it updates the admin set);
        `invite_link`: they joined by this link (one createChatInviteLink made), which the
        update carries as Telegram does, and which counts one use against its member_limit."""
        target = self._as_user(user)
        change: JSON = {
            "chat": self._known_or_new_chat(chat_id),
            "from": self._as_user(by_user) if by_user is not None else target,
            "date": int(time.time()),
            "old_chat_member": member(target, old_status),
            "new_chat_member": member(target, new_status),
        }
        if invite_link is not None:
            link = next(k for k in self.invite_links if k["invite_link"] == invite_link)
            link["uses"] = link.get("uses", 0) + 1
            change["invite_link"] = {k: v for k, v in link.items() if k not in ("chat_id", "uses")}
        return {"chat_member": change}

    # Waiting, without sleeps.

    async def wait_sent(
        self, predicate: Predicate | None = None, count: int = 1, timeout: float = 5,
    ) -> list[JSON]:
        """Waits until `count` sendMessage calls match; returns the params of all that match."""
        return await self._wait(lambda: self.sent, predicate, count, timeout, "sendMessage")

    async def wait_answered(
        self, predicate: Predicate | None = None, count: int = 1, timeout: float = 5,
    ) -> list[JSON]:
        """Waits until `count` answerCallbackQuery calls match; returns their params."""
        return await self._wait(
            lambda: self.answered, predicate, count, timeout, "answerCallbackQuery",
        )

    async def wait_call(
        self, method: str, predicate: Predicate | None = None, count: int = 1,
        timeout: float = 5,
    ) -> list[JSON]:
        """Waits until `count` calls of `method` (succeeded or not) match; returns their params."""
        wanted = method.lower()
        return await self._wait(
            lambda: [r.params for r in self.requests if r.method.lower() == wanted],
            predicate, count, timeout, method,
        )

    async def wait_idle(self, timeout: float = 5) -> None:
        """Waits until every pushed update was fetched and confirmed by the next getUpdates.

        PTB puts fetched updates into ``application.update_queue`` before it polls again, so on
        return the handlers have been handed their updates and had a turn of the event loop, but
        one that awaits I/O may still be running: wait for its effect (wait_sent, wait_call), or
        ``await application.update_queue.join()``, which returns once every handler finished.
        Updates whose type the bot's allowed_updates excludes count as done (Telegram drops them).
        """

        def idle() -> bool:
            return self._polls_started > 0 and not self._deliverable()

        try:
            await self._until(idle, timeout)
        except TimeoutError:
            raise AssertionError(
                f"not idle after {timeout}s: polls started={self._polls_started}, "
                f"confirmed offset={self._confirmed_offset}, waiting updates="
                f"{[(u['update_id'], _update_type(u)) for u in self._deliverable()]}"
            ) from None
        for _ in range(5):
            await asyncio.sleep(0)

    # ----------------------------------------------------------------- HTTP

    async def _handle(self, request: web.Request) -> web.Response:
        if self._token is not None and request.match_info["token"] != self._token:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        raw_name = request.match_info["method"]
        entry = self._methods.get(raw_name.lower())
        name = entry[0] if entry else raw_name
        params = await self._read_params(request)
        if name == "getUpdates":
            self.polls.append(PollCall(request.match_info.get("caller", ""),
                                       asyncio.get_running_loop().time()))
        self.calls[name] += 1
        self.requests.append(Request(name, params))
        self._notify()
        try:
            if entry is None:
                raise ApiError(404, "Not Found: method not found")
            self._maybe_fail(name)
            if self._hold.get(name.lower()):
                self._hold[name.lower()] -= 1
                self.held.append(params)
                peer = request.transport.get_extra_info("peername") if request.transport else None
                self.held_from.append(int(peer[1]) if peer else 0)
                self._notify()
                await self._release.wait()
                if request.transport is None or request.transport.is_closing():
                    raise ApiError(502, "Bad Gateway: the client went away")
            windows = self._flood_windows(name, params)
            result = await entry[1](params)
            if windows:  # counted once sent, as Telegram counts what it delivers
                self.sent_times.append(time.monotonic())
            for window in windows:
                window.times.append(self.sent_times[-1])
        except ApiError as error:
            return web.json_response(error.body(), status=error.status)
        except Exception as error:  # a bug in the fake or a request it cannot read: say so
            self.server_errors.append(error)
            failure = ApiError(500, f"Internal Server Error: the fake failed on {name}: {error!r}")
            return web.json_response(failure.body(), status=500)
        finally:
            self._notify()
        return web.json_response({"ok": True, "result": result})

    async def _read_params(self, request: web.Request) -> JSON:
        params: JSON = {k: _decode(k, v) for k, v in request.query.items()}
        if request.method != "POST" or not request.can_read_body:
            return params
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
            return params
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, FileField):
                params[key] = {
                    "filename": value.filename,
                    "content_type": value.content_type,
                    "content": value.file.read(),
                }
            else:
                params[key] = _decode(key, str(value))
        return params

    async def _download(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        for stored in self._files.values():
            if stored.file_path == path:
                return web.Response(body=stored.content)
        return web.json_response(ApiError(404, "Not Found").body(), status=404)

    def _maybe_fail(self, name: str) -> None:
        queue = self._failures.get(name.lower())
        if not queue:
            return
        failure = queue[0]
        failure.left -= 1
        if failure.left <= 0:
            queue.pop(0)
        raise ApiError(failure.status, failure.description, failure.parameters)

    def _flood_windows(self, name: str, params: JSON) -> list[FloodWindow]:
        """The windows a message counts in; raises 429 with retry_after when one is full."""
        if not self.flood_limits or name not in FLOOD_METHODS:
            return []
        windows = [self._overall]
        chat_id = params.get("chat_id")
        if isinstance(chat_id, int) and chat_id < 0:
            windows.append(self._groups.setdefault(chat_id, FloodWindow(*self._per_group)))
        wait = max(window.wait(time.monotonic()) for window in windows)
        if wait > 0:
            self.too_many[name] += 1
            retry = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
        return windows

    def _method_table(self) -> dict[str, Callable[[JSON], Awaitable[Any]]]:
        return {
            "getMe": self._get_me,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setWebhook": self._set_webhook,
            "close": self._true,
            "logOut": self._true,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setMessageReaction": self._set_message_reaction,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "getFile": self._get_file,
            "createChatInviteLink": self._create_chat_invite_link,
        }

    # ----------------------------------------------------------------- methods

    async def _true(self, params: JSON) -> bool:
        return True

    async def _get_me(self, params: JSON) -> JSON:
        return self.bot_user | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _delete_webhook(self, params: JSON) -> bool:
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self.webhook = None
        return True

    async def _set_webhook(self, params: JSON) -> bool:
        url = str(params.get("url") or "")
        if not url:  # Telegram: an empty URL removes the webhook
            return await self._delete_webhook(params)
        if not url.startswith(("https://", "http://127.0.0.1:", "http://localhost:")):
            raise ApiError(400, "Bad Request: bad webhook: HTTPS URL must be provided for "
                                "webhook")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self.allowed_updates = allowed
            self._allowed_filter = frozenset(allowed) if allowed else None
        self.webhook = {"url": url, "secret_token": params.get("secret_token"),
                        "max_connections": int(params.get("max_connections") or 40),
                        "allowed_updates": allowed}
        for poll in self._polls:  # a waiting getUpdates ends with a conflict
            poll.superseded = True
        if self._deliverer is None or self._deliverer.done():
            self._deliverer = asyncio.create_task(self._deliver_webhook())
        return True

    async def _get_webhook_info(self, params: JSON) -> JSON:
        pending = len(self._deliverable())
        info: JSON = {"url": self.webhook["url"] if self.webhook else "",
                      "has_custom_certificate": False, "pending_update_count": pending}
        if self.webhook:
            info["max_connections"] = self.webhook["max_connections"]
            if self.webhook["allowed_updates"] is not None:
                info["allowed_updates"] = self.webhook["allowed_updates"]
        failed = [d for d in self.deliveries if d.status != 200]
        if failed:
            info["last_error_message"] = str(failed[-1].status)
        return info

    # Webhook delivery, as Telegram does it: POST each update with the secret header, retry
    # one that got no 200 (an error status, a refused or broken connection, a timeout) later;
    # one chat's updates one at a time, in order; at most max_connections at once.

    async def _deliver_webhook(self) -> None:
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()
        try:
            while self.webhook is not None and not self._closing:
                now = loop.time()
                busy = {_chat_key(u) for u in self._pending
                        if u["update_id"] in self._in_flight}
                for update in self._deliverable():
                    if len(self._in_flight) >= self.webhook["max_connections"]:
                        break
                    chat = _chat_key(update)
                    update_id = update["update_id"]
                    if (update_id in self._in_flight or chat in busy
                            or self._retry_at.get(update_id, 0) > now):
                        busy.add(chat)  # later updates of this chat wait for this one
                        continue
                    busy.add(chat)
                    self._in_flight.add(update_id)
                    task = asyncio.create_task(self._post_update(update))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                waits = [t - now for t in self._retry_at.values() if t > now]
                # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancel
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(waits, default=1.0)):
                        await self._changed.wait()
        finally:
            for task in tasks:
                task.cancel()

    async def _post_update(self, update: JSON) -> None:
        assert self.webhook is not None
        update_id = update["update_id"]
        headers = {"Content-Type": "application/json"}
        if self.webhook["secret_token"]:
            headers["X-Telegram-Bot-Api-Secret-Token"] = str(self.webhook["secret_token"])
        if self._http is None:
            self._http = aiohttp.ClientSession()
        status: int | str
        try:
            async with self._http.post(
                self.webhook["url"], data=json.dumps(update), headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as response:
                status = response.status
                await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            status = type(error).__name__
        self.deliveries.append(Delivery(update_id, status))
        self._in_flight.discard(update_id)
        if status == 200:
            self._pending = [u for u in self._pending if u["update_id"] != update_id]
            self._retry_at.pop(update_id, None)
        else:
            self._attempts[update_id] += 1
            delay = min(self.webhook_retry * 2 ** (self._attempts[update_id] - 1), 2.0)
            self._retry_at[update_id] = asyncio.get_running_loop().time() + delay
        self._notify()

    async def _get_updates(self, params: JSON) -> list[JSON]:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is "
                                "active; use deleteWebhook to delete the webhook first")
        offset = params.get("offset")
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        if "allowed_updates" in params:
            allowed = params["allowed_updates"]
            allowed = list(allowed) if isinstance(allowed, list) else []
            self.allowed_updates = allowed
            self._allowed_filter = frozenset(allowed) if allowed else None
        if isinstance(offset, int):
            self._confirm(offset)
        poll = _Poll()
        for other in self._polls:  # Telegram ends the older request with 409 Conflict.
            other.superseded = True
        self._polls.append(poll)
        self._polls_started += 1
        self._notify()
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            while True:
                if poll.superseded:
                    self.conflicts += 1
                    raise ApiError(409, "Conflict: terminated by other getUpdates request; "
                                        "make sure that only one bot instance is running")
                if self._closing:
                    return []
                batch = self._deliverable()[:limit]
                if batch:
                    return copy.deepcopy(batch)
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    return []
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)
        finally:
            self._polls.remove(poll)

    async def _send_message(self, params: JSON) -> JSON:
        chat = self._target_chat(params)
        text = params.get("text")
        text = "" if text is None else str(text)
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if _utf16_len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        message = self._new_message(
            chat, self.bot_user, text=text, entities=params.get("entities"),
            reply_markup=params.get("reply_markup"), reply_to=self._reply_target(chat, params),
        )
        self.sent.append(params)
        self.sent_messages.append(copy.deepcopy(message))
        return copy.deepcopy(message)

    async def _edit_message_text(self, params: JSON) -> JSON:
        message = self._editable(params)
        text = params.get("text")
        text = "" if text is None else str(text)
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if _utf16_len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        # Like Telegram: an edit without reply_markup removes the message's inline keyboard.
        markup = self._inline_markup(params.get("reply_markup"))
        if text == message.get("text") and markup == message.get("reply_markup"):
            raise self._not_modified()
        message["text"] = text
        message.pop("entities", None)
        if params.get("entities"):
            message["entities"] = params["entities"]
        self._set_markup(message, markup)
        message["edit_date"] = int(time.time())
        self.edited.append(params)
        return copy.deepcopy(message)

    async def _edit_message_reply_markup(self, params: JSON) -> JSON:
        message = self._editable(params)
        markup = self._inline_markup(params.get("reply_markup"))
        if markup == message.get("reply_markup"):
            raise self._not_modified()
        self._set_markup(message, markup)
        message["edit_date"] = int(time.time())
        self.edited.append(params)
        return copy.deepcopy(message)

    async def _delete_message(self, params: JSON) -> bool:
        chat = self._resolve_chat(params.get("chat_id"))
        key = (chat["id"], _message_id(params.get("message_id")))
        message = self.messages.get(key)
        if message is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        is_own = message.get("from", {}).get("id") == self.bot_user["id"]
        if not is_own and chat["type"] in GROUP_TYPES and not self._bot_is_admin(chat["id"]):
            raise ApiError(400, "Bad Request: message can't be deleted")
        del self.messages[key]
        self.deleted.append(params)
        return True

    async def _answer_callback_query(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id"))
        if query_id not in self._open_queries:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired "
                                "or query ID is invalid")
        self._open_queries.discard(query_id)
        self.answered.append(params)
        return True

    async def _set_my_commands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            name = str(command.get("command", ""))
            description = str(command.get("description", ""))
            valid = 1 <= len(name) <= 32 and all(c.islower() or c.isdigit() or c == "_"
                                                 for c in name) and name.isascii()
            if not valid:
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        key = _scope_key(params.get("scope"), params.get("language_code"))
        if commands:
            self.commands[key] = commands
        else:
            self.commands.pop(key, None)
        return True

    async def _get_my_commands(self, params: JSON) -> list[JSON]:
        key = _scope_key(params.get("scope"), params.get("language_code"))
        return copy.deepcopy(self.commands.get(key, []))

    async def _delete_my_commands(self, params: JSON) -> bool:
        self.commands.pop(_scope_key(params.get("scope"), params.get("language_code")), None)
        return True

    async def _set_message_reaction(self, params: JSON) -> bool:
        chat = self._resolve_chat(params.get("chat_id"))
        reaction = params.get("reaction") or []
        if len(reaction) > 1:  # bots may set one reaction per message
            raise ApiError(400, "Bad Request: REACTIONS_TOO_MANY")
        for item in reaction:
            # PTB turns a str that is not a ReactionEmoji into a custom emoji with that "id".
            emoji_ok = item.get("type") == "emoji" and item.get("emoji") in REACTION_EMOJI
            custom_ok = item.get("type") == "custom_emoji" and str(
                item.get("custom_emoji_id", "")).isdigit()
            if not (emoji_ok or custom_ok):
                raise ApiError(400, "Bad Request: REACTION_INVALID")
        if (chat["id"], _message_id(params.get("message_id"))) not in self.messages:
            raise ApiError(400, "Bad Request: message to react not found")
        self.bot_reactions.append(params)
        return True

    async def _get_chat(self, params: JSON) -> JSON:
        chat = self._resolve_chat(params.get("chat_id"))
        return chat | {
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
                "premium_subscription": False, "gifts_from_channels": False,
            },
        }

    async def _get_chat_member(self, params: JSON) -> JSON:
        chat = self._resolve_chat(params.get("chat_id"))
        user_id = params.get("user_id")
        if user_id == self.bot_user["id"]:
            return member(self.bot_user, self._bot_status.get(chat["id"], "member"))
        if not isinstance(user_id, int):
            raise ApiError(400, "Bad Request: invalid user_id specified")
        user = self.users.get(user_id) or {
            "id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        admin = user_id in self._admins.get(chat["id"], set())
        return member(user, "administrator" if admin else "member")

    async def _get_chat_administrators(self, params: JSON) -> list[JSON]:
        chat = self._resolve_chat(params.get("chat_id"))
        if chat["type"] == "private":
            raise ApiError(400, "Bad Request: there are no administrators in the private chat")
        admins = [member(self._as_user(uid), "administrator")
                  for uid in sorted(self._admins.get(chat["id"], set()))]
        if self._bot_is_admin(chat["id"]):
            admins.append(member(self.bot_user, "administrator"))
        return admins

    async def _send_document(self, params: JSON) -> JSON:
        return self._send_file(params, "sendDocument", "document")

    async def _send_photo(self, params: JSON) -> JSON:
        return self._send_file(params, "sendPhoto", "photo")

    async def _create_chat_invite_link(self, params: JSON) -> JSON:
        """An additional invite link to a group, which only an admin bot may make (Telegram
        needs the can_invite_users right); recorded in ``invite_links``."""
        chat = self._target_chat(params)
        if chat["type"] == "private":
            raise ApiError(400, "Bad Request: can't invite members to a private chat")
        if not self._bot_is_admin(chat["id"]):
            raise ApiError(400, "Bad Request: not enough rights to manage chat invite link")
        limit = params.get("member_limit")
        if limit is not None and not (isinstance(limit, int) and 1 <= limit <= 99999):
            raise ApiError(400, "Bad Request: invalid member limit")
        link: JSON = {
            "invite_link": f"https://t.me/+fake{next(self._ids):06d}",
            "creator": self.bot_user, "creates_join_request": False, "is_primary": False,
            "is_revoked": False, "chat_id": chat["id"],
        }
        for key in ("name", "expire_date", "member_limit"):
            if params.get(key) is not None:
                link[key] = params[key]
        self.invite_links.append(link)
        return {k: v for k, v in link.items() if k != "chat_id"}

    async def _get_file(self, params: JSON) -> JSON:
        stored = self._files.get(str(params.get("file_id")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content), "file_path": stored.file_path,
        }

    # ----------------------------------------------------------------- helpers

    def _notify(self) -> None:
        """Wakes every waiter (long polls and wait_*), which then re-check their condition."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _until(self, condition: Callable[[], bool], timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                await self._changed.wait()

    async def _wait(
        self,
        source: Callable[[], list[JSON]],
        predicate: Predicate | None,
        count: int,
        timeout: float,
        what: str,
    ) -> list[JSON]:
        def matching() -> list[JSON]:
            return [p for p in source() if predicate is None or predicate(p)]

        try:
            await self._until(lambda: len(matching()) >= count, timeout)
        except TimeoutError:
            seen = "\n".join(f"  {p!r}" for p in source()) or "  (none)"
            failed = [r for r in self.requests if r.method.lower() == what.lower()]
            raise AssertionError(
                f"timed out after {timeout}s waiting for {count} {what} call(s) matching "
                f"{predicate!r}; got {len(matching())}. Recorded {what} calls:\n{seen}\n"
                f"({len(failed)} {what} request(s) received in all; calls: {dict(self.calls)})"
            ) from None
        return matching()

    def _allowed(self, update_type: str) -> bool:
        if self._allowed_filter is None:
            return update_type not in NOT_BY_DEFAULT
        return update_type in self._allowed_filter

    def _deliverable(self) -> list[JSON]:
        return [u for u in self._pending if self._allowed(_update_type(u))]

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            self._pending = self._pending[offset:]
            return
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
            self._confirmed_offset = max(self._confirmed_offset, offset)

    def _absorb(self, update: JSON) -> None:
        """Learns chats, users and messages from a pushed update; applies membership changes."""
        kind = _update_type(update)
        body = update.get(kind)
        if not isinstance(body, dict):
            return
        if kind == "callback_query" and isinstance(body.get("message"), dict):
            self._remember_message(body["message"])
        elif kind in ("message", "edited_message", "channel_post"):
            self._remember_message(body)
        for key in ("from", "user"):
            if isinstance(body.get(key), dict):
                self.users.setdefault(body[key]["id"], body[key])
        if isinstance(body.get("chat"), dict):
            self.chats.setdefault(body["chat"]["id"], body["chat"])
        if kind in ("my_chat_member", "chat_member"):
            chat_id = body["chat"]["id"]
            new = body["new_chat_member"]
            if kind == "my_chat_member":
                self._bot_status[chat_id] = new["status"]
            else:
                self.set_admin(chat_id, new["user"], new["status"] in ADMIN_STATUSES)

    def _remember_message(self, message: JSON) -> None:
        chat_id = message["chat"]["id"]
        self.chats.setdefault(chat_id, message["chat"])
        self.messages.setdefault((chat_id, message["message_id"]), copy.deepcopy(message))
        following = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = max(following, message["message_id"] + 1)

    def _as_user(self, user: JSON | int) -> JSON:
        if isinstance(user, dict):
            self.users.setdefault(user["id"], user)
            return user
        return self.users.get(user) or {"id": user, "is_bot": False, "first_name": f"User {user}"}

    def _chat(self, chat_id: int, chat_type: str, title: str, user: JSON | None) -> JSON:
        if chat_type == "private":
            who = user if user is not None and user["id"] == chat_id else self._as_user(chat_id)
            chat: JSON = {"id": chat_id, "type": "private", "first_name": who["first_name"]}
            if who.get("username"):
                chat["username"] = who["username"]
        else:
            chat = {"id": chat_id, "type": chat_type, "title": title}
        self.chats[chat_id] = chat
        return chat

    def _known_or_new_chat(self, chat_id: int) -> JSON:
        return self.chats.get(chat_id) or self._chat(chat_id, "supergroup", "Crew", None)

    def _resolve_chat(self, chat_id: Any) -> JSON:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            for chat in self.chats.values():
                if chat.get("username") == chat_id[1:]:
                    return chat
        elif isinstance(chat_id, int) and chat_id in self.chats:
            return self.chats[chat_id]
        elif isinstance(chat_id, int) and chat_id in self.users:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        raise ApiError(400, "Bad Request: chat not found")

    def _target_chat(self, params: JSON) -> JSON:
        chat = self._resolve_chat(params.get("chat_id"))
        status = self._bot_status.get(chat["id"], "member")
        if status == "kicked":
            if chat["type"] == "private":
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            raise ApiError(403, f"Forbidden: bot was kicked from the {chat['type']} chat")
        if status == "left":
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat['type']} chat")
        return chat

    def _bot_is_admin(self, chat_id: int) -> bool:
        return self._bot_status.get(chat_id) in ADMIN_STATUSES

    def _new_message(
        self,
        chat: JSON,
        sender: JSON,
        *,
        text: str | None = None,
        entities: list[JSON] | None = None,
        reply_markup: Any = None,
        reply_to: JSON | None = None,
        message_id: int | None = None,
    ) -> JSON:
        chat_id = chat["id"]
        if message_id is None:
            message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = max(self._next_message_id.get(chat_id, 1),
                                             message_id + 1)
        message: JSON = {
            "message_id": message_id, "from": sender, "chat": chat, "date": int(time.time()),
        }
        if text is not None:
            message["text"] = text
        if entities:
            message["entities"] = entities
        self._set_markup(message, self._inline_markup(reply_markup))
        if reply_to is not None:
            message["reply_to_message"] = {
                k: v for k, v in reply_to.items() if k != "reply_to_message"}
        self.messages[(chat_id, message_id)] = message
        return message

    @staticmethod
    def _inline_markup(markup: Any) -> JSON | None:
        """Telegram echoes only inline keyboards in Message.reply_markup (PTB expects one)."""
        if isinstance(markup, dict) and markup.get("inline_keyboard"):
            return markup
        return None

    @staticmethod
    def _set_markup(message: JSON, markup: JSON | None) -> None:
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup

    @staticmethod
    def _not_modified() -> ApiError:
        return ApiError(400, "Bad Request: message is not modified: specified new message "
                             "content and reply markup are exactly the same as a current "
                             "content and reply markup of the message")

    def _lookup_reply(self, chat_id: int, reply_to: int | JSON | None) -> JSON | None:
        if reply_to is None or isinstance(reply_to, dict):
            return reply_to
        return self.messages.get((chat_id, reply_to)) or {
            "message_id": reply_to, "chat": self.chats[chat_id], "date": int(time.time()),
        }

    def _reply_target(self, chat: JSON, params: JSON) -> JSON | None:
        reply = params.get("reply_parameters")
        if not isinstance(reply, dict):
            if params.get("reply_to_message_id") is None:
                return None
            reply = {
                "message_id": params["reply_to_message_id"],
                "allow_sending_without_reply": params.get("allow_sending_without_reply"),
            }
        target_chat = chat
        if reply.get("chat_id") is not None:
            target_chat = self._resolve_chat(reply["chat_id"])
        found = self.messages.get((target_chat["id"], _message_id(reply.get("message_id"))))
        if found is None and not reply.get("allow_sending_without_reply"):
            raise ApiError(400, "Bad Request: message to be replied not found")
        return found

    def _editable(self, params: JSON) -> JSON:
        if params.get("inline_message_id") is not None:
            raise ApiError(400, "Bad Request: inline messages are not supported by the fake")
        chat = self._resolve_chat(params.get("chat_id"))
        message = self.messages.get((chat["id"], _message_id(params.get("message_id"))))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if message.get("from", {}).get("id") != self.bot_user["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _send_file(self, params: JSON, method: str, kind: str) -> JSON:
        chat = self._target_chat(params)
        caption = params.get("caption")
        if caption is not None and _utf16_len(str(caption)) > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        media = params.get(kind)
        if media is None:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        number = next(self._ids)
        upload: JSON = {"method": method, "chat_id": chat["id"], "field": kind,
                        "filename": None, "content": None, "content_type": None,
                        "params": params}
        if isinstance(media, dict):  # a multipart upload
            upload.update(media)
            stored = _Stored(f"FAKE-{kind.upper()}-{number}", f"U{number}",
                             f"{kind}s/file_{number}", media["content"])
            self._files[stored.file_id] = stored
        else:  # a file_id or URL given as a string
            known = self._files.get(str(media))
            stored = known or _Stored(str(media), f"U{number}", f"{kind}s/file_{number}", b"")
        self.uploads.append(upload)
        message = self._new_message(
            chat, self.bot_user, reply_markup=params.get("reply_markup"),
            reply_to=self._reply_target(chat, params),
        )
        if caption:
            message["caption"] = str(caption)
        info: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                      "file_size": len(stored.content)}
        if kind == "photo":
            message["photo"] = [info | {"width": 1, "height": 1}]
        else:
            message["document"] = info | {
                "file_name": upload["filename"] or "document",
                "mime_type": upload["content_type"] or "application/octet-stream",
            }
        return copy.deepcopy(message)
