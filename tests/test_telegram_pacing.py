"""The Telegram rate limiter: never more than its limit in any window, per group and overall,
counted from when a call ended to when the next starts; other calls pass straight through."""

from __future__ import annotations

import asyncio

import pytest
from telegram.error import RetryAfter

from bot.adapters.telegram_pacing import ChatOrderedUpdates, WindowRateLimiter

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
