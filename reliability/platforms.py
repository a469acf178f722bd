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


class TelegramDriver:
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
