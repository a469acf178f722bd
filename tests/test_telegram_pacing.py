"""The Telegram rate limiter: never more than its limit in any window, per group and overall,
counted from when a call ended to when the next starts; other calls pass straight through."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from telegram.error import RetryAfter
from telegram.ext import Application

from bot.adapters.telegram_pacing import ChatOrderedUpdates, WindowRateLimiter
from bot.app import open_app
from bot.clock import SimClock
from storage.send_slots import SendSlots
from tests.conftest import START, emptied_postgres
from tests.fakes.telegram_api import FakeTelegram

OVERALL, PER_GROUP = (3, 0.06), (2, 0.12)  # tiny windows, the same rules as 30/s and 20/min


def within(times: list[float], limit: int, period: float) -> bool:
    times = sorted(times)
    return all(later - first >= period for first, later in zip(times, times[limit:], strict=False))


async def test_no_window_ever_holds_more_than_its_limit() -> None:
    limiter = WindowRateLimiter(OVERALL, PER_GROUP)
    loop = asyncio.get_running_loop()
    starts: list[tuple[float, int]] = []

    async def send(chat: int) -> bool:
        starts.append((loop.time(), chat))
        await asyncio.sleep(0.002)  # the request in flight
        return True

    chats = [-1, -2, -3, 4] * 3  # three groups and a private chat, each sent to three times
    await asyncio.gather(*(limiter.process_request(send, (c,), {}, "sendMessage",
                                                   {"chat_id": c}, None) for c in chats))
    assert len(starts) == len(chats)
    assert within([t for t, _ in starts], *OVERALL)
    for chat in (-1, -2, -3):
        assert within([t for t, c in starts if c == chat], *PER_GROUP)


async def test_calls_that_send_nothing_are_not_counted() -> None:
    limiter = WindowRateLimiter((1, 60.0), (1, 60.0))

    async def call() -> bool:
        return True

    for _ in range(5):  # would wait a minute each if counted
        assert await asyncio.wait_for(limiter.process_request(
            call, (), {}, "getChatMember", {"chat_id": -1, "user_id": 1}, None), 1)


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # RetryAfter()
async def test_a_429_anyway_is_waited_out_and_retried() -> None:
    limiter = WindowRateLimiter(OVERALL, PER_GROUP, max_retries=2)
    answers: list[bool | Exception] = [RetryAfter(0), True]

    async def send() -> bool:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert await limiter.process_request(send, (), {}, "sendMessage", {"chat_id": -1}, None)
    assert answers == []


class Update:
    def __init__(self, chat: int) -> None:
        self.effective_chat = type("Chat", (), {"id": chat})()


async def test_updates_of_one_chat_take_turns_and_other_chats_overlap() -> None:
    processor = ChatOrderedUpdates(8)
    gate = asyncio.Event()
    log: list[str] = []

    async def handle(name: str, wait: bool = False) -> None:
        log.append(f"{name} starts")
        if wait:
            await gate.wait()
        log.append(f"{name} ends")

    first = asyncio.create_task(processor.process_update(Update(-1), handle("a1", wait=True)))
    second = asyncio.create_task(processor.process_update(Update(-1), handle("a2")))
    other = asyncio.create_task(processor.process_update(Update(-2), handle("b1")))
    await other  # another chat is not held up by a1
    assert log == ["a1 starts", "b1 starts", "b1 ends"]
    gate.set()
    await asyncio.gather(first, second)
    assert log[3:] == ["a1 ends", "a2 starts", "a2 ends"]  # a2 only after a1
    assert processor.chats == {}


@pytest.fixture
async def pg_url() -> str:
    """The configured PostgreSQL, emptied: the shared windows live there only."""
    return await emptied_postgres(
        "CREWBOT_TEST_DATABASE_URL is not set; shared send slots need PostgreSQL")


FAKE_OVERALL, FAKE_GROUP = (10, 1.0), (4, 3.0)  # Telegram's rules, on smaller numbers


@asynccontextmanager
async def two_bots(url: str, tg: FakeTelegram, shared: bool, retries: int = 3
                   ) -> AsyncIterator[list[Application[Any, Any, Any, Any, Any, Any]]]:
    """Two processes' worth of one bot: each its own engine, rate limiter and PTB client."""
    apps = [await open_app(url, SimClock(START)) for _ in range(2)]
    bots = [tg.application_builder().rate_limiter(WindowRateLimiter(
        FAKE_OVERALL, FAKE_GROUP, max_retries=retries,
        shared=SendSlots(app.engine) if shared else None, bot="telegram:1")).build()
        for app in apps]
    try:
        for bot in bots:
            await bot.initialize()
        yield bots
    finally:
        for bot in bots:
            await bot.shutdown()
        for app in apps:
            await app.close()


async def fan_out(bots: list[Any], groups: list[int], each: int) -> list[Any]:
    """`each` messages to every group, half through each bot, all at once."""
    sends = [bots[n % 2].bot.send_message(group, f"{group} {n}")
             for group in groups for n in range(each)]
    return await asyncio.gather(*sends, return_exceptions=True)


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # RetryAfter
async def test_two_processes_keep_to_one_set_of_limits_through_postgresql(pg_url) -> None:
    groups = [-11, -12, -13]
    async with FakeTelegram(flood_limits=True, overall=FAKE_OVERALL, per_group=FAKE_GROUP) as tg:
        for group in groups:
            tg.add_chat(group)
        # Each process on its own: both keep to the limits, so together they go over them.
        async with two_bots(pg_url, tg, shared=False, retries=0) as bots:
            results = await fan_out(bots, groups[:1], 8)
        assert sum(isinstance(r, RetryAfter) for r in results) > 0
        assert tg.too_many["sendMessage"] > 0
        tg.too_many.clear()
        await asyncio.sleep(FAKE_GROUP[1])  # the fake's windows empty
        sent_before = len(tg.sent)
        # Shared through PostgreSQL: no 429, every message sent once, at the allowed pace.
        async with two_bots(pg_url, tg, shared=True) as bots:
            results = await fan_out(bots, groups, 6)
        assert [r for r in results if isinstance(r, Exception)] == []
        assert tg.too_many == {}
        texts = [m["text"] for m in tg.sent[sent_before:]]
        assert sorted(texts) == sorted(f"{g} {n}" for g in groups for n in range(6))


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # RetryAfter
async def test_a_429_in_one_process_holds_the_others_back_too(pg_url) -> None:
    async with FakeTelegram(flood_limits=True, overall=FAKE_OVERALL, per_group=FAKE_GROUP) as tg:
        tg.add_chat(-21)
        async with two_bots(pg_url, tg, shared=True) as (first, second):
            tg.fail_next("sendMessage", status=429, retry_after=1)
            loop = asyncio.get_running_loop()
            began = loop.time()
            await first.bot.send_message(-21, "retried after a second")
            await second.bot.send_message(-21, "from the other process")
            waited = loop.time() - began
        assert [m["text"] for m in tg.sent] == ["retried after a second",
                                                "from the other process"]
        assert waited >= 1.0  # neither sent into the second Telegram asked for
