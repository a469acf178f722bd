"""Section 1: the cost of each game action through Game.handle, beside a bare insert-and-commit."""

from __future__ import annotations

import asyncio
import itertools
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, event, insert

from bench.common import (
    SQLITE,
    START,
    Report,
    Row,
    Settings,
    bot_cpu,
    fresh_database,
    median,
    ms,
    now,
    percentile,
    rate,
    server_cpu,
    verdict,
)
from bot.app import App, freeze_startup_heap, open_app
from bot.clock import SimClock
from bot.commands.events import Actor, Chat, CommandReceived, Event, Message, ReactionChanged
from storage.sqlite_loop import loop_sqlite

SECTION = "1. Game actions"
ACTIONS = ("/checkin", "reaction", "/ask", "/offer", "/thanks", "/here", "/leaderboard")
MEMBERS = 6
P99_TARGET = 0.005
RATE_TARGET = 1_000.0
CPU_TARGET = 1 / RATE_TARGET  # the bot's CPU per action for 1,000 actions/s on one core
WARM_UP = 99  # the round number of the untimed warm-up crews

Expect = Callable[[list[Message]], bool]


@dataclass
class Crew:
    chat: Chat
    people: list[Actor]


@dataclass
class Block:
    """Latencies of one run of one action over every crew, and the SQL it took."""

    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    statements: int = 0
    cpu: float = 0.0  # this process's CPU seconds over the block
    server: float | None = None  # the local PostgreSQL server's, where it can be read

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0


class Counter:
    """Counts the SQL statements sent, to explain the ratio to the floor: SQLAlchemy's event
    listeners on the engines, and asyncpg's query logger for the statements sent on its own
    API (production code counts nothing). Attached for the untimed warm-up round only, so
    its own cost is in no timed figure."""

    def __init__(self, app: App) -> None:
        self.count = 0
        self.listening: list[tuple[Any, str, Callable[..., None]]] = [
            (app.engine.sync_engine, "before_cursor_execute", self.seen)]
        loop = loop_sqlite(app.engine)
        if loop is not None:  # the units of work's engine; its BEGIN IMMEDIATE goes to sqlite3
            self.listening += [(loop.engine, "before_cursor_execute", self.seen),
                               (loop.engine, "begin", self.seen)]
        self.watched: weakref.WeakSet[Any] = weakref.WeakSet()
        if app.engine.dialect.name == "postgresql":
            self.listening.append((app.engine.sync_engine, "checkout", self.checked_out))
        for target, name, listener in self.listening:
            event.listen(target, name, listener)

    def seen(self, *_: Any) -> None:
        self.count += 1

    def logged(self, query: Any) -> None:
        # SQLAlchemy's own BEGIN and COMMIT go through asyncpg too: not statements here
        first = query.query.split(None, 1)[0].rstrip(";").upper()
        if first not in ("BEGIN", "COMMIT", "ROLLBACK"):
            self.count += 1

    def checked_out(self, _dbapi: Any, record: Any, _proxy: Any) -> None:
        driver = record.driver_connection  # asyncpg's connection
        if driver is not None and driver not in self.watched:
            driver.add_query_logger(self.logged)
            self.watched.add(driver)

    def detach(self) -> None:
        for target, name, listener in self.listening:
            event.remove(target, name, listener)
        for driver in list(self.watched):
            driver.remove_query_logger(self.logged)


