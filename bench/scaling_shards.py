"""Benchmark: Discord's gateway split into 4 shards over 2 `crewbot run` processes (shards 0-1
and 2-3) against the fake gateway, beside the same 4 shards in 1 process: events/s per process,
which process handled which guild (from each process's own log), commands synced, start-up.

    .venv/bin/python -m bench.scaling_shards [--quick] [--asks N] [--database URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from storage.engine import empty_public_schema, redacted
from tests.fakes.discord_api import FakeDiscord, shard_of
from tests.processes import CREWBOT, Logged, clean_env, free_port, logged, until

COUNT = 4
MEMBERS = 3
CREW_LINE = re.compile(r"event=\w+ platform=discord crew=(\d+)")


@dataclass
class Process:
    name: str
    shards: str  # CREWBOT_DISCORD_SHARD_IDS, "" for every shard
    run: Logged | None = None
    ready_after: float = 0.0  # launch to /readyz 200, seconds
    health: str = ""

    def chats(self) -> dict[int, int]:
        """Chat id -> events this process handled there, from its own log lines."""
        seen: dict[int, int] = {}
        for line in self.run.lines if self.run else []:
            if m := CREW_LINE.search(line):
                seen[int(m[1])] = seen.get(int(m[1]), 0) + 1
        return seen


@dataclass
class Layout:
    title: str
    processes: list[Process]
    syncs: int = 0
    identifies: list[list[int]] = field(default_factory=list)
    elapsed: dict[int, float] = field(default_factory=dict)  # guild -> seconds to its last answer
    answered: int = 0
    asked: int = 0


def guild_ids(count: int) -> list[int]:
    """Snowflake-shaped guild ids spread evenly over the shards, (id >> 22) % COUNT."""
    return [((0x3A00000 + n) << 22) | 7 for n in range(count)]


def world(fake: FakeDiscord, guilds: list[int]) -> None:
    for n, guild in enumerate(guilds):
        fake.add_guild(guild, f"Crew {n}", 800000000000000001)
        fake.add_channel(guild, guild + 100, "general")
        for member in range(MEMBERS):
            fake.add_member(guild, 800000000000000001 + member, f"member{member}")


@contextlib.asynccontextmanager
async def started(fake: FakeDiscord, layout: Layout, database: str, workdir: Path
                  ) -> AsyncIterator[None]:
    """Launches every process of the layout at the same moment; returns when all are ready."""
    async with contextlib.AsyncExitStack() as stack:
        launched = time.monotonic()
        for proc in layout.processes:
            port = free_port()
            settings = {"CREWBOT_DISCORD_SHARD_COUNT": str(COUNT)}
            if proc.shards:
                settings["CREWBOT_DISCORD_SHARD_IDS"] = proc.shards
            env = clean_env(CREWBOT_DATABASE_URL=database, CREWBOT_DISCORD_TOKEN=fake.token,
                            CREWBOT_DISCORD_API_URL=fake.api_base.removesuffix("/api/v10"),
                            CREWBOT_HEALTH_PORT=str(port), CREWBOT_TICK_SECONDS="3600",
                            **settings)
            proc.run = await stack.enter_async_context(logged([str(CREWBOT), "run"], env,
                                                              workdir))
            proc.health = f"http://127.0.0.1:{port}/readyz"

        async def ready(proc: Process) -> None:
            await until(proc.health, 200, 180)
            proc.ready_after = time.monotonic() - launched

        await asyncio.gather(*(ready(proc) for proc in layout.processes))
        yield


async def crew_asks(fake: FakeDiscord, guild: int, asks: int, started_at: float,
                    layout: Layout) -> None:
    """One crew's members asking in turn, each waiting for the answer (a closed loop)."""
    for n in range(asks):
        payload = fake.interaction_command(
            guild, guild + 100, 800000000000000001 + n % MEMBERS, "ask",
            [{"name": "text", "type": 3, "value": f"help {n}"}])
        layout.asked += 1
        await fake.dispatch("INTERACTION_CREATE", payload)
        await fake.wait_for("callback", lambda c, i=payload["id"]: c.params["interaction"] == i,
                            timeout=60)
        layout.answered += 1
    layout.elapsed[guild] = time.monotonic() - started_at


async def measure(layout: Layout, database: str, guilds: int, asks: int,
                  max_concurrency: int, workdir: Path) -> Layout:
    if database.startswith("postgresql"):
        await empty_public_schema(database)
    ids = guild_ids(guilds)
    async with FakeDiscord(recommended_shards=COUNT, max_concurrency=max_concurrency,
                           interaction_deadline=30.0) as fake:
        world(fake, ids)
        async with started(fake, layout, database, workdir):
            layout.syncs = len(fake.calls_of("command_sync"))
            layout.identifies = sorted(c.body["shard"] for c in fake.calls_of("identify"))
            begin = time.monotonic()
            await asyncio.gather(*(crew_asks(fake, g, asks, begin, layout) for g in ids))
            await asyncio.sleep(0.5)  # the log lines follow the answers
    return layout


def owner_of(layout: Layout, guild: int) -> Process | None:
    """The process whose log shows the guild's events, if exactly one does."""
    owners = [p for p in layout.processes if guild + 100 in p.chats()]
    return owners[0] if len(owners) == 1 else None


