"""Discord shards: the real discord.py AutoShardedClient in `crewbot run` processes against the
fake gateway, which assigns each guild to shard (guild_id >> 22) % count as Discord does."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import discord.gateway
import discord.http
import pytest

from bot.adapters.discord_adapter import DiscordAdapter
from bot.config import ConfigError, PlatformRefused, from_env
from storage.engine import empty_public_schema
from tests.conftest import PG_URL
from tests.fakes.discord_api import FakeDiscord, shard_of
from tests.processes import CREWBOT, ROOT, Logged, clean_env, crewbot, free_port, logged, until

APP = 1300000000000000001
OWNER, ALICE, BOB = 800000000000000001, 800000000000000002, 800000000000000003
COUNT = 4
# One guild per shard of 4: a snowflake's top bits are its time, so (id >> 22) % 4 picks it.
GUILDS = [((0x3A00000 + shard) << 22) | 7 for shard in range(COUNT)]
CHANNEL = {guild: guild + 100 for guild in GUILDS}
CREW_LINE = re.compile(r"event=\w+ platform=discord crew=(\d+)")


def world(fake: FakeDiscord, guilds: list[int] = GUILDS) -> None:
    for n, guild in enumerate(guilds):
        fake.add_guild(guild, f"Crew {n}", OWNER)
        fake.add_channel(guild, CHANNEL[guild], "general")
        for user, name in ((OWNER, "olga"), (ALICE, "alice"), (BOB, "bob")):
            fake.add_member(guild, user, name)


@pytest.fixture
async def dc() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(application_id=APP, recommended_shards=COUNT,
                           max_concurrency=16) as fake:
        world(fake)
        yield fake


@pytest.fixture(autouse=True)
def discord_roots() -> Any:
    """The adapter's api_url points discord.py at the fake for the whole process: put back."""
    found = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    yield
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = found


def root_of(fake: FakeDiscord) -> str:
    return fake.api_base.removesuffix("/api/v10")


# -- settings


@pytest.mark.parametrize(("count", "ids", "problem"), [
    ("four", "", "CREWBOT_DISCORD_SHARD_COUNT must be a whole number of shards from 1"),
    ("0", "", "CREWBOT_DISCORD_SHARD_COUNT must be a whole number of shards from 1"),
    ("", "0-3", "CREWBOT_DISCORD_SHARD_IDS needs CREWBOT_DISCORD_SHARD_COUNT"),
    ("4", "2-5", "CREWBOT_DISCORD_SHARD_IDS lists shard 5, but CREWBOT_DISCORD_SHARD_COUNT is 4"),
    ("4", "3-1", "write ranges and numbers separated by commas, such as 0-3, 4,5 or 0-1,6"),
    ("4", "1;2", "write ranges and numbers separated by commas, such as 0-3, 4,5 or 0-1,6"),
])
def test_wrong_shard_settings_say_what_to_write(count, ids, problem):
    with pytest.raises(ConfigError) as refused:
        from_env({"CREWBOT_DISCORD_SHARD_COUNT": count, "CREWBOT_DISCORD_SHARD_IDS": ids})
    assert len(refused.value.problems) == 1 and problem in refused.value.problems[0]


@pytest.mark.parametrize(("count", "ids", "expected"), [
    ("", "", (None, None)),  # Discord's recommended count, every shard here
    ("4", "", (4, None)),  # the count alone: every shard of it in this process
    ("4", "0-1", (4, (0, 1))),
    ("8", "4,5", (8, (4, 5))),
    ("8", " 6, 0-1 ", (8, (0, 1, 6))),
])
def test_shard_settings(count, ids, expected):
    config = from_env({"CREWBOT_DISCORD_SHARD_COUNT": count, "CREWBOT_DISCORD_SHARD_IDS": ids})
    assert (config.discord_shard_count, config.discord_shard_ids) == expected