class Feeder:
    """Builds platform-like events (fresh message and event ids) and times Game.handle.

    One at a time by default; with `at_once`, every crew's events run as its own task, each
    crew's in order, as the adapters handle chats (the latency then includes waiting for the
    others)."""

    def __init__(self, app: App, counter: Counter, server_url: str | None = None) -> None:
        self.app = app
        self.counter = counter
        self.ids = itertools.count(1)
        self.at_once = False
        self.server_url = server_url  # PostgreSQL's: its CPU is read around each block

    def command(self, crew: Crew, who: Actor, text: str, reply_to: str | None = None
                ) -> CommandReceived:
        n = next(self.ids)
        return CommandReceived(crew.chat, who, text, message_id=str(n), reply_to=reply_to,
                               event_id=f"bench:{n}")

    def reaction(self, crew: Crew, who: Actor, message_id: str) -> ReactionChanged:
        return ReactionChanged(crew.chat, who, message_id, "\U0001f44d", True,
                               event_id=f"bench:{next(self.ids)}")

    async def run(self, events: Sequence[Event], expect: Expect, what: str) -> Block:
        block = Block()
        handle = self.app.game.handle

        async def play(queue: Sequence[Event]) -> None:
            for item in queue:
                began = now()
                out = await handle(item)
                block.latencies.append(now() - began)
                if not expect(out):
                    raise RuntimeError(f"bench: {what} took an unexpected path: "
                                       f"{[m.plain()[:120] for m in out]}")

        before = self.counter.count
        server_before = server_cpu(self.server_url)
        cpu_before = bot_cpu()
        start = now()
        if self.at_once:
            crews: dict[str, list[Event]] = {}
            for item in events:
                crews.setdefault(item.chat.chat_id, []).append(item)
            await asyncio.gather(*(play(queue) for queue in crews.values()))
        else:
            await play(events)
        block.wall = now() - start
        block.cpu = bot_cpu() - cpu_before
        server_after = server_cpu(self.server_url)
        if server_before is not None and server_after is not None:
            block.server = server_after - server_before
        block.statements = self.counter.count - before
        return block

    async def untimed(self, events: Sequence[Event], expect: Expect, what: str) -> None:
        await self.run(events, expect, what)


def says(fragment: str) -> Expect:
    return lambda out: bool(out) and not out[0].private and fragment in out[0].plain()


def make_crews(count: int, round_no: int) -> list[Crew]:
    crews = []
    for c in range(count):
        chat = Chat("telegram", str(-1001000000000 - round_no * 10_000 - c), f"Crew {c}")
        people = [Actor(f"{round_no}-{c}-{k}", f"Member{k} C{c}", is_admin=k == 0,
                        handle=f"m{k}c{c}r{round_no}") for k in range(MEMBERS)]
        crews.append(Crew(chat, people))
    return crews


async def one_round(feed: Feeder, crews: list[Crew]) -> dict[str, Block]:
    """Every action once per member of every crew (reactions: every member to every other)."""
    blocks: dict[str, Block] = {}
    checkins = [[feed.command(c, p, "/checkin a long week, glad to be here") for p in c.people]
                for c in crews]
    await feed.untimed([feed.command(c, p, "/join") for c in crews for p in c.people],
                       says("Welcome"), "/join")
    blocks["/checkin"] = await feed.run([e for row in checkins for e in row],
                                        says("checked in"), "/checkin")
    completed = 0

    def heard(out: list[Message]) -> bool:
        nonlocal completed
        if out and "The circle is complete" in out[0].plain():
            completed += 1
            return True
        return out == []

    reactions = [feed.reaction(c, listener, checkins[i][a].message_id or "")
                 for i, c in enumerate(crews) for listener in c.people
                 for a, author in enumerate(c.people) if author != listener]
    blocks["reaction"] = await feed.run(reactions, heard, "reaction")
    if completed != len(crews):
        raise RuntimeError(f"bench: {completed} of {len(crews)} circles completed")
    asks = [[feed.command(c, p, "/ask a lift to the station on Friday") for p in c.people]
            for c in crews]
    blocks["/ask"] = await feed.run([e for row in asks for e in row], says("asks"), "/ask")
    offers = [[feed.command(c, p, "/offer I can drive you",
                            reply_to=asks[i][(k + 1) % MEMBERS].message_id)
               for k, p in enumerate(c.people)] for i, c in enumerate(crews)]
    blocks["/offer"] = await feed.run([e for row in offers for e in row],
                                      says("offers something to"), "/offer")
    thanks = [feed.command(c, c.people[(k + 1) % MEMBERS], "/thanks",
                           reply_to=offers[i][k].message_id)
              for i, c in enumerate(crews) for k in range(MEMBERS)]
    blocks["/thanks"] = await feed.run(thanks, says("thanks"), "/thanks")
    await feed.untimed([feed.command(c, c.people[0], "/meeting now") for c in crews],
                       says("The meeting has started"), "/meeting now")
    blocks["/here"] = await feed.run([feed.command(c, p, "/here") for c in crews
                                      for p in c.people], says("is here"), "/here")
    blocks["/leaderboard"] = await feed.run(
        [feed.command(c, p, "/leaderboard") for c in crews for p in c.people],
        says("Crew total"), "/leaderboard")
    return blocks


