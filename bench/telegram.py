"""Section 4: the real python-telegram-bot stack against the fake Bot API, unlimited and limited."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from telegram.ext import AIORateLimiter, ApplicationBuilder

from bench.common import (
    SQLITE,
    Report,
    Row,
    Settings,
    bulk_insert,
    fresh_database,
    median,
    now,
    other_cpus,
    rate,
    verdict,
)
from bench.tgfake import OVERALL, PER_GROUP, Remote, spawn
from bot.adapters.telegram_adapter import TelegramAdapter
from bot.adapters.telegram_http import AiohttpRequest
from bot.app import App, freeze_startup_heap, open_app
from bot.clock import utc_now
from bot.commands.care import PASS
from bot.commands.events import say
from storage.models import CrewRow, OutboxRow
from tests.fakes.telegram_api import JSON

SECTION = "4. Telegram"
MEMBERS = 6
COMMANDS = ("/checkin a long week, glad to be here", "/ask a lift to the station",
            "/leaderboard")
UPDATES_TARGET = 300.0
FANOUT_SHARE_TARGET = 0.95
LIMIT_MODELS = ("window", "bucket")
SECOND_MODEL_POSTS = 300  # the other limit model runs on fewer posts, to keep the run short


def builder(remote: Remote) -> ApplicationBuilder[Any, Any, Any, Any, Any, Any]:
    """PTB pointed at the fake in the child process, with the adapter's production requests."""
    return (ApplicationBuilder().token(remote.token).base_url(remote.base_url)
            .base_file_url(remote.base_file_url)
            .request(AiohttpRequest(connection_pool_size=256))
            .get_updates_request(AiohttpRequest(connection_pool_size=1)))