async def test_crewbot_run_refuses_ids_without_a_count_in_one_line(tmp_path):
    env = clean_env(CREWBOT_DATABASE_URL=str(tmp_path / "c.sqlite3"),
                    CREWBOT_DISCORD_SHARD_IDS="0-1")
    code, out, err = await crewbot("run", env=env, cwd=tmp_path)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "crewbot: CREWBOT_DISCORD_SHARD_IDS needs CREWBOT_DISCORD_SHARD_COUNT, the number of "
        "shards across all processes: set it too (for example 4, with 0-1 in one process and 2-3 "
        "in the other)"]


# -- one process, every shard Discord recommends


async def test_one_process_runs_the_recommended_shards_and_answers_every_guild(dc, app):
    assert sorted(shard_of(g, COUNT) for g in GUILDS) == [0, 1, 2, 3]
    adapter = DiscordAdapter(app.game, dc.token, api_url=root_of(dc), guild_ready_timeout=0.05)
    assert adapter.health() == {"ok": False, "shard_count": None, "shards": []}
    await adapter.start()
    try:
        await adapter.client.wait_until_ready()
        assert sorted(c.body["shard"] for c in dc.calls_of("identify")) == [
            [i, COUNT] for i in range(COUNT)]
        assert adapter.health() == {"ok": True, "shard_count": COUNT, "shards": [
            {"id": i, "ok": True} for i in range(COUNT)]}
        assert len(dc.calls_of("command_sync")) == 1  # once for the process, not per shard
        await ask_in_every_guild(dc, adapter)
        answers = [c.body["data"]["content"] for c in dc.calls_of("callback")]
        assert [a.split(".")[0] for a in answers] == ["alice asks (ask 1)"] * COUNT  # 4 crews
        assert {g.shard_id for g in adapter.client.guilds} == set(range(COUNT))

        assert await dc.disconnect_clients(4000) == COUNT  # every shard drops; each resumes
        assert len(await dc.wait_for("resume", count=COUNT)) == COUNT
        await dc.wait_shards(range(COUNT))
        async with asyncio.timeout(5):
            while not adapter.connected:
                await asyncio.sleep(0.01)
        await ask_in_every_guild(dc, adapter)
        answers = [c.body["data"]["content"] for c in dc.calls_of("callback")]
        assert [a.split(".")[0] for a in answers[COUNT:]] == ["alice asks (ask 2)"] * COUNT
    finally:
        await adapter.stop()
    assert adapter.errors == []


async def ask_in_every_guild(dc: FakeDiscord, adapter: DiscordAdapter) -> None:
    for guild in GUILDS:
        done = adapter.handled
        given = await dc.dispatch("INTERACTION_CREATE", dc.interaction_command(
            guild, CHANNEL[guild], ALICE, "ask", [{"name": "text", "type": 3, "value": "help"}]))
        assert given == 1  # only the session of the guild's shard gets it
        await adapter.wait_handled(done + 1)


async def test_shards_identify_as_fast_as_max_concurrency_allows(app):
    """Discord allows `max_concurrency` IDENTIFYs per 5 s, one per bucket (shard id modulo
    max_concurrency): with 2, shards 0 and 1 go at once, 2 and 3 wait their bucket's turn."""
    async with FakeDiscord(application_id=APP, recommended_shards=COUNT,
                           max_concurrency=2) as fake:
        world(fake)
        adapter = DiscordAdapter(app.game, fake.token, api_url=root_of(fake),
                                 guild_ready_timeout=0.05)
        await adapter.start()
        try:
            await adapter.client.wait_until_ready()
            at = {c.body["shard"][0]: c.at for c in fake.calls_of("identify")}
        finally:
            await adapter.stop()
    assert at[2] - at[0] >= 5 and at[3] - at[1] >= 5  # never two in one bucket within 5 s
    assert at[1] - at[0] < 5  # a second bucket does not wait for the first
    assert fake.identify_too_soon == []


@pytest.mark.skipif(not PG_URL, reason="IDENTIFY turns are shared through PostgreSQL; set "
                    "CREWBOT_TEST_DATABASE_URL (on SQLite the bot runs as one process)")