FLOOR = MetaData()
FLOOR_TABLE = Table("bench_floor", FLOOR, Column("id", Integer, primary_key=True),
                    Column("note", String(64), nullable=False))


async def floor_block(app: App, counter: Counter, count: int) -> Block:
    """The floor: one row inserted and committed per call, on the connections the units of
    work use (same engine, driver and pragmas)."""
    loop = loop_sqlite(app.engine)
    connect = loop.connect if loop is not None else app.engine.connect
    statement = insert(FLOOR_TABLE)
    block = Block()
    before = counter.count
    start = now()
    for i in range(count):
        began = now()
        conn = await connect()
        try:
            await conn.execute(statement, {"note": f"row {i}"})
            await conn.commit()
        finally:
            await conn.close()
        block.latencies.append(now() - began)
    block.wall = now() - start
    block.statements = counter.count - before
    return block


async def measure(settings: Settings, backend: str) -> dict[str, list[Block]]:
    url = await fresh_database(settings, backend, "actions")
    clock = SimClock(START)
    app = await open_app(url, clock)
    app.game.throttle.enabled = False  # the hot path is measured, not the rate limit
    try:
        async with app.engine.begin() as conn:
            await conn.run_sync(FLOOR.create_all)
        counter = Counter(app)
        feed = Feeder(app, counter, None if backend == SQLITE else url)
        results: dict[str, list[Block]] = {name: [] for name in ("floor", *ACTIONS)}
        results.update({at_once(name): [] for name in ACTIONS})
        samples = settings.sizes.crews * MEMBERS
        # Warm-up, untimed: compiled-statement caches, prepared statements, the pool; the
        # statements are counted here, the counter detached before anything is timed.
        clock.move_to(START - timedelta(days=32))
        results[counted("floor")] = [await floor_block(app, counter, 20)]
        for name, block in (await one_round(feed, make_crews(1, WARM_UP))).items():
            results[counted(name)] = [block]
        counter.detach()
        freeze_startup_heap()  # as `crewbot run` does once started
        rounds = settings.sizes.rounds
        for round_no in range(2 * rounds):  # one at a time, then every crew at once
            feed.at_once = round_no >= rounds
            clock.move_to(START + timedelta(days=32 * round_no))
            if not feed.at_once:
                results["floor"].append(await floor_block(app, counter, max(samples, 100)))
            for name, block in (await one_round(feed, make_crews(settings.sizes.crews,
                                                                 round_no))).items():
                results[at_once(name) if feed.at_once else name].append(block)
        return results
    finally:
        await app.close()


def summarise(blocks: list[Block]) -> tuple[float, float, float]:
    """(median actions/s over rounds, p50 and p99 over every sample)."""
    pooled = [x for b in blocks for x in b.latencies]
    return (median(b.throughput for b in blocks), percentile(pooled, 50),
            percentile(pooled, 99))


def statements_per_call(blocks: list[Block]) -> float:
    """SQL statements per call, in the warm-up blocks the counter was attached for."""
    return sum(b.statements for b in blocks) / max(1, sum(len(b.latencies) for b in blocks))


def counted(action: str) -> str:
    return f"{action} counted"


