"""Where the time goes: `python -m bench.profile actions|tallies|calls|statements [--pg]`."""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import functools
import inspect
import io
import pstats
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bench import actions, due
from bench.common import (
    DEFAULT_PG_URL,
    POSTGRES,
    QUICK,
    SQLITE,
    START,
    Settings,
    check_pg_url,
    ensure_pg_database,
    fresh_database,
    pin_to_one_cpu,
    workdir,
)
from bot.app import App, open_app
from bot.clock import SimClock
from bot.commands.events import Event
from storage.models import MemberRow
from storage.repositories.base import Db
from storage.unit_of_work import REPOSITORIES, SqlStore


async def profile_actions(settings: Settings, backend: str, profiler: cProfile.Profile) -> str:
    url = await fresh_database(settings, backend, "profile")
    clock = SimClock(START)
    app = await open_app(url, clock)
    try:
        feed = actions.Feeder(app, actions.Counter(app))
        await actions.one_round(feed, actions.make_crews(2, 0))  # warm
        clock.move_to(START + timedelta(days=32))
        profiler.enable()
        blocks = await actions.one_round(feed, actions.make_crews(settings.sizes.crews, 1))
        profiler.disable()
        return ", ".join(f"{name} {actions.summarise([b])[1] * 1000:.1f} ms"
                         for name, b in blocks.items())
    finally:
        await app.close()


async def profile_tallies(settings: Settings, backend: str, profiler: cProfile.Profile) -> str:
    url = await fresh_database(settings, backend, "profile")
    app: App = await open_app(url, SimClock(START))
    try:
        await due.load(app.engine, settings.sizes.due_crews, settings.sizes.due_tallies)
        profiler.enable()
        took = await due.tally_tick([app.game], app.engine, settings.sizes.due_tallies,
                                    settings.sizes.due_tallies)
        profiler.disable()
        return f"{settings.sizes.due_tallies} tallies in {took:.2f} s"
    finally:
        await app.close()


async def store_calls(settings: Settings, backend: str, _: cProfile.Profile) -> str:
    """Which store methods each action calls, how often and for how long (no cProfile)."""
    calls: collections.Counter[str] = collections.Counter()
    spent: collections.Counter[str] = collections.Counter()

    def wrap(name: str, method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(method)
        async def counted(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            began = time.perf_counter()
            try:
                return await method(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - began

        return counted

    owners = [(SqlStore, ""), *((cls, f"{name}.") for name, cls in REPOSITORIES.items())]
    for owner, prefix in owners:
        for name, method in list(vars(owner).items()):  # this process only
            if inspect.iscoroutinefunction(method):
                setattr(owner, name, wrap(prefix + name, method))
    url = await fresh_database(settings, backend, "profile")
    clock = SimClock(START)
    app = await open_app(url, clock)
    lines = []
    try:
        feed = actions.Feeder(app, actions.Counter(app))
        await actions.one_round(feed, actions.make_crews(2, 0))  # warm
        clock.move_to(START + timedelta(days=32))
        plain_run = feed.run

        async def run(events: Sequence[Event], expect: actions.Expect, what: str
                      ) -> actions.Block:
            calls.clear()
            spent.clear()
            block = await plain_run(events, expect, what)
            n = len(events)
            if what not in ("/join", "/meeting now"):
                lines.append(f"{what}: p50 {actions.percentile(block.latencies, 50) * 1000:.1f}"
                             f" ms, {block.statements / n:.1f} SQL per action")
                for method, count in sorted(calls.items(), key=lambda kv: -spent[kv[0]]):
                    lines.append(f"    {method:24s} {count / n:5.2f} per action "
                                 f"{spent[method] / n * 1000:6.2f} ms")
            return block

        feed.run = run  # type: ignore[method-assign]
        await actions.one_round(feed, actions.make_crews(settings.sizes.crews, 1))
    finally:
        await app.close()
    return "store calls per action\n" + "\n".join(lines)


async def statement_costs(settings: Settings, backend: str, _: cProfile.Profile) -> str:
    """The cost of one statement through each layer of the stack, one layer at a time."""
    url = await fresh_database(settings, backend, "profile")
    app = await open_app(url, SimClock(START))
    n = 1_000
    out = []

    async def timed(label: str, work: Callable[[int], Awaitable[Any]]) -> None:
        began = time.perf_counter()
        for i in range(n):
            await work(i)
        out.append(f"    {label:52s} {(time.perf_counter() - began) / n * 1e6:7.0f} us")

    try:
        async with app.game.uow() as store:
            crew = await store.crews.add_crew("telegram", "-1", "Crew", START)
            member = await store.crews.add_member(crew.id, "u1", "Member", START)
            await store.commit()
        table = MemberRow.__table__
        if backend == SQLITE:
            raw = sqlite3.connect(url)
            await timed("sqlite3, no thread: SELECT by key",
                        lambda i: asyncio.sleep(0, raw.execute(
                            "SELECT * FROM members WHERE id = ?", (member.id,)).fetchall()))
            raw.close()
        async with app.engine.connect() as conn:
            prebuilt = select(table).where(table.c.id == member.id)
            await timed("SQLAlchemy exec_driver_sql: SELECT by key", lambda i: conn.exec_driver_sql(
                f"SELECT * FROM members WHERE id = {member.id}"))
            await timed("SQLAlchemy Core, statement built once", lambda i: conn.execute(prebuilt))
            await timed("SQLAlchemy Core, statement built per call",
                        lambda i: conn.execute(select(table).where(table.c.id == member.id)))
            await conn.rollback()
        async with app.engine.connect() as conn:
            store = SqlStore(Db(conn))
            await timed("ORM: SqlCrews.member (entity)",
                        lambda i: store.crews.member(crew.id, "u1"))
            await timed("ORM: SqlStore.first_seen (insert on conflict)",
                        lambda i: store.first_seen("telegram", f"p{i}", START, "chat"))
            await conn.rollback()

        async def minimal(i: int) -> None:
            async with app.game.uow() as store:
                await store.first_seen("telegram", f"q{i}", START, "chat")
                await store.commit()

        await timed("unit of work: first_seen + commit", minimal)
    finally:
        await app.close()
    return "one statement through each layer\n" + "\n".join(out)


WORKLOADS: dict[str, Callable[[Settings, str, cProfile.Profile], Awaitable[str]]] = {
    "actions": profile_actions,
    "tallies": profile_tallies,
    "calls": store_calls,
    "statements": statement_costs,
}
PROFILED = ("actions", "tallies")  # the others print their own figures, no cProfile table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("--pg", action="store_true", help="on PostgreSQL instead of SQLite")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--out", help="also save the raw profile here (for snakeviz etc.)")
    args = parser.parse_args(argv)
    settings = Settings(mode="profile", sizes=QUICK,
                        pg_url=check_pg_url(args.pg_url) if args.pg else None,
                        workdir=workdir(), pin=True, limit_model="window", command="")
    pin_to_one_cpu()
    profiler = cProfile.Profile()

    async def go() -> str:
        if settings.pg_url and await ensure_pg_database(settings.pg_url) is None:
            raise SystemExit("bench: PostgreSQL is not reachable")
        return await WORKLOADS[args.workload](settings, POSTGRES if args.pg else SQLITE,
                                              profiler)

    summary = asyncio.run(go())
    print(f"{args.workload}: {summary}")
    if args.workload not in PROFILED:
        return 0
    for key in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(key).print_stats(args.top)
        print(text.getvalue())
    if args.out:
        profiler.dump_stats(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
