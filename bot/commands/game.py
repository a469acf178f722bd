"""The core's one entry point: events in, messages out; scheduled work; the outbox."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot.commands import care, congregations, coowners, listening, meetings, money
from bot.commands.board import drawn_now
from bot.commands.context import Context, NotCounted, Refusal
from bot.commands.due import WORK
from bot.commands.entries import tallied_meetings
from bot.commands.events import (
    ButtonPressed,
    Chat,
    CommandReceived,
    Event,
    ItemRef,
    MemberLeft,
    Message,
    Post,
    ReactionChanged,
    say,
    scrubbed,
)
from bot.commands.ledger import post
from bot.commands.registry import load, unknown_command
from bot.commands.store import Store
from bot.commands.throttle import WINDOW, Throttle, Throttled
from bot.rules import settings as crew_settings
from bot.rules.model import Crew, Due, LedgerEntry, Member
from bot.rules.numbers import is_number
from bot.rules.settings import SETTINGS
from bot.rules.text import MAX_TEXT

log = logging.getLogger("crewbot.game")

SWEET_SPOT = 8
RETRIES = 3
OUTBOX_BATCH = 100
# Due items per transaction: fewer commits, yet a short hold on SQLite's write lock.
DUE_CHUNK = 25
LINKED_KINDS = {"checkin", "offer", "venture", "meeting", "ask", "money", "conflict"}
BUTTON_CODES = {"l": "checkin", "t": "offer", "h": "meeting", "a": "conflict", "c": "venture",
                "p": "pass", "k": "knock", "n": "knock_declined"}
BUTTON_LABELS = {"checkin": listening.LISTENED, "offer": money.THANK_YOU,
                 "meeting": meetings.HERE, "conflict": "Accept", "venture": coowners.CONFIRM}
DEFAULT_TIMEZONE = str(SETTINGS["timezone"].default)
APOLOGY = "Sorry, something went wrong on my side and nothing was changed. Please try again."
NOT_A_TARGET = ("That message is not a check-in or a meeting's attendance post, so the reaction "
                "changes nothing.")


class Replies(list[Message]):
    """The messages answering an event, and `note`: why it changed nothing. Only the console
    shows the note; the platforms stay silent about a reaction that does not count. `kept`:
    they are stored with the event until `Game.replies_sent` (see `Game.handle`)."""

    def __init__(self, messages: Iterable[Message] = (), note: str = "",
                 kept: bool = False) -> None:
        super().__init__(messages)
        self.note = note
        self.kept = kept


def kept_json(message: Message) -> dict:
    """A reply as stored with its event: a picture that can be drawn again is kept as its
    recipe only."""
    attachment = message.attachment
    if attachment is not None and attachment.recipe is not None:
        message = replace(message, attachment=replace(attachment, data=b""))
    return {**message.to_json(), "private": message.private}


def from_kept(data: dict) -> Message:
    return replace(Message.from_json(data), private=bool(data.get("private")))


@dataclass(frozen=True)
class CrewExport:
    crew: Crew
    members: list[Member]
    totals: dict[int, dict[int, int]]
    ledger: list[LedgerEntry]
    meetings: dict[int, datetime] = field(default_factory=dict)  # tallied: id -> start, for words


class Game:
    """The Reciprocity Game for every crew; adapters call it, it calls the store."""

    def __init__(self, uow: Callable[[], AbstractAsyncContextManager[Store]],
                 clock: Callable[[], datetime], default_timezone: str = DEFAULT_TIMEZONE) -> None:
        self.uow = uow
        self.clock = clock
        self.default_timezone = default_timezone  # each new crew's (CREWBOT_DEFAULT_TIMEZONE)
        self.commands = load()
        self.throttle = Throttle()
        # This process, as the sender of the replies it keeps (storage/instance.py may give
        # it another number, one no running process has).
        self.holder = secrets.randbelow(2**31 - 2) + 1

    async def handle(self, event: Event, keep: dict | None = None) -> list[Message]:
        """Handles one event in one transaction; a lost race is retried, a crash apologised for.

        With `keep` (what the adapter needs to send them again, such as the message to reply
        to), the replies of an event with an id are stored in its transaction, and the caller
        sends them and then calls `replies_sent`: an event redelivered after a crash between
        the commit and the sending returns those replies (once, from whichever process gets
        it first), and one redelivered after they went returns none."""
        event = scrubbed(event)
        kind = type(event).__name__
        started = time.perf_counter()
        for attempt in range(1, RETRIES + 1):
            now = self.clock()
            try:
                async with self.uow() as store:
                    since = None
                    try:
                        # The crew and the acting (or leaving) member's row come with the dedupe.
                        user_id = (event.user_id if isinstance(event, MemberLeft)
                                   else event.actor.user_id)
                        since = self.throttle.since(event, now)
                        fresh, crew, member, window = await store.arrival(
                            event.chat.platform, event.event_id, now, event.chat.chat_id, user_id,
                            since)
                        if not fresh:
                            log_event(event, "duplicate", started, self.commands)
                            # nothing of the arrival stays: a redelivery is no second command
                            # for the rate limit (its statement counted one)
                            await store.rollback()
                            return await self._unsent(store, event, keep)
                        try:
                            messages = await self._dispatch(store, event, now, crew, member,
                                                            window)
                        except NotCounted as why:
                            messages = Replies(note=str(why))
                        messages = await self._keep(store, event, keep, messages, now)
                        await store.commit()
                        log_event(event, "ok", started, self.commands)
                        return messages
                    except Refusal as refusal:
                        await store.rollback()
                        said: list[Message] = [Message((str(refusal),), private=True)]
                        if event.event_id:  # redelivered, a refusal is not said twice
                            await store.first_seen(event.chat.platform, event.event_id, now,
                                                   event.chat.chat_id)
                            said = await self._keep(store, event, keep, said, now)
                        if since is not None and not isinstance(refusal, Throttled):
                            # a refused command still counts towards the limit
                            await store.count_command(event.chat.platform, event.chat.chat_id,
                                                      event.actor.user_id, now, since)
                        await store.commit()
                        log_event(event, "refused", started, self.commands)
                        return said
                    except Exception as error:
                        await store.rollback()
                        if attempt < RETRIES and store.retryable(error):
                            log.debug("event=%s chat=%s outcome=retry", kind, event.chat.chat_id)
                            continue
                        log_event(event, "error", started, self.commands, error)
                        return [Message((APOLOGY,), private=True)]
            except Exception as error:  # the database was out of reach (connect or rollback)
                if attempt < RETRIES:
                    continue
                log_event(event, "error", started, self.commands, error)
                return [Message((APOLOGY,), private=True)]
        raise AssertionError("unreachable")

    async def _keep(self, store: Store, event: Event, keep: dict | None,
                    messages: list[Message], now: datetime) -> list[Message]:
        if keep is None or not event.event_id or not messages:
            return messages
        payload = {**keep, "messages": [kept_json(m) for m in messages]}
        await store.outbox.keep_replies(event.chat.platform, event.event_id, event.chat.chat_id,
                                        payload, self.holder, now)
        return Replies(messages, getattr(messages, "note", ""), kept=True)

    async def _unsent(self, store: Store, event: Event, keep: dict | None) -> list[Message]:
        """The replies of a redelivered event that never went out, if their sender ended."""
        if keep is None or not event.event_id:
            return []
        payload = await store.outbox.claim_replies(event.chat.platform, event.event_id,
                                                   self.holder)
        await store.commit()
        if payload is None:
            return []
        log.info("event=%s crew=%s outcome=unsent_replies", type(event).__name__,
                 event.chat.chat_id)
        return Replies([self._drawn(0, from_kept(m)) for m in payload["messages"]], kept=True)

    async def replies_sent(self, platform: str, event_id: str) -> None:
        """The kept replies of the event went out (or were handed to the outbox)."""
        async with self.uow() as store:
            await store.outbox.replies_sent(platform, event_id)
            await store.commit()

    async def stale_replies(self, platform: str) -> list[tuple[str, Chat, dict, list[Message]]]:
        """Kept replies whose sender ended before sending them, now this process's to send:
        (event id, chat, what was kept with them, the messages)."""
        async with self.uow() as store:
            rows = await store.outbox.stale_replies(platform, self.holder)
            await store.commit()
        return [(event_id, Chat(platform, chat_id), payload,
                 [self._drawn(0, from_kept(m)) for m in payload["messages"]])
                for event_id, chat_id, payload in rows]

    async def _dispatch(self, store: Store, event: Event, now: datetime, crew: Crew | None,
                        member: Member | None, window: tuple[datetime, int] | None
                        ) -> list[Message]:
        if crew is None and isinstance(event, CommandReceived):
            lobby = await self._lobby(store, event, now, window)
            if lobby is not None:
                return lobby
        if crew is None:
            if isinstance(event, ReactionChanged):
                raise NotCounted(NOT_A_TARGET)
            if isinstance(event, MemberLeft):
                return []
            crew = await store.crews.add_crew(event.chat.platform, event.chat.chat_id,
                                              event.chat.title or event.chat.chat_id, now)
            await store.hold_crew(crew.id)
            crew = await self._default_timezone(store, crew)
        if window is not None:
            self.throttle.check(window, crew_settings.effective(crew.settings)["rate_limit"], now)
        if isinstance(event, CommandReceived):
            return await self._command(store, crew, member, event, now)
        if isinstance(event, ReactionChanged):
            return await self._reaction(store, crew, member, event, now)
        if isinstance(event, ButtonPressed):
            return await self._button(store, crew, member, event, now)
        return await self._left(store, crew, member, event, now)

    async def _lobby(self, store: Store, event: CommandReceived, now: datetime,
                     window: tuple[datetime, int] | None) -> list[Message] | None:
        """A command in a congregation's lobby (a chat that is no crew), or the one that makes
        the chat a lobby; None for a chat that is neither, which then becomes a crew."""
        text = event.text.strip()
        lobby = await store.congregations.lobby(event.chat.platform, event.chat.chat_id)
        if lobby is None and not congregations.is_lobby_command(text):
            return None
        if not text.startswith("/"):
            return []
        if window is not None:
            self.throttle.check(window, int(SETTINGS["rate_limit"].default), now)
        head, _, args = text.partition(" ")
        name = head[1:].split("@", 1)[0].lower()
        if name not in self.commands:
            raise Refusal(unknown_command(name))
        found = await store.congregations.congregation(lobby.congregation_id) if lobby else None
        call = congregations.LobbyCall(store, found, event.chat, event.actor, now)
        return await congregations.in_lobby(call, name, args.strip())

    async def _default_timezone(self, store: Store, crew: Crew) -> Crew:
        """A new crew starts in the operator's default time zone, stored so that changing the
        default later leaves existing crews where they are."""
        if "timezone" in crew.settings or self.default_timezone == DEFAULT_TIMEZONE:
            return crew
        settings = {**crew.settings, "timezone": self.default_timezone}
        await store.crews.update_crew(crew.id, settings=settings)
        return replace(crew, settings=settings)

    async def _context(self, store: Store, crew: Crew, member: Member | None, event: Any,
                       now: datetime, command: str = "", args: str = "", join: bool = True
                       ) -> tuple[Context, list[Message]]:
        actor = event.actor
        # A platform that does not say the name (a removed reaction) keeps the one we know.
        name = " ".join(actor.name.split())[:100] or (member.name if member else actor.user_id)
        notes: list[Message] = []
        handle = actor.handle[:64] if actor.handle else None
        joined = member is None or not member.active
        if joined or (member.name, member.handle) != (name, handle):
            if member is None and not join:
                raise Refusal(f"{name}, join the crew with /join first so that counts.")
            if member is None:
                member = await store.crews.add_member(crew.id, actor.user_id, name, now, handle)
            else:
                await store.crews.update_member(member.id, active=True, name=name, handle=handle)
                member = await store.crews.member_by_id(member.id)
            if joined:
                notes = await self._size_note(store, crew)
                await congregations.person_joined(store, crew, actor.user_id, now)
        is_admin = actor.is_admin
        if is_admin is None:
            is_admin = await store.crews.founder(crew.id) == member.id
        ctx = Context(store=store, crew=crew, member=member, actor=actor, is_admin=is_admin,
                      now=now, command=command, args=args, joined=joined,
                      space=event.chat.space)
        return ctx, notes

    async def _size_note(self, store: Store, crew: Crew) -> list[Message]:
        roster = await store.crews.roster(crew.id)
        if len(roster) <= SWEET_SPOT or crew.size_warned:
            return []
        await store.crews.update_crew(crew.id, size_warned=True)
        return [say(f"This crew now has {len(roster)} members. The bot works at any size, but the "
                    "sweet spot is 5 to 8: small enough for everyone to hear everyone.")]

    async def _command(self, store: Store, crew: Crew, member: Member | None,
                       event: CommandReceived, now: datetime) -> list[Message]:
        text = event.text.strip()
        if not text.startswith("/"):
            return []
        head, _, args = text.partition(" ")
        name = head[1:].split("@", 1)[0].lower()
        command = self.commands.get(name)
        if command is None:
            raise Refusal(unknown_command(name))
        if len(args) > MAX_TEXT + 200:
            raise Refusal(f"That message is too long ({len(args)} characters); texts are limited "
                          f"to {MAX_TEXT}. Please shorten it.")
        ctx, notes = await self._context(store, crew, member, event, now, name, args.strip())
        if event.reply_to:
            ctx.reply_to, ctx.reply_favour = await store.favours.linked_favour(crew.id,
                                                                               event.reply_to)
        for actor in event.mentions:
            ctx.mentions.setdefault(actor.name, actor)
            ctx.mentions.setdefault(actor.name.lower(), actor)
        messages = await command.handler(ctx)
        if event.message_id:
            for message in messages:
                if message.ref and message.ref.kind in LINKED_KINDS:
                    await store.outbox.link(crew.id, event.message_id, message.ref.kind,
                                            message.ref.id, event.actor.user_id)
                    break
        return messages + notes

    async def _reaction(self, store: Store, crew: Crew, member: Member | None,
                        event: ReactionChanged, now: datetime) -> list[Message]:
        link, found = await store.circles.linked_checkin(crew.id, event.message_id)
        if link is None or link.kind not in ("checkin", "meeting"):
            raise NotCounted(NOT_A_TARGET)
        if member is None or not member.active:
            if not event.added:
                raise NotCounted(f"{event.actor.name[:100]} is not in this crew, so taking back "
                                 "the reaction changes nothing.")
            raise Refusal(f"{event.actor.name[:100]}, join the crew with /join first so that your "
                          "reaction counts.")
        ctx, _ = await self._context(store, crew, member, event, now)
        if link.kind == "checkin":
            if not listening.emoji_counts(crew, event.emoji):
                allowed = " ".join(crew_settings.effective(crew.settings)["listening_emoji"])
                raise NotCounted(f"{event.emoji[:16]} is not one of this crew's listening emoji "
                                 f"({allowed}), so it changes nothing. React with one of them or "
                                 f"press \u201c{listening.LISTENED}\u201d.")
            return await listening.confirm_found(ctx, found, f"emoji:{event.emoji}",
                                                 event.added)
        if not event.added:
            raise NotCounted("Taking back a reaction does not change who was at the meeting.")
        return await meetings.attend(ctx, link.item_id, "reaction")

    async def _button(self, store: Store, crew: Crew, member: Member | None,
                      event: ButtonPressed, now: datetime) -> list[Message]:
        ref = await self._button_target(store, crew, event)
        if ref.kind == "pass":
            return care.passed()
        ctx, notes = await self._context(store, crew, member, event, now)
        if ref.kind in ("knock", "knock_declined"):
            return await congregations.answer(ctx, ref.id, ref.kind == "knock") + notes
        if ref.kind == "checkin":
            result = await listening.confirm(ctx, ref.id, "button", True)
        elif ref.kind == "offer":
            result = await money.thank(ctx, await store.favours.favour(ref.id))
        elif ref.kind == "meeting":
            result = await meetings.attend(ctx, ref.id, "button")
        elif ref.kind == "conflict":
            from bot.commands.conflicts import accept

            item = await store.conflicts.conflict(ref.id)
            if item is None or item.crew_id != crew.id:
                raise Refusal("That conflict is not in this crew. Use the buttons on this "
                              "chat's own messages.")
            result = await accept(ctx, item)
        else:
            venture = await store.ventures.venture(ref.id)
            if venture is None or venture.crew_id != crew.id:
                raise Refusal("That venture is not in this crew. Use the buttons on this "
                              "chat's own messages.")
            result = await coowners.confirm(ctx, venture)
        return result + notes

    async def _button_target(self, store: Store, crew: Crew, event: ButtonPressed) -> ItemRef:
        if event.action:
            code, _, number = event.action.partition(":")
            if code in BUTTON_CODES and is_number(number):
                return ItemRef(BUTTON_CODES[code], int(number))
            raise Refusal("That button is not one of mine. Use the buttons on my messages, or "
                          "type the command instead (/help lists them).")
        link = await store.outbox.linked(crew.id, event.message_id or "")
        if link is None or not has_label(link.kind, event.label or ""):
            raise Refusal(f"That message has no \u201c{event.label}\u201d button. Press a "
                          "button on my messages, or type the command instead (/help lists "
                          "them).")
        return ItemRef(link.kind, link.item_id)

    async def button_on(self, chat: Chat, message_id: str, label: str) -> bool:
        """Whether pressing `label` on this message reaches an item: a member's command message
        stands for the button of the bot's reply to it (the console's presses by label)."""
        async with self.uow() as store:
            crew = await store.crews.crew(chat.platform, chat.chat_id)
            link = await store.outbox.linked(crew.id, message_id) if crew else None
        return link is not None and has_label(link.kind, label)

    async def _left(self, store: Store, crew: Crew, member: Member | None, event: MemberLeft,
                    now: datetime) -> list[Message]:
        if member is None or not member.active:
            return []
        await store.crews.update_member(member.id, active=False)
        circle = await store.circles.open_circle(crew.id)
        return await listening.settle(store, crew, circle, now, False) if circle else []

    # scheduled work

    async def latest_time(self) -> datetime | None:
        """The newest time recorded in the database (None when it is empty)."""
        async with self.uow() as store:
            return await store.latest_time()

    async def next_due_at(self) -> datetime | None:
        async with self.uow() as store:
            return await store.outbox.next_due_at()

    async def run_due(self, now: datetime | None = None, batch: int = 100) -> int:
        """Does every piece of work due by `now`, oldest first, each exactly once, and returns
        how many this process did. Work that fails stays due and is tried again next time."""
        now = now or self.clock()
        async with self.uow() as store:  # the members' rate-limit windows that have ended
            await store.forget_windows(now - WINDOW)
            await store.commit()
        done = 0
        tried: set[int] = set()
        while True:
            async with self.uow() as store:
                due = await store.outbox.due(now, batch + len(tried))
                items = [i for i in due if i.id not in tried]
            if not items:
                return done
            # One crew per transaction (each holds its crew), in the order the crews fell due.
            by_crew: dict[int, list[Due]] = {}
            for item in items:
                by_crew.setdefault(item.crew_id, []).append(item)
            for crew_items in by_crew.values():
                for start in range(0, len(crew_items), DUE_CHUNK):
                    chunk = crew_items[start:start + DUE_CHUNK]
                    tried.update(item.id for item in chunk)
                    done += await self._do_many(chunk, now)

    async def _do_many(self, items: list[Due], now: datetime) -> int:
        """Claims and does several items of one crew in one transaction (each claim still
        commits with its result); if any of them fails, all are rolled back and done one at a
        time instead."""
        if len(items) > 1:
            async with self.uow() as store:
                try:
                    crew_id = items[0].crew_id
                    await store.hold_crew(crew_id)
                    claimed = await store.outbox.claim_due_many([i.id for i in items], now)
                    if claimed:
                        crew = await store.crews.crew_by_id(crew_id)
                        for item in items:
                            if item.id in claimed:
                                await WORK[item.kind](store, crew, item.subject_id, now)
                    await store.commit()
                    for item in items:
                        if item.id in claimed:
                            log.info("due=%s crew=%s outcome=done", item.kind, item.crew_id)
                    return len(claimed)
                except Exception:
                    await store.rollback()
                    log.info("due batch of %d outcome=one_at_a_time", len(items))
        done = 0
        for item in items:
            done += await self._do(item, now)
        return done

    async def _do(self, item: Due, now: datetime) -> int:
        for attempt in range(1, RETRIES + 1):
            async with self.uow() as store:
                try:
                    await store.hold_crew(item.crew_id)
                    if not await store.outbox.claim_due(item.id, now):
                        return 0
                    crew = await store.crews.crew_by_id(item.crew_id)
                    await WORK[item.kind](store, crew, item.subject_id, now)
                    await store.commit()
                    log.info("due=%s crew=%s outcome=done", item.kind, item.crew_id)
                    return 1
                except Exception as error:
                    await store.rollback()
                    if attempt < RETRIES and store.retryable(error):
                        continue
                    log.exception("due=%s crew=%s outcome=error", item.kind, item.crew_id)
                    return 0
        return 0

    # the outbox

    async def pending_posts(self, platform: str, limit: int = 100) -> list[Post]:
        """Queued posts for a platform, leased to this process until delivered or failed."""
        async with self.uow() as store:
            rows = await store.outbox.lease_posts(platform, limit, self.clock())
            await store.commit()
        return [Post(post_id, Chat(crew.platform, crew.chat_id, crew.title),
                     self._drawn(post_id, Message.from_json(payload)))
                for post_id, crew, payload in rows]

    @staticmethod
    def _drawn(post_id: int, message: Message) -> Message:
        """Draws a picture queued as a recipe; one that cannot be drawn is left out, so the
        words still go."""
        try:
            return drawn_now(message)
        except Exception:
            log.exception("post=%s outcome=picture_failed", post_id)
            return replace(message, attachment=None)

    async def deliver(self, platform: str, send: Callable[[Post], Awaitable[str | None]],
                      failures: type[Exception] | tuple[type[Exception], ...] = (),
                      pause_on: type[Exception] | tuple[type[Exception], ...] = ()) -> int:
        """Sends queued posts until none is left; returns how many went out. `send` returns the
        platform's message id; a post whose send raises one of `failures` stays queued for the
        next round, and one of `pause_on` (the platform asking us to slow down) ends this one."""
        sent = 0
        while True:
            posts = await self.pending_posts(platform, OUTBOX_BATCH)
            sent_now = 0
            for posted in posts:
                try:
                    message_id = await send(posted)
                except failures as error:
                    log.warning("platform=%s post=%s outcome=retry_later error=%s", platform,
                                posted.id, type(error).__name__)
                    await self.post_failed(posted)
                    if pause_on and isinstance(error, pause_on):
                        return sent
                    continue
                await self.post_delivered(posted, message_id)
                sent_now += 1
            sent += sent_now
            # a short batch was the last; a batch where nothing went out waits for next time
            if len(posts) < OUTBOX_BATCH or not sent_now:
                return sent

    async def post_delivered(self, posted: Post, message_id: str | None) -> None:
        async with self.uow() as store:
            await store.outbox.post_sent(posted.id, message_id, self.clock())
            if message_id and posted.message.ref:
                ref = posted.message.ref
                await store.outbox.link_in_chat(posted.chat.platform, posted.chat.chat_id,
                                                message_id, ref.kind, ref.id, "bot")
            await store.commit()

    async def post_failed(self, posted: Post) -> None:
        async with self.uow() as store:
            await store.outbox.post_failed(posted.id)
            await store.commit()

    async def message_sent(self, chat: Chat, message_id: str, ref: ItemRef | None) -> None:
        """Links the bot's reply to the item it stands for, so reactions and replies find it."""
        if ref is None or ref.kind not in LINKED_KINDS:
            return
        async with self.uow() as store:
            await store.outbox.link_in_chat(chat.platform, chat.chat_id, message_id, ref.kind,
                                            ref.id, "bot")
            await store.commit()

    async def say_in(self, chat: Chat, message: Message) -> None:
        """Queues a message for a chat through the outbox."""
        async with self.uow() as store:
            crew = await store.crews.crew(chat.platform, chat.chat_id)
            if crew is not None:
                await post(store, crew, message, self.clock())
                await store.commit()

    async def export(self) -> list[CrewExport]:
        async with self.uow() as store:
            return [CrewExport(crew, await store.crews.all_members(crew.id),
                               await store.ledger.totals(crew.id, "all"),
                               await store.ledger.ledger(crew.id),
                               await tallied_meetings(store, crew))
                    for crew in await store.crews.all_crews()]


    async def export_congregations(self) -> list[dict]:
        """Every congregation, its crews, stewards, lobbies, people looking and knocks."""
        async with self.uow() as store:
            return await congregations.exported(store)