def cpu_per_action(blocks: list[Block]) -> tuple[float, float | None]:
    """(the bot's CPU seconds per action, the PostgreSQL server's or None): the median over
    rounds, as for actions/s, so that one block that met a garbage collection or a noisy
    neighbour does not decide it."""
    bot = median(b.cpu / max(1, len(b.latencies)) for b in blocks)
    servers = [b.server / max(1, len(b.latencies)) for b in blocks if b.server is not None]
    return bot, (median(servers) if servers and len(servers) == len(blocks) else None)


def cpu_note(blocks: list[Block]) -> str:
    bot, server = cpu_per_action(blocks)
    text = f"bot CPU {bot * 1000:.2f} ms/action ({1 / max(bot, 1e-9):,.0f}/s on one core)"
    return text + (f", PostgreSQL server CPU {server * 1000:.2f} ms/action"
                   if server is not None else "")


def at_once(action: str) -> str:
    return f"{action} at once"


def label(action: str) -> str:
    return "reaction (listening)" if action == "reaction" else action


async def run(settings: Settings, report: Report) -> None:
    for backend in settings.backends:
        results = await measure(settings, backend)
        f_rate, f_p50, f_p99 = summarise(results["floor"])
        f_sql = statements_per_call(results[counted("floor")])
        report.add(Row(
            key=f"actions.floor.{backend}", section=SECTION,
            measure="floor: insert+commit of 1 row", backend=backend,
            result=rate(f_rate, "rows/s"), p50=ms(f_p50), p99=ms(f_p99), vs="1.0x",
            note=f"{f_sql:.0f} SQL + commit; {len(results['floor'])} rounds"))
        for action in ACTIONS:
            a_rate, a_p50, a_p99 = summarise(results[action])
            a_sql = statements_per_call(results[counted(action)])
            if backend == SQLITE:  # the database runs in the bot's process, on its core
                target = "p99 < 5 ms, >= 1,000/s"
                judged = verdict(a_rate >= RATE_TARGET and a_p99 < P99_TARGET)
            else:  # judged on the bot's CPU with crews at once (below)
                target = judged = ""
            samples = sum(len(b.latencies) for b in results[action])
            bound = ("" if backend == SQLITE else
                     "; BEGIN, each statement and COMMIT wait for the server in turn, as the "
                     "floor's BEGIN, INSERT and COMMIT do")
            report.add(Row(
                key=f"actions.{action}.{backend}", section=SECTION, measure=label(action),
                backend=backend, result=rate(a_rate, "actions/s"), p50=ms(a_p50),
                p99=ms(a_p99), vs=f"{a_p50 / f_p50:.1f}x", target=target, verdict=judged,
                note=f"{a_sql:.1f} SQL/action + commit; n={samples}; one at a time; "
                     f"{cpu_note(results[action])}{bound}"))
        crews = settings.sizes.crews
        for action in ACTIONS:
            blocks = results[at_once(action)]
            c_rate, c_p50, c_p99 = summarise(blocks)
            samples = sum(len(b.latencies) for b in blocks)
            if backend == SQLITE:
                target = judged = ""
                judging = "shown to compare, the targets are judged one at a time"
            else:
                target = "bot >= 1,000/s on one core"
                judged = verdict(cpu_per_action(blocks)[0] <= CPU_TARGET)
                judging = ("judged on the bot's CPU per action: the server, on the other "
                           "core, bounds the throughput")
            report.add(Row(
                key=f"actions.{action}.{backend}.at_once", section=SECTION,
                measure=f"{label(action)}, {crews} crews at once", backend=backend,
                result=rate(c_rate, "actions/s"), p50=ms(c_p50), p99=ms(c_p99),
                vs=f"{c_rate / max(1e-9, summarise(results[action])[0]):.1f}x one at a time",
                target=target, verdict=judged,
                note=f"n={samples}; each crew's events in order, the crews concurrently (as "
                     f"the adapters run them); latency includes waiting for the other crews; "
                     f"{judging}; {cpu_note(blocks)}"))
