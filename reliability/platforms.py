"""Plays a random game through the real python-telegram-bot client against the fake Bot API,
optionally delivering every update twice and replaying earlier ones out of order."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from telegram.ext import AIORateLimiter

from bot.adapters.telegram_adapter import TelegramAdapter
from bot.app import App
from bot.clock import SimClock
from reliability.drive import item_id
from reliability.scenario import SPANS, Step, fill
from tests.fakes.telegram_api import FakeTelegram

CREW = -1001000000001
JSON = dict[str, Any]


class Timekeeper:
    """What both drivers share: moving the clock and running what falls due on the way."""

    app: App
    clock: SimClock
    adapter: Any

    async def advance(self, target: datetime) -> None:
        game = self.app.game
        stuck = None
        while (due := await game.next_due_at()) is not None and due <= target and due != stuck:
            self.clock.move_to(max(due, self.clock()))
            await game.run_due()
            await self.adapter.deliver()
            stuck = due
        self.clock.move_to(target)
        await game.run_due()
        await self.adapter.deliver()


class TelegramDriver(Timekeeper):
    """Feeds steps to a running TelegramAdapter as Bot API updates; `twice` delivers each update
    again at once, and every `replay_every` steps re-delivers a few earlier ones, shuffled."""

    def __init__(self, tg: FakeTelegram, app: App, clock: SimClock, *, twice: bool = False,
                 replay_every: int = 0, seed: int = 0) -> None:
        self.tg, self.app, self.clock = tg, app, clock
        self.twice, self.replay_every = twice, replay_every
        self.rng = random.Random(seed)
        limiter = AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=3)
        self.adapter = TelegramAdapter(app.game, tg.token, builder=tg.application_builder(),
                                       rate_limiter=limiter)
        self.users: dict[str, JSON] = {}
        self.ids: dict[str, int] = {}
        self.checkins: dict[str, int] = {}  # author -> message id of their /checkin
        self.reactions: dict[tuple[str, int], list[str]] = {}
        self.pushed: list[JSON] = []
        self.redelivered = 0
        self.unanswered: list[str] = []
        self.steps = 0

    async def __aenter__(self) -> TelegramDriver:
        self.tg.add_chat(CREW, title="Crew")
        self.tg.set_bot_admin(CREW)
        await self.adapter.start()
        await self.tg.wait_call("getUpdates")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.adapter.stop()

    def user(self, name: str) -> JSON:
        if name not in self.users:
            if not self.users:
                self.tg.set_admin(CREW, 1000)  # the first member is the admin, as in the model
            self.users[name] = self.tg.user(1000 + len(self.users), name, name)
        return self.users[name]

    async def settle(self) -> None:
        await self.tg.wait_idle(timeout=30)
        await self.adapter.app.update_queue.join()

    async def push(self, update: JSON) -> JSON:
        pushed = self.tg.push(update)
        self.pushed.append(pushed)
        await self.settle()
        if self.twice:
            self.tg.push(pushed, redeliver=True)
            self.redelivered += 1
            await self.settle()
        return pushed

    def replies_to(self, message_id: int) -> list[JSON]:
        return [s for s in self.tg.sent if isinstance(s.get("reply_parameters"), dict)
                and s["reply_parameters"].get("message_id") == message_id]

    async def run(self, step: Step) -> None:
        self.steps += 1
        if step.kind == "advance":
            await self.advance(self.clock() + SPANS[step.text])
        elif step.kind == "say":
            text = fill(step.text, self.ids)
            answered = len(self.tg.sent)
            update = await self.push(self.tg.message(CREW, self.user(step.who), text))
            message_id = update["message"]["message_id"]
            replies = [s["text"] for s in self.replies_to(message_id)]
            if len(self.tg.sent) == answered or not replies:
                self.unanswered.append(f"{step.who}: {text}")
            if step.key and (number := item_id(replies)) is not None:
                self.ids[step.key] = number
            if text.startswith("/checkin"):
                self.checkins[step.who] = message_id
        else:
            await self.listen(step)
        if self.replay_every and self.steps % self.replay_every == 0:
            await self.replay()

    async def listen(self, step: Step) -> None:
        command_id = self.checkins[step.author]
        who = self.user(step.who)
        if step.via == "button":
            reply = next(s for s in self.replies_to(command_id)
                         if "I listened" in str(s.get("reply_markup")))
            bot_message = self.tg.sent_messages[self.tg.sent.index(reply)]
            data = next(b["callback_data"] for row in reply["reply_markup"]["inline_keyboard"]
                        for b in row if b["text"] == "I listened")
            answered = len(self.tg.answered)
            await self.push(self.tg.callback(CREW, who, bot_message["message_id"], data))
            if len(self.tg.answered) == answered:
                self.unanswered.append(f"{step.who} presses I listened")
            return
        key = (step.who, command_id)
        old = self.reactions.get(key, [])
        if old == [step.via]:
            return  # Telegram sends nothing when nothing changed
        self.reactions[key] = [step.via]
        await self.push(self.tg.reaction(CREW, who, command_id, old=old, new=[step.via]))

    async def replay(self) -> None:
        """Telegram, after a crash, sends again what it had sent: here a few earlier updates,
        in a shuffled order."""
        earlier = self.pushed[-3 * self.replay_every:]
        for update in self.rng.sample(earlier, min(len(earlier), 5)):
            self.tg.push(update, redeliver=True)
            self.redelivered += 1
        await self.settle()



GUILD, CHANNEL, ORGANISERS = 900000000000000001, 900000000000000101, 900000000000000201
INT_OPTIONS = {"offer", "conflict", "entry"}


def slash(text: str, users: dict[str, int]) -> tuple[str, list[JSON]] | None:
    """A step's command as a slash command and its options; None if Discord's menus cannot say
    it (an unknown command, a missing required text): such steps are invalid ones anyway."""
    name, _, rest = text.partition(" ")
    name, words = name[1:], rest.split()
    options: dict[str, object] = {}
    if name in ("join", "here", "help") and not words:
        pass
    elif name in ("ask", "checkin", "reflect") and rest:
        options["text"] = rest
    elif name == "offer" and words and words[0][1:] in users and len(words) > 1:
        options.update(member=users[words[0][1:]], text=" ".join(words[1:]))
    elif name in ("thanks", "forgive") and len(words) == 1 and words[0].isdigit():
        options["offer" if name == "thanks" else "conflict"] = int(words[0])
    elif name == "meeting" and words == ["now"]:
        options["action"] = "now"
    elif name == "conflict" and len(words) == 1 and words[0][1:] in users:
        options["member"] = users[words[0][1:]]
    elif name == "conflict" and len(words) == 2 and words[0] in ("accept", "unresolved"):
        options.update(action=words[0], conflict=int(words[1]))
    elif name == "apologise" and len(words) > 1 and words[0].isdigit():
        options.update(conflict=int(words[0]), text=" ".join(words[1:]))
    elif name == "coown" and words:
        options["venture"] = " ".join(f"<@{users[w[1:]]}>" if w[1:] in users else w
                                      for w in words)
    elif name == "settings" and len(words) == 2:
        options.update(name=words[0], value=words[1])
    elif name == "revoke" and len(words) == 1 and words[0].isdigit():
        options["entry"] = int(words[0])
    else:
        return None
    return name, [{"name": k, "type": 6 if k == "member" else 4 if k in INT_OPTIONS else 3,
                   "value": str(v) if k == "member" else v} for k, v in options.items()]


class DiscordDriver(Timekeeper):
    """Feeds steps to a running DiscordAdapter as gateway events through the real discord.py
    client; `twice` dispatches every event again (as a resumed gateway session may)."""

    def __init__(self, dc: Any, app: App, clock: SimClock, *, twice: bool = False) -> None:
        from bot.adapters.discord_adapter import DiscordAdapter

        self.dc, self.app, self.clock, self.twice = dc, app, clock, twice
        self.adapter = DiscordAdapter(app.game, dc.token, guild_ids=[GUILD],
                                      guild_ready_timeout=0.05)
        self.users: dict[str, int] = {}
        self.ids: dict[str, int] = {}
        self.checkins: dict[str, int] = {}  # author -> the bot's check-in message
        self.unanswered: list[str] = []
        self.skipped = 0
        self.dispatched = 0

    async def __aenter__(self) -> DiscordDriver:
        import contextlib

        import discord

        from tests.fakes.discord_api import patched

        self.dc.add_guild(GUILD, "Crew", 800000000000000001)
        self.dc.add_role(GUILD, ORGANISERS, "Organisers", discord.Permissions(manage_channels=True))
        self.dc.add_channel(GUILD, CHANNEL, "crew")
        self.stack = contextlib.ExitStack()
        self.stack.enter_context(patched(self.dc))
        await self.adapter.start()
        await self.adapter.client.wait_until_ready()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.adapter.stop()
        finally:
            self.stack.close()

    def user(self, name: str) -> int:
        if name not in self.users:
            user_id = 800000000000000100 + len(self.users)
            roles = [ORGANISERS] if not self.users else []  # the first member is the admin
            self.dc.add_member(GUILD, user_id, name, roles=roles)
            self.users[name] = user_id
        return self.users[name]

    async def dispatch(self, kind: str, payload: JSON) -> list[str]:
        """Dispatches (twice if asked) and returns the texts the bot answered with."""
        before = len(self.dc.calls)
        for _ in range(2 if self.twice else 1):
            done = self.adapter.handled
            await self.dc.dispatch(kind, payload)
            await self.adapter.wait_handled(done + 1, timeout=30)
            self.dispatched += 1
        texts = []
        for call in self.dc.calls[before:]:
            if call.ok and call.kind in ("callback", "followup", "message"):
                body = call.body or {}
                texts.append(str((body.get("data") or body).get("content", "")))
        return texts

    async def run(self, step: Step) -> None:
        if step.kind == "advance":
            await self.advance(self.clock() + SPANS[step.text])
            return
        for name in self.dc_names(step):
            self.user(name)
        if step.kind == "listen":
            await self.listen(step)
            return
        command = slash(fill(step.text, self.ids), self.users)
        if command is None:
            assert not step.valid, step
            self.skipped += 1
            return
        name, options = command
        payload = self.dc.interaction_command(GUILD, CHANNEL, self.users[step.who], name, options)
        texts = await self.dispatch("INTERACTION_CREATE", payload)
        if not any(texts):
            self.unanswered.append(step.text)
        if step.key and (number := item_id(texts)) is not None:
            self.ids[step.key] = number
        if name == "checkin":
            issued = self.dc._interactions[int(payload["id"])]
            self.checkins[step.who] = issued.original_id

    def dc_names(self, step: Step) -> list[str]:
        return [step.who, *(w[1:] for w in step.text.split() if w.startswith("@")
                            and w[1:].isalpha() and w[1:] != "nobody_here")]

    async def listen(self, step: Step) -> None:
        message_id = self.checkins[step.author]
        who = self.users[step.who]
        if step.via == "button":
            message = self.dc.messages[message_id]
            custom = next(c["custom_id"] for row in message["components"]
                          for c in row["components"] if c.get("label") == "I listened")
            payload = self.dc.interaction_button(GUILD, CHANNEL, who, message_id, custom)
            if not any(await self.dispatch("INTERACTION_CREATE", payload)):
                self.unanswered.append(f"{step.who} presses I listened")
            return
        await self.dispatch("MESSAGE_REACTION_ADD",
                            self.dc.reaction_add(GUILD, CHANNEL, message_id, who, step.via))

