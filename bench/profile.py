"""cProfile of one harness workload: `python -m bench.profile actions|tallies [--pg] [--top N]`."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta

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


WORKLOADS: dict[str, Callable[[Settings, str, cProfile.Profile], Awaitable[str]]] = {
    "actions": profile_actions,
    "tallies": profile_tallies,
}


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
    for key in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(key).print_stats(args.top)
        print(text.getvalue())
    if args.out:
        profiler.dump_stats(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