def has_label(kind: str, label: str) -> bool:
    """Whether an item of this kind has a button with this label (case-insensitive)."""
    return BUTTON_LABELS.get(kind, "").lower() == label.strip().lower()


def log_event(event: Event, outcome: str, started: float, commands: dict[str, Any],
              error: BaseException | None = None) -> None:
    """The one log line of a handled event: what, where, outcome and how long; never a text
    (an unknown command name is user text too, so it is logged as `unknown`)."""
    if isinstance(event, CommandReceived):
        word = event.text.strip().partition(" ")[0][1:].split("@", 1)[0].lower()
        kind, name = "command", word if word in commands else "unknown"
    elif isinstance(event, ButtonPressed):
        code = (event.action or "").partition(":")[0]
        kind, name = "button", BUTTON_CODES.get(code, "label" if event.label else "unknown")
    elif isinstance(event, ReactionChanged):
        kind, name = "reaction", "add" if event.added else "remove"
    else:
        kind, name = "member_left", "leave"
    ms = round((time.perf_counter() - started) * 1000)
    line = ("event=%s platform=%s crew=%s command=%s outcome=%s ms=%d", kind,
            event.chat.platform, event.chat.chat_id, name, outcome, ms)
    if error is None:
        log.info(*line)
    else:
        log.error(*line, exc_info=error)