async def test_processes_started_together_take_turns_to_identify(tmp_path):
    """Discord's limit holds across processes: with max_concurrency 1, the 4 shards of 2
    processes started at the same moment identify one at a time, 5 s apart."""
    await empty_public_schema(PG_URL)
    async with FakeDiscord(application_id=APP, max_concurrency=1) as fake:
        world(fake)
        async with (bot_process(fake, PG_URL, tmp_path, CREWBOT_DISCORD_SHARD_COUNT="4",
                                CREWBOT_DISCORD_SHARD_IDS="0-1") as first,
                    bot_process(fake, PG_URL, tmp_path, CREWBOT_DISCORD_SHARD_COUNT="4",
                                CREWBOT_DISCORD_SHARD_IDS="2-3") as second):
            await until(first.health, 200, 90)
            await until(second.health, 200, 90)
        times = sorted(c.at for c in fake.calls_of("identify"))
    assert len(times) == 4 and fake.identify_too_soon == []
    assert all(b - a >= 5 for a, b in itertools.pairwise(times))


# -- shards split over real processes


@dataclass
class Bot:
    """A `crewbot run` process with its health URL."""

    run: Logged
    health: str

    @property
    def lines(self) -> list[str]:
        return self.run.lines

    def crews(self) -> set[int]:
        """The chats whose events this process handled, from its own log lines."""
        return {int(m[1]) for line in self.lines if (m := CREW_LINE.search(line))}


@contextlib.asynccontextmanager
async def bot_process(fake: FakeDiscord, database: str, cwd: Path,
                      **settings: str) -> AsyncIterator[Bot]:
    port = free_port()
    env = clean_env(CREWBOT_DATABASE_URL=database, CREWBOT_DISCORD_TOKEN=fake.token,
                    CREWBOT_DISCORD_API_URL=root_of(fake), CREWBOT_HEALTH_PORT=str(port),
                    CREWBOT_TICK_SECONDS="3600", **settings)
    async with logged([str(CREWBOT), "run"], env, cwd) as run:
        yield Bot(run, f"http://127.0.0.1:{port}/readyz")
    assert run.proc.returncode == 0, "".join(run.lines[-20:])
    assert "Traceback" not in run.text()


@pytest.fixture
async def shared_db(tmp_path) -> str:
    """The database both processes share: PostgreSQL where configured, else a SQLite file."""
    if PG_URL:
        await empty_public_schema(PG_URL)
        return PG_URL
    return str(tmp_path / "shared.sqlite3")


async def answer(fake: FakeDiscord, payload: dict) -> str:
    """Dispatches an interaction; the text of the bot's answer to it."""
    given = await fake.dispatch("INTERACTION_CREATE", payload)
    assert given == 1
    calls = await fake.wait_for("callback", lambda c: c.params["interaction"] == payload["id"],
                                timeout=30)
    return str(calls[-1].body["data"]["content"])


def slash(fake: FakeDiscord, guild: int, who: int, name: str, **options: Any) -> dict:
    types = {"member": 6}
    return fake.interaction_command(guild, CHANNEL[guild], who, name, [
        {"name": k, "type": types.get(k, 3), "value": str(v)} for k, v in options.items()])


def posted(fake: FakeDiscord, guild: int, text: str) -> dict:
    """The newest message in the guild's channel that contains `text`."""
    return next(m for m in reversed(fake.channel_messages(CHANNEL[guild])) if text in m["content"])


def button(message: dict, label: str) -> str:
    return next(c["custom_id"] for row in message["components"] for c in row["components"]
                if c.get("label") == label)