@dataclass
class Spent:
    """Time spent inside the core's calls while the adapter worked."""

    seconds: dict[str, float] = field(default_factory=dict)

    def wrap(self, name: str, call: Callable[..., Awaitable[Any]]
             ) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(call)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            began = now()
            try:
                return await call(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + now() - began

        return timed


def instrument(app: App) -> Spent:
    spent = Spent()
    game = app.game
    for name in ("handle", "message_sent", "pending_posts", "post_delivered"):
        setattr(game, name, spent.wrap(name, getattr(game, name)))
    return spent


async def started(app: App, remote: Remote, limiter: AIORateLimiter | None) -> TelegramAdapter:
    adapter = TelegramAdapter(app.game, remote.token, builder=builder(remote),
                              rate_limiter=limiter)
    await adapter.start()
    freeze_startup_heap()  # as `crewbot run` does once started
    return adapter


def user(repeat: int, chat: int, k: int) -> JSON:
    uid = 1_000_000 + repeat * 100_000 + chat * 10 + k
    return {"id": uid, "is_bot": False, "first_name": f"Member{k}", "username": f"u{uid}"}


async def updates_per_second(settings: Settings) -> tuple[list[float], dict[str, float], int]:
    """Pushes bursts of group commands; each is handled and answered before the next burst."""
    url = await fresh_database(settings, SQLITE, "telegram")
    app = await open_app(url, utc_now)
    remote = await spawn("none", other_cpus())
    rates: list[float] = []
    shares: dict[str, float] = {}
    count = 0
    try:
        spent = instrument(app)
        unlimited = AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=3)
        adapter = await started(app, remote, unlimited)
        sent = 0
        for repeat in range(settings.sizes.tg_repeats + 1):  # the first is a warm-up
            chats = [-1002000000000 - repeat * 1000 - c for c in range(settings.sizes.tg_chats)]
            await remote.setup([{"id": c, "title": f"Crew {c}"} for c in chats])
            updates = [{"kind": "message", "chat": chat, "user": user(repeat, i, k),
                        "text": words}
                       for words in COMMANDS for k in range(MEMBERS)
                       for i, chat in enumerate(chats)]
            if repeat == 0:
                updates = updates[: max(12, len(updates) // 4)]
            spent.seconds.clear()
            began = now()
            await remote.push(updates)
            await remote.wait_sent(sent + len(updates), timeout=120)
            await adapter.app.update_queue.join()
            took = now() - began
            sent += len(updates)
            if repeat:
                rates.append(len(updates) / took)
                count = len(updates)
                for name, seconds in spent.seconds.items():
                    share = seconds / took / settings.sizes.tg_repeats
                    shares[name] = shares.get(name, 0.0) + share
        await adapter.stop()
        if adapter.errors:
            raise RuntimeError(f"bench: the adapter failed: {adapter.errors[:3]}")
        return rates, shares, count
    finally:
        await remote.close()
        await app.close()


@dataclass
class Fanout:
    posts: int
    groups: int
    seconds: float
    rejected: int
    delivers: int
    distinct: int
    allowed: float
    span: float


def minimum_seconds(posts: int, per_group: int, model: str) -> float:
    """The least time the fake's limits allow for the posts (sent as well as they can be)."""
    (overall, second), (group, minute) = OVERALL, PER_GROUP
    if model == "bucket":  # a full bucket first, then the drain rate
        return max((posts - overall) * second / overall,
                   (per_group - group) * minute / group, 0.0)
    return max((posts - 1) // overall * second, (per_group - 1) // group * minute)


async def fanout(settings: Settings, model: str, posts: int) -> Fanout:
    """Delivers N queued posts to many groups through the adapter's default rate limiter."""
    per_group = settings.sizes.fanout_per_group
    groups = max(1, -(-posts // per_group))
    url = await fresh_database(settings, SQLITE, "fanout")
    app = await open_app(url, utc_now)
    remote = await spawn(model, other_cpus())
    try:
        chats = [-1003000000000 - g for g in range(groups)]
        created = utc_now() - timedelta(minutes=1)
        await bulk_insert(app.engine, CrewRow.__table__,
                          ("id", "platform", "chat_id", "title", "settings", "size_warned",
                           "created_at"),
                          [(g + 1, "telegram", str(chat), f"Crew {g}", {}, False, created)
                           for g, chat in enumerate(chats)])
        # Queued as a tick queues them: one kind of post for every crew, then the next kind.
        await bulk_insert(app.engine, OutboxRow.__table__,
                          ("crew_id", "platform", "payload", "created_at", "attempts"),
                          [(g + 1, "telegram",
                            say(f"Reminder {r + 1} of {per_group} for crew {g}: our meeting "
                                "starts in 1 hour.", buttons=(PASS,)).to_json(), created, 0)
                           for r in range(per_group) for g in range(groups)
                           if r * groups + g < posts])
        await remote.setup([{"id": c, "title": f"Crew {c}"} for c in chats], bot_admin=False)
        adapter = await started(app, remote, None)  # the bot's own default limiter
        delivers = 0
        began = now()
        deadline = began + max(120.0, posts / OVERALL[0] * 4)
        while True:
            before = await unsent(app)
            if before == 0:
                break
            if now() > deadline:
                raise RuntimeError(f"bench: {before} posts still unsent after "
                                   f"{now() - began:.0f} s")
            await adapter.deliver()
            delivers += 1
            if await unsent(app) == before:
                await asyncio.sleep(1.0)  # only leased posts left: wait as a tick would
        took = now() - began
        stats = await remote.stats()
        await adapter.stop()
        if stats["sent"] != posts or stats["distinct"] != posts:
            raise RuntimeError(f"bench: {posts} posts queued, the fake got {stats}")
        fastest = minimum_seconds(posts, per_group, model)
        return Fanout(posts, groups, took, stats["rejected"], delivers, stats["distinct"],
                      posts / fastest if fastest else float("inf"), stats["span"])
    finally:
        await remote.close()
        await app.close()


async def unsent(app: App) -> int:
    async with app.engine.connect() as conn:
        return int(await conn.scalar(text(
            "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")) or 0)


async def run(settings: Settings, report: Report, with_fanout: bool) -> None:
    rates, shares, count = await updates_per_second(settings)
    value = median(rates)
    where = ", ".join(f"{name} {share:.0%}" for name, share in sorted(shares.items()))
    report.add(Row(
        key="telegram.updates", section=SECTION,
        measure="updates/s, real PTB vs fake Bot API (no limits)", backend=SQLITE,
        result=rate(value, "updates/s"), p50=f"{1000 / value:.1f} ms/update" if value else "-",
        target=">= 300/s", verdict=verdict(value >= UPDATES_TARGET),
        note=f"median of {len(rates)} bursts of {count} commands; time inside the core's "
             f"calls (summed over concurrent calls, so it can pass 100%): {where}"))
    models = [settings.limit_model, *(m for m in LIMIT_MODELS if m != settings.limit_model)]
    for i, model in enumerate(models):
        posts = settings.sizes.fanout if i == 0 else min(settings.sizes.fanout, SECOND_MODEL_POSTS)
        key = f"telegram.fanout.{model}"
        target = ">= 95% of allowed, 0 x 429"
        if not with_fanout or posts <= 0:
            report.add(Row(key=key, section=SECTION, measure=fanout_label(model, 0),
                           backend=SQLITE, result="skipped (--smoke)", target=target,
                           verdict="-"))
            continue
        f = await fanout(settings, model, posts)
        achieved = f.posts / f.seconds
        share = achieved / f.allowed if f.allowed != float("inf") else 1.0
        report.add(Row(
            key=key, section=SECTION, measure=fanout_label(model, posts), backend=SQLITE,
            result=f"{achieved:.1f} msg/s", p50=f"{f.seconds:.1f} s total",
            vs=f"{share:.0%} of {f.allowed:.1f}/s allowed", target=target,
            verdict=verdict(share >= FANOUT_SHARE_TARGET and f.rejected == 0),
            note=f"{f.rejected} x 429; {f.groups:,} groups x {settings.sizes.fanout_per_group}"
                 f" posts; {f.delivers} deliver() calls back to back; every post sent once"))


def fanout_label(model: str, posts: int) -> str:
    size = f", {posts:,} posts" if posts else ""
    return f"fan-out vs 30/s + 20/min/group ({model} fake{size})"
