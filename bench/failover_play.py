"""Real `crewbot run` processes on one database against the fake Bot API, members asking in
groups, and the audit of what they were told against the ledger (for the failover benchmark and
its tests)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sqlalchemy import text

from storage.engine import make_engine
from tests.fakes.telegram_api import JSON, FakeTelegram
from tests.processes import CREWBOT, clean_env, free_port, get_json

ASK_CAP = 3  # GAME.md's default: a member's first 3 asks a day score
ASK_POINTS = 5
ACKNOWLEDGED = "asks (ask "  # the bot's answer to a recorded /ask
TRY_AGAIN = "Please try again"  # the bot's answer when the database failed under a command


@dataclass
class Ask:
    """One /ask a member sent, and every answer the bot gave it (with when the fake got it)."""

    index: int
    chat_id: int
    user_id: int
    message_id: int
    text: str
    sent_at: float
    answers: list[tuple[float, str]] = field(default_factory=list)

    @property
    def acknowledged(self) -> list[float]:
        return [at for at, said in self.answers if ACKNOWLEDGED in said]

    @property
    def refused_for_now(self) -> list[float]:
        return [at for at, said in self.answers if TRY_AGAIN in said]


class Crowd:
    """Members of several Telegram groups sending /ask, each at most ASK_CAP times, so that by
    GAME.md every acknowledged ask is worth exactly +5 to its member."""

    def __init__(self, tg: FakeTelegram, crews: int = 12, members: int = 8) -> None:
        self.tg = tg
        self.members = [(-1001000000000 - c, tg.user(5000 + c * 100 + m, f"Member{c}x{m}"))
                        for m in range(members) for c in range(crews)]
        self.asks: list[Ask] = []
        self.by_message: dict[tuple[int, int], Ask] = {}
        self.read_upto = 0
        self.watcher: asyncio.Task[None] | None = None
        self.player: asyncio.Task[None] | None = None

    @property
    def full(self) -> bool:
        return len(self.asks) >= ASK_CAP * len(self.members)

    def send(self) -> Ask | None:
        if self.full:
            return None
        index = len(self.asks)
        chat_id, user = self.members[index % len(self.members)]
        words = f"a hand with task {index}"
        update = self.tg.push(self.tg.message(chat_id, user, f"/ask {words}"))
        message = update["message"]
        ask = Ask(index, chat_id, user["id"], message["message_id"], words,
                  asyncio.get_running_loop().time())
        self.asks.append(ask)
        self.by_message[(chat_id, ask.message_id)] = ask
        return ask

    def read(self) -> None:
        """Files each new sendMessage under the ask it answers, stamped now."""
        at = asyncio.get_running_loop().time()
        for params in self.tg.sent[self.read_upto:]:
            quoted = params.get("reply_parameters")
            if isinstance(quoted, dict):
                ask = self.by_message.get((int(params.get("chat_id", 0)),
                                           quoted.get("message_id")))
                if ask is not None:
                    ask.answers.append((at, str(params.get("text", ""))))
        self.read_upto = len(self.tg.sent)

    async def watch(self) -> None:
        while True:
            with contextlib.suppress(AssertionError):
                await self.tg.wait_sent(count=len(self.tg.sent) + 1, timeout=3600)
            self.read()

    async def play(self, every: float) -> None:
        while not self.full:
            self.send()
            await asyncio.sleep(every)

    def begin(self, every: float) -> None:
        self.watcher = asyncio.create_task(self.watch())
        self.player = asyncio.create_task(self.play(every))

    async def end(self, settle: float = 10.0) -> None:
        """Stops asking, then waits until every ask has an answer or none came for `settle`
        seconds (an ask in flight when its poller was killed may never get one)."""
        await stop_task(self.player)
        loop = asyncio.get_running_loop()
        last, answered = loop.time(), -1
        while loop.time() - last < settle:
            self.read()
            now_answered = sum(1 for a in self.asks if a.answers)
            if now_answered == len(self.asks):
                break
            if now_answered != answered:
                last, answered = loop.time(), now_answered
            await asyncio.sleep(0.2)  # another process answers: nothing to wait on here
        await stop_task(self.watcher)
        self.read()

    def first_acknowledged_after(self, moment: float) -> float | None:
        return min((at for a in self.asks for at in a.acknowledged if at >= moment),
                   default=None)


async def stop_task(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@dataclass
class Audit:
    """The ledger against what the bot acknowledged."""

    asks: int
    acknowledged: int
    lost: int  # acknowledged, but no +5 ask row (or not +5)
    doubled: int  # two items or two award rows for one ask: its effect doubled
    done_unanswered: int  # recorded and awarded, but the answer was lost with a killed process
    unanswered: int  # no answer and nothing recorded: the member never heard back
    try_again: int  # answered "try again" (the database failed under it)
    ledger_points: int
    expected_points: int  # +5 per acknowledged ask, and per recorded unanswered one
    # its one answer sent twice: the process was killed after Telegram took the kept reply and
    # before it recorded so, and the redelivered update's process sent it again (replies are
    # sent at least once; a crash in that window cannot be told apart from one just before)
    answered_twice: int = 0

    @property
    def ok(self) -> bool:
        return (self.lost == 0 and self.doubled == 0
                and self.ledger_points == self.expected_points)


async def audit(url: str, asks: list[Ask]) -> Audit:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT f.text, count(DISTINCT f.id), count(l.id), coalesce(sum(l.points), 0) "
                "FROM favours f LEFT JOIN ledger l ON l.reason = 'ask' "
                "AND l.source = 'favour:' || f.id WHERE f.kind = 'ask' GROUP BY f.text"))).all()
            total = (await conn.execute(text(
                "SELECT coalesce(sum(points), 0) FROM ledger WHERE reason = 'ask'"))).scalar()
    finally:
        await engine.dispose()
    found = {row[0]: (int(row[1]), int(row[2]), int(row[3])) for row in rows}
    lost = doubled = done_unanswered = unanswered = acknowledged = try_again = twice = 0
    for ask in asks:
        items, awards, points = found.get(ask.text, (0, 0, 0))
        acks = len(ask.acknowledged)
        acknowledged += acks > 0
        try_again += bool(ask.refused_for_now)
        if items > 1 or awards > 1:
            doubled += 1
        twice += acks > 1
        if acks and (awards != 1 or points != ASK_POINTS):
            lost += 1
        if not acks and awards:
            done_unanswered += 1
        if not ask.answers and not items:
            unanswered += 1
    expected = ASK_POINTS * (acknowledged + done_unanswered)
    return Audit(len(asks), acknowledged, lost, doubled, done_unanswered, unanswered, try_again,
                 int(total or 0), expected, twice)


@dataclass
class Bot:
    """One `crewbot run` process; its log goes to a file (a pipe nobody reads would fill)."""

    name: str
    proc: asyncio.subprocess.Process
    port: int
    log: IO[bytes]

    @property
    def readyz(self) -> str:
        return f"http://127.0.0.1:{self.port}/readyz"

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None


class Fleet:
    """Identical `crewbot run` processes on one database, each its own caller of the fake."""

    def __init__(self, tg: FakeTelegram, database: str, workdir: Path) -> None:
        self.tg = tg
        self.database = database
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.bots: list[Bot] = []

    async def add(self) -> Bot:
        name = f"p{len(self.bots) + 1}"
        port = free_port()
        env = clean_env(CREWBOT_DATABASE_URL=self.database, CREWBOT_HEALTH_PORT=str(port),
                        CREWBOT_TELEGRAM_TOKEN=self.tg.token,
                        CREWBOT_TELEGRAM_API_URL=self.tg.via_url(name))
        log = (self.workdir / f"{name}.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            str(CREWBOT), "run", env=env, cwd=self.workdir, stdin=asyncio.subprocess.DEVNULL,
            stdout=log, stderr=log)
        bot = Bot(name, proc, port, log)
        self.bots.append(bot)
        return bot

    async def ready(self, bot: Bot, timeout: float = 60) -> JSON:
        async with asyncio.timeout(timeout):
            while True:
                status, body = await get_json(bot.readyz, timeout=3)
                if status == 200:
                    return dict(body)
                if not bot.alive:
                    raise AssertionError(f"{bot.name} exited: see {bot.log.name}")
                await asyncio.sleep(0.1)  # another process starting: nothing to wait on

    async def role(self, bot: Bot) -> str | None:
        _, body = await get_json(bot.readyz, timeout=3)
        return body.get("roles", {}).get("telegram") if isinstance(body, dict) else None

    async def poller(self, timeout: float = 30) -> Bot:
        """The one live process whose /readyz says it polls (waits for one)."""
        async with asyncio.timeout(timeout):
            while True:
                for bot in self.bots:
                    if bot.alive and await self.role(bot) == "polling":
                        return bot
                await asyncio.sleep(0.1)  # an election in another process: nothing to wait on

    async def next_poll(self, besides: str, after: float, timeout: float = 30) -> float:
        """When the fake first saw getUpdates from a caller other than `besides` after `after`."""
        async with asyncio.timeout(timeout):
            while True:
                times = [c.at for c in self.tg.polls if c.caller != besides and c.at > after]
                if times:
                    return min(times)
                await asyncio.sleep(0.02)  # a poll from another process

    @staticmethod
    def kill(bot: Bot) -> None:
        bot.proc.send_signal(signal.SIGKILL)

    async def close(self) -> None:
        for bot in self.bots:
            if bot.alive:
                bot.proc.terminate()
        for bot in self.bots:
            try:
                async with asyncio.timeout(15):
                    await bot.proc.wait()
            except TimeoutError:
                bot.proc.kill()
                await bot.proc.wait()
            bot.log.close()