async def play_a_game(fake: FakeDiscord, guild: int) -> None:
    """A check-in circle to its point, then an ask, an offer and thanks, in one guild."""
    await answer(fake, slash(fake, guild, ALICE, "checkin", text=f"hello from {guild}"))
    await answer(fake, slash(fake, guild, BOB, "checkin", text=f"hi from {guild}"))
    for who, text in ((BOB, "alice checked in"), (ALICE, "bob checked in")):
        message = posted(fake, guild, text)
        await answer(fake, fake.interaction_button(guild, CHANNEL[guild], who, int(message["id"]),
                                                   button(message, "I listened")))
    await fake.wait_for("followup", lambda c: "circle is complete" in str(c.body)
                        and f"from {guild}" not in str(c.body), timeout=30)
    await answer(fake, slash(fake, guild, ALICE, "ask", text="an intro to a bookkeeper"))
    offer = await answer(fake, slash(fake, guild, BOB, "offer", member=ALICE, text="I know one"))
    message = posted(fake, guild, offer)
    thanks = await answer(fake, fake.interaction_button(
        guild, CHANNEL[guild], ALICE, int(message["id"]), button(message, "Thank you")))
    assert "alice thanks bob" in thanks


async def test_four_shards_over_two_processes(dc, shared_db, tmp_path):
    async with (bot_process(dc, shared_db, tmp_path, CREWBOT_DISCORD_SHARD_COUNT="4",
                            CREWBOT_DISCORD_SHARD_IDS="0-1") as first,
                bot_process(dc, shared_db, tmp_path, CREWBOT_DISCORD_SHARD_COUNT="4",
                            CREWBOT_DISCORD_SHARD_IDS="2,3") as second):
        ready = [await until(first.health, 200, 60), await until(second.health, 200, 60)]
        assert [r["checks"]["discord"] for r in ready] == [
            {"ok": True, "shard_count": 4, "shards": [{"id": 0, "ok": True},
                                                       {"id": 1, "ok": True}]},
            {"ok": True, "shard_count": 4, "shards": [{"id": 2, "ok": True},
                                                       {"id": 3, "ok": True}]}]
        assert sorted(c.body["shard"] for c in dc.calls_of("identify")) == [
            [0, 4], [1, 4], [2, 4], [3, 4]]
        # Commands synced once, by the process holding shard 0.
        assert len(dc.calls_of("command_sync")) == 1
        assert any("outcome=commands_not_synced" in line for line in second.lines)

        # A whole game in a guild on shard 1 (first process) and one on shard 2 (second).
        on_first, on_second = GUILDS[1], GUILDS[2]
        await asyncio.gather(play_a_game(dc, on_first), play_a_game(dc, on_second))
        for guild in GUILDS:  # and one command in every guild
            await answer(dc, slash(dc, guild, OWNER, "ask", text="anything"))
        await asyncio.sleep(0.5)  # the log lines follow the answers: let the readers catch up

        # Each process handled exactly its shards' guilds, as its own log says.
        assert first.crews() == {CHANNEL[GUILDS[0]], CHANNEL[GUILDS[1]]}
        assert second.crews() == {CHANNEL[GUILDS[2]], CHANNEL[GUILDS[3]]}
        handled = [line for line in first.lines + second.lines if CREW_LINE.search(line)]
        assert len(handled) == 2 * 7 + 4  # every event once, in one process

    code, out, err = await crewbot("export", env=clean_env(CREWBOT_DATABASE_URL=shared_db),
                                   cwd=tmp_path)
    assert code == 0, err
    points = {crew["chat_id"]: {m["name"]: m["points"] for m in crew["members"]}
              for crew in json.loads(out)["crews"]}
    for guild in (on_first, on_second):  # circle 1 point each; ask, offer, thanks 6 each
        assert {k: v for k, v in points[str(CHANNEL[guild])].items()
                if k in ("alice", "bob")} == {"alice": 7, "bob": 7}


# -- fatal gateway closes


async def run_until_it_ends(fake: FakeDiscord, tmp_path: Path, **settings: str
                            ) -> tuple[int, str]:
    env = clean_env(CREWBOT_DATABASE_URL=str(tmp_path / "c.sqlite3"),
                    CREWBOT_DISCORD_TOKEN=fake.token, CREWBOT_DISCORD_API_URL=root_of(fake),
                    **settings)
    code, _, err = await crewbot("run", env=env, cwd=tmp_path, timeout=60)
    return code, err


def last_line(err: str) -> str:
    return err.strip().splitlines()[-1]