def rows(layout: Layout, guilds: list[int]) -> list[str]:
    out = []
    for proc in layout.processes:
        mine = [g for g in guilds if owner_of(layout, g) is proc]
        events = sum(proc.chats().values())
        seconds = max((layout.elapsed[g] for g in mine), default=0.0)
        rate = f"{events / seconds:,.0f}" if seconds else "-"
        shards = sorted({shard_of(g, COUNT) for g in mine})
        out.append(f"| {layout.title} | {proc.name} ({proc.shards or '0-3'}) | "
                   f"{proc.ready_after:.1f} | {len(mine)} (shards {shards}) | {events:,} | "
                   f"{rate} |")
    return out


def section(layouts: list[Layout], guilds: int, asks: int, max_concurrency: int,
            database: str) -> str:
    ids = guild_ids(guilds)
    where = redacted(database) if database.startswith("postgresql") else database
    lines = [
        "## Discord shards: 4 shards over 2 processes",
        "",
        f"The fake gateway (in the benchmark's process) serves {guilds} guilds, "
        f"{guilds // COUNT} per shard by Discord's formula `(guild_id >> 22) % {COUNT}`, and "
        f"recommends {COUNT} shards with `max_concurrency` {max_concurrency}. Real `crewbot run` "
        f"processes (real discord.py `AutoShardedClient`) on {where}: once as 2 "
        f"processes with `CREWBOT_DISCORD_SHARD_COUNT={COUNT}` and "
        "`CREWBOT_DISCORD_SHARD_IDS` `0-1` / `2-3`, once as 1 process with all 4. In every "
        f"guild one member at a time sends `/ask` and waits for the answer ({asks} asks a "
        f"guild, {guilds * asks:,} in all, {guilds} in flight). Which process handled a "
        "guild is read from each process's own log lines (`crew=` of every event).",
        "",
        "| layout | process (shards) | ready after, s | guilds handled | events | events/s |",
        "|---|---|---|---|---|---|",
    ]
    for layout in layouts:
        lines += rows(layout, ids)
    lines += ["", "| layout | events/s, all processes | commands synced | IDENTIFY shards | "
              "answered / asked | guilds handled by exactly one process, on its own shards |",
              "|---|---|---|---|---|---|"]
    for layout in layouts:
        right = sum(1 for g in ids if (p := owner_of(layout, g)) is not None
                    and (not p.shards or shard_of(g, COUNT) in spread(p.shards)))
        total = layout.answered / max(layout.elapsed.values(), default=1.0)
        lines.append(f"| {layout.title} | {total:,.0f} | {layout.syncs} | {layout.identifies} | "
                     f"{layout.answered:,} / {layout.asked:,} | {right} of {len(ids)} |")
    load = os.getloadavg()
    lines += [
        "",
        f"Machine: {os.cpu_count()} cores shared with other work (load average "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end), the fake gateway and both "
        "bots on it: events/s are this machine's, useful to compare the layouts, not as "
        "Discord's figures; each answer also waits on the fake, so events/s is a floor, not "
        "a limit. The processes of a layout are launched at the same moment; ready after "
        "(launch to `/readyz` 200) includes Discord's IDENTIFY limit, kept across processes by "
        "turns on PostgreSQL (within the process only on SQLite): with `max_concurrency` 1 "
        "(Discord's for bots under 150,000 servers) the 4 shards identify 5 s apart whichever "
        "process runs them, with 16 at once.",
    ]
    return "\n".join(lines)


def spread(ids: str) -> set[int]:
    out: set[int] = set()
    for part in ids.split(","):
        first, _, last = part.partition("-")
        out.update(range(int(first), int(last or first) + 1))
    return out


def ok(layouts: list[Layout], guilds: int) -> bool:
    """The invariants: every ask answered, one sync per layout, every guild handled by exactly
    one process, which holds the guild's shard."""
    ids = guild_ids(guilds)
    for layout in layouts:
        if layout.answered != layout.asked or layout.syncs != 1:
            return False
        for g in ids:
            owner = owner_of(layout, g)
            if owner is None or (owner.shards and shard_of(g, COUNT) not in spread(owner.shards)):
                return False
    return True


async def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.scaling_shards", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="8 guilds, 5 asks each: seconds")
    p.add_argument("--asks", type=int, help="asks per guild (default 40, --quick 5)")
    p.add_argument("--repeats", type=int, help="runs of each layout, in turn (default 3, "
                   "--quick 1)")
    p.add_argument("--database", default=os.environ.get("CREWBOT_TEST_DATABASE_URL", ""),
                   help="PostgreSQL URL both processes share, emptied first (default: "
                   "CREWBOT_TEST_DATABASE_URL; unset: a SQLite file)")
    args = p.parse_args(argv)
    guilds = 8 if args.quick else 16
    asks = args.asks or (5 if args.quick else 40)
    repeats = args.repeats or (1 if args.quick else 3)
    max_concurrency = 16 if args.quick else 1  # 1 is Discord's for bots under 150,000 guilds
    with tempfile.TemporaryDirectory(prefix="crewbot-shards-") as tmp:
        workdir = Path(tmp)
        layouts = []
        for run in range(1, repeats + 1):  # the layouts in turn, so drifting load hits both
            for name, procs in (("2 processes", [Process("A", "0-1"), Process("B", "2-3")]),
                                ("1 process", [Process("A", "")])):
                title = f"{name}, run {run}" if repeats > 1 else name
                database = args.database or str(workdir / f"shards-{len(layouts)}.sqlite3")
                layouts.append(await measure(Layout(title, procs), database, guilds, asks,
                                             max_concurrency, workdir))
        print(section(layouts, guilds, asks, max_concurrency,
                      args.database or "a SQLite file"))
    return 0 if ok(layouts, guilds) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
