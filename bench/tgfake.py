"""The fake Bot API in a process of its own (off the bot's core), optionally rate-limiting sends."""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

from tests.fakes.telegram_api import JSON, ApiError, FakeTelegram

OVERALL = (30, 1.0)  # Telegram: about 30 messages per second overall
PER_GROUP = (20, 60.0)  # and 20 messages per minute in one group
MODELS = ("none", "window", "bucket")


class Window:
    """At most `limit` sends in any `period` seconds (a strict sliding window)."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit, self.period = limit, period
        self.times: collections.deque[float] = collections.deque()

    def wait(self, at: float) -> float:
        while self.times and self.times[0] <= at - self.period:
            self.times.popleft()
        return 0.0 if len(self.times) < self.limit else self.times[0] + self.period - at

    def take(self, at: float) -> None:
        self.times.append(at)


class Bucket:
    """A leaky bucket of `limit` sends draining at limit/period (the model PTB's limiter uses)."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit, self.period = limit, period
        self.level, self.last = 0.0, 0.0

    def _drain(self, at: float) -> None:
        self.level = max(0.0, self.level - (at - self.last) * self.limit / self.period)
        self.last = at

    def wait(self, at: float) -> float:
        self._drain(at)
        return 0.0 if self.level + 1 <= self.limit else (
            (self.level + 1 - self.limit) * self.period / self.limit)

    def take(self, at: float) -> None:
        self._drain(at)
        self.level += 1


Limiter = Window | Bucket


class RateLimitedTelegram(FakeTelegram):
    """The fake, refusing sendMessage with 429 beyond 30/s overall or 20/min in one group."""

    def __init__(self, model: str = "window", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.rejected = 0
        self.first_sent = 0.0
        self.last_sent = 0.0
        self.overall = self._limiter(*OVERALL)
        self.groups: dict[int, Limiter] = {}

    def _limiter(self, limit: int, period: float) -> Limiter:
        return Window(limit, period) if self.model == "window" else Bucket(limit, period)

    async def _send_message(self, params: JSON) -> JSON:
        at = time.monotonic()
        chat_id = params.get("chat_id")
        limits: list[Limiter] = []
        if self.model != "none":
            limits.append(self.overall)
            if isinstance(chat_id, int) and chat_id < 0:
                limits.append(self.groups.setdefault(chat_id, self._limiter(*PER_GROUP)))
        wait = max((limit.wait(at) for limit in limits), default=0.0)
        if wait > 0:
            self.rejected += 1
            retry = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry}",
                           {"retry_after": retry})
        sent = await super()._send_message(params)
        for limit in limits:
            limit.take(at)
        self.first_sent = self.first_sent or at
        self.last_sent = at
        return sent

    def stats(self) -> JSON:
        texts = [str(s.get("text")) for s in self.sent]
        return {"sent": len(self.sent), "rejected": self.rejected, "calls": dict(self.calls),
                "distinct": len(set(texts)), "pending": len(self._deliverable()),
                "span": self.last_sent - self.first_sent}


def _update(fake: FakeTelegram, spec: JSON) -> JSON:
    if spec["kind"] == "message":
        return fake.message(spec["chat"], spec["user"], spec["text"],
                            reply_to=spec.get("reply_to"))
    if spec["kind"] == "reaction":
        return fake.reaction(spec["chat"], spec["user"], spec["message_id"],
                             new=spec.get("new", ()))
    raise ValueError(f"unknown update kind {spec['kind']!r}")


async def serve(model: str, cpus: set[int]) -> None:
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cpus)
    fake = RateLimitedTelegram(model=model, bot_username="crewbot")
    await fake.start()

    async def setup(request: web.Request) -> web.Response:
        body = await request.json()
        for chat in body.get("chats", []):
            fake.add_chat(chat["id"], title=chat.get("title", "Crew"))
            if body.get("bot_admin"):
                fake.set_bot_admin(chat["id"])
        return web.json_response({"ok": True})

    async def push(request: web.Request) -> web.Response:
        body = await request.json()
        for spec in body["updates"]:
            fake.push(_update(fake, spec))
        return web.json_response({"ok": True, "count": len(body["updates"])})

    async def wait_sent(request: web.Request) -> web.Response:
        count = int(request.query["count"])
        timeout = float(request.query.get("timeout", "60"))
        try:
            await fake.wait_sent(count=count, timeout=timeout)
        except AssertionError:  # the fake's way of saying it timed out
            return web.json_response({"ok": False, **fake.stats()})
        return web.json_response({"ok": True, **fake.stats()})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(fake.stats())

    control = web.Application()
    control.router.add_post("/setup", setup)
    control.router.add_post("/push", push)
    control.router.add_get("/wait_sent", wait_sent)
    control.router.add_get("/stats", stats)
    runner = web.AppRunner(control, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    print(json.dumps({"api": fake.port, "control": runner.addresses[0][1],
                      "token": fake.token}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    await runner.cleanup()
    await fake.stop()


@dataclass
class Remote:
    """The parent's handle on a fake running in a child process."""

    process: asyncio.subprocess.Process
    api_port: int
    control_port: int
    token: str
    http: ClientSession

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/file/bot"

    def _url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.control_port}{path}"

    async def setup(self, chats: list[JSON], bot_admin: bool = True) -> None:
        async with self.http.post(self._url("/setup"),
                                  json={"chats": chats, "bot_admin": bot_admin}) as r:
            r.raise_for_status()

    async def push(self, updates: list[JSON]) -> None:
        async with self.http.post(self._url("/push"), json={"updates": updates}) as r:
            r.raise_for_status()

    async def wait_sent(self, count: int, timeout: float) -> JSON:
        async with self.http.get(self._url("/wait_sent"),
                                 params={"count": str(count), "timeout": str(timeout)}) as r:
            r.raise_for_status()
            result: JSON = await r.json()
        if not result["ok"]:
            raise RuntimeError(f"bench: the fake saw {result['sent']} of {count} messages "
                               f"within {timeout} s: {result}")
        return result

    async def stats(self) -> JSON:
        async with self.http.get(self._url("/stats")) as r:
            r.raise_for_status()
            result: JSON = await r.json()
            return result

    async def close(self) -> None:
        await self.http.close()
        if self.process.stdin:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def spawn(model: str, cpus: set[int]) -> Remote:
    """Starts a fake in a child process (pinned to `cpus`) and connects to its control port."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.tgfake", "--model", model,
        "--cpus", ",".join(str(c) for c in sorted(cpus)),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    if not line:
        raise RuntimeError("bench: the fake Bot API process did not start")
    ports = json.loads(line)
    http = ClientSession(timeout=ClientTimeout(total=None))
    return Remote(process, ports["api"], ports["control"], ports["token"], http)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", choices=MODELS, default="none")
    parser.add_argument("--cpus", default="")
    args = parser.parse_args()
    cpus = {int(c) for c in args.cpus.split(",") if c}
    asyncio.run(serve(args.model, cpus))


if __name__ == "__main__":
    main()