async def test_sharding_required_ends_the_run_with_one_line(tmp_path):
    async with FakeDiscord(application_id=APP, max_guilds_per_shard=2) as fake:
        world(fake)  # 4 guilds: too many for one shard
        code, err = await run_until_it_ends(fake, tmp_path, CREWBOT_DISCORD_SHARD_COUNT="1")
        assert code == 1 and "Traceback" not in err
        assert last_line(err) == (
            "crewbot: Discord requires more shards: this bot is in too many servers for 1 "
            "shard(s) (gateway close 4011, sharding required): raise CREWBOT_DISCORD_SHARD_COUNT "
            "(the same in every process, its shards split with CREWBOT_DISCORD_SHARD_IDS) or "
            "unset it to use the count Discord recommends")

        fake.recommended_shards = 1  # Discord's own count too small: set one above it
        code, err = await run_until_it_ends(fake, tmp_path)
        assert code == 1 and "Traceback" not in err
        assert last_line(err).endswith(
            "set CREWBOT_DISCORD_SHARD_COUNT above 1, the count Discord recommended, and restart")


async def test_an_invalid_shard_ends_the_run_with_one_line(tmp_path):
    async with FakeDiscord(application_id=APP) as fake:
        world(fake)
        fake.refuse_identify(4010)
        code, err = await run_until_it_ends(fake, tmp_path, CREWBOT_DISCORD_SHARD_COUNT="4",
                                            CREWBOT_DISCORD_SHARD_IDS="2-3")
        assert code == 1 and "Traceback" not in err
        assert last_line(err) == (
            "crewbot: Discord refused shard 2 of 4 as an invalid shard (gateway close 4010): "
            "give every process the same CREWBOT_DISCORD_SHARD_COUNT and only shard numbers "
            "below it in CREWBOT_DISCORD_SHARD_IDS, or unset both to run every shard in one "
            "process")



@pytest.mark.parametrize(("code", "says"), [
    (4013, "Discord refused the gateway intents Crewbot asks for as invalid (gateway close "
           "4013): upgrade Crewbot"),
    (4014, "Discord refused the gateway intents Crewbot asks for as not allowed (gateway close "
           "4014, disallowed intents): Crewbot needs no privileged intent"),
])
async def test_refused_intents_end_the_run_with_one_line(tmp_path, code, says):
    async with FakeDiscord(application_id=APP) as fake:
        world(fake)
        fake.refuse_identify(code)
        code_, err = await run_until_it_ends(fake, tmp_path)
        assert code_ == 1 and "Traceback" not in err
        assert last_line(err).startswith(f"crewbot: {says}")


async def test_the_fake_closes_an_impossible_shard_with_4010(dc, app):
    """The fake's own check (shard id below the count), met by discord.py given shard 4 of 4
    (crewbot's settings refuse it before): the adapter's task ends with the plain line."""
    adapter = DiscordAdapter(app.game, dc.token, api_url=root_of(dc), shard_count=4,
                             shard_ids=[4])
    await adapter.start()
    try:
        with pytest.raises(PlatformRefused, match=r"^Discord refused shard 4 of 4 as an invalid"):
            await asyncio.wait_for(adapter.task, 10)  # type: ignore[arg-type]
    finally:
        await adapter.stop()
    assert [c.body["shard"] for c in dc.calls_of("identify")] == [[4, 4]]


# -- the benchmark


async def test_the_shards_benchmark_runs_quick_and_its_invariants_hold(tmp_path):
    env = clean_env(CREWBOT_TEST_DATABASE_URL=PG_URL) if PG_URL else clean_env()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.scaling_shards", "--quick", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 300)
    assert proc.returncode == 0, err.decode()[-3000:]
    text = out.decode()
    assert text.startswith("## Discord shards: 4 shards over 2 processes\n")
    assert re.search(r"\| 2 processes \| [0-9,]+ \| 1 \| \[\[0, 4\], \[1, 4\], \[2, 4\], "
                     r"\[3, 4\]\] \| 40 / 40 \| 8 of 8 \|", text), text
    assert "| 2 processes | A (0-1) |" in text and "| 2 processes | B (2-3) |" in text
