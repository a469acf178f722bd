"""Exactly-once due work: two engines in one process, several processes, a process killed while
holding its claim, and restarts of `crewbot console` around a meeting (GAME.md: "A tally happens
exactly once per meeting: not twice after a restart, not twice with two bot processes, and not
never because the bot was down"). Each test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import App, open_app
from bot.clock import SimClock
from bot.commands.due import WORK
from bot.commands.events import Message
from bot.export import as_dict
from storage.engine import make_engine
from storage.models import CrewRow, DueRow, LedgerRow, MemberRow, OutboxRow
from tests.conftest import START, Transcript

ROOT = Path(__file__).resolve().parent.parent
CREWBOT = Path(sys.executable).parent / "crewbot"
LATER = START + timedelta(hours=25)  # past the meeting's tally (3h) and the circle's close (24h)
WAIT = 120  # seconds a subprocess may take before the test gives up on it


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREWBOT_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


# A crew with a meeting to tally (alice and bob present, carol not) and a complete circle of
# alice and bob that closes only when its window ends (carol never checked in).
ROOM = """
    alice: /join
    bob: /join
    carol: /join
    alice: /checkin glad to be here
    bob: /checkin tired but ok
    bob reacts 👍 ^alice
    alice reacts 👍 ^bob
    alice: /meeting now
    alice: /here
    bob: /here
"""


async def prepare(app: App, rooms: list[str]) -> None:
    play = Transcript(app, SimClock(START))
    for room in rooms:
        lines = await play(f":room {room}\n{ROOM}")
        assert not any(word in line for line in lines
                       for word in ("tallied", "circle is complete", "has closed")), lines
    async with app.game.uow() as store:
        assert len(await store.outbox.due(LATER, 1000)) == 2 * len(rooms)


async def census(url: str) -> dict:
    """What the due work left behind, counted straight from the tables."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            ledger = (await conn.execute(
                select(CrewRow.chat_id, MemberRow.user_id, LedgerRow.reason, LedgerRow.source,
                       LedgerRow.points)
                .join(CrewRow, CrewRow.id == LedgerRow.crew_id)
                .join(MemberRow, MemberRow.id == LedgerRow.member_id))).all()
            posts = (await conn.execute(
                select(CrewRow.chat_id, OutboxRow.payload)
                .join(CrewRow, CrewRow.id == OutboxRow.crew_id))).all()
            pending = (await conn.execute(
                select(func.count()).select_from(DueRow).where(DueRow.done_at.is_(None))
            )).scalar_one()
    finally:
        await engine.dispose()
    texts = [(room, Message.from_json(payload).plain()) for room, payload in posts]
    return {
        "ledger": Counter((room, user, reason, points) for room, user, reason, _, points in ledger),
        "tallies": Counter(room for room, text in texts if "tallied" in text),
        "circle posts": Counter(room for room, text in texts if "circle is complete" in text),
        "posts": len(texts),
        "pending": pending,
    }


def expected(rooms: list[str]) -> dict:
    ledger: Counter = Counter()
    for room in rooms:
        ledger.update({(room, "alice", "meeting_attended", 1): 1,
                       (room, "bob", "meeting_attended", 1): 1,
                       (room, "carol", "meeting_missed", -5): 1,
                       (room, "alice", "listening_circle", 1): 1,
                       (room, "bob", "listening_circle", 1): 1})
    return {"ledger": ledger, "tallies": Counter(rooms), "circle posts": Counter(rooms),
            # per room: the tally, the circle, and carol's private note about her absence
            "posts": 3 * len(rooms), "pending": 0}


def listed_then(uow, wait):
    """Wraps a game's units of work so that, after the first one (where run_due lists what is
    due) has ended, the game waits: every game then has the same list before anyone claims."""
    first = True

    @asynccontextmanager
    async def scope():
        nonlocal first
        async with uow() as store:
            yield store
        if first:
            first = False
            await wait()

    return scope


# two engines in one process


async def test_two_games_on_one_database_do_each_due_thing_exactly_once(db_url):
    rooms = ["crew", "garden", "band"]
    first = await open_app(db_url, SimClock(START))
    second = await open_app(db_url, SimClock(START))  # its own engine, like another process
    try:
        await prepare(first, rooms)
        both_listed = asyncio.Barrier(2)
        for app in (first, second):
            app.game.uow = listed_then(app.game.uow, both_listed.wait)
        done = await asyncio.wait_for(
            asyncio.gather(first.game.run_due(LATER), second.game.run_due(LATER)), WAIT)
        assert sum(done) == 2 * len(rooms), done
        assert await census(db_url) == expected(rooms)
        # Again, from both: nothing is left to do and nothing changes.
        assert await asyncio.gather(first.game.run_due(LATER), second.game.run_due(LATER)) == [0, 0]
        assert await census(db_url) == expected(rooms)
    finally:
        await first.close()
        await second.close()


async def test_many_concurrent_run_due_calls_still_do_each_thing_once(db_url):
    rooms = [f"room{i}" for i in range(6)]
    apps = [await open_app(db_url, SimClock(START)) for _ in range(3)]
    try:
        await prepare(apps[0], rooms)
        calls = [app.game.run_due(LATER) for app in apps for _ in range(2)]
        done = await asyncio.gather(*calls)
        assert sum(done) == 2 * len(rooms), done
        assert await census(db_url) == expected(rooms)
    finally:
        for app in apps:
            await app.close()


async def test_due_work_that_fails_is_rolled_back_and_done_once_later(db_url, monkeypatch):
    """The claim and the result share one transaction: a crash after awarding loses both, so the
    tally is neither half done nor skipped."""
    app = await open_app(db_url, SimClock(START))
    try:
        await prepare(app, ["crew"])
        real_tally = WORK["meeting_tally"]

        async def tally_then_crash(store, crew, meeting_id, now):
            await real_tally(store, crew, meeting_id, now)
            raise RuntimeError("the process broke after tallying")

        monkeypatch.setitem(WORK, "meeting_tally", tally_then_crash)
        assert await app.game.run_due(LATER) == 1  # the circle closed; the tally did not
        after_crash = await census(db_url)
        assert after_crash["tallies"] == Counter()
        assert not any(reason.startswith("meeting") for _, _, reason, _ in after_crash["ledger"])
        assert after_crash["pending"] == 1

        monkeypatch.setitem(WORK, "meeting_tally", real_tally)
        assert await app.game.run_due(LATER) == 1
        assert await census(db_url) == expected(["crew"])
    finally:
        await app.close()


# several processes


WORKER = r"""
import asyncio, sys
from contextlib import asynccontextmanager
from datetime import datetime
from bot.app import open_app
from bot.clock import SimClock

def listed_then_wait(uow):
    first = True

    @asynccontextmanager
    async def scope():
        nonlocal first
        async with uow() as store:
            yield store
        if first:  # run_due has listed what is due; wait until every process has
            first = False
            print("listed", flush=True)
            sys.stdin.readline()

    return scope

async def main() -> None:
    url, at, open_first = sys.argv[1], datetime.fromisoformat(sys.argv[2]), sys.argv[3] == "1"
    app = await open_app(url, SimClock(at)) if open_first else None
    print("ready", flush=True)
    sys.stdin.readline()  # everyone goes at once
    app = app or await open_app(url, SimClock(at))
    app.game.uow = listed_then_wait(app.game.uow)
    try:
        done = await app.game.run_due(at)
    finally:
        await app.close()
    print("done", done, flush=True)

asyncio.run(main())
"""


async def run_together(url: str, count: int, at: datetime, open_first: bool) -> list[int]:
    """Starts `count` processes, waits until each is ready, releases them together, waits until
    each has listed the due work, releases them again to claim it, and returns how much due work
    each did."""
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-c", WORKER, url, at.isoformat(), "1" if open_first else "0",
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
        env=child_env()) for _ in range(count)]

    async def expect(proc, word: bytes) -> None:
        said = await asyncio.wait_for(proc.stdout.readline(), WAIT)
        if said != word + b"\n":
            _, err = await asyncio.wait_for(proc.communicate(), WAIT)
            pytest.fail(f"a worker said {said!r}, not {word!r}: {err.decode()[-2000:]}")

    try:
        for word in (b"ready", b"listed"):
            for proc in procs:
                await expect(proc, word)
            for proc in procs:
                proc.stdin.write(b"go\n")
            await asyncio.gather(*(proc.stdin.drain() for proc in procs))
        results = await asyncio.wait_for(
            asyncio.gather(*(proc.communicate() for proc in procs)), WAIT)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    done = []
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err.decode()[-2000:]
        word, number = out.decode().split()
        assert word == "done"
        done.append(int(number))
    return done


async def test_processes_released_together_tally_the_meeting_exactly_once(db_url):
    rooms = ["crew", "garden"]
    app = await open_app(db_url, SimClock(START))
    try:
        await prepare(app, rooms)
    finally:
        await app.close()
    done = await run_together(db_url, 4, LATER, open_first=True)
    assert sum(done) == 2 * len(rooms), done
    assert await census(db_url) == expected(rooms)


async def test_processes_starting_together_on_an_empty_database_migrate_it_once(db_url):
    done = await run_together(db_url, 3, LATER, open_first=False)
    assert done == [0, 0, 0]
    app = await open_app(db_url, SimClock(START))  # the schema is complete and usable
    try:
        await prepare(app, ["crew"])
        assert await app.game.run_due(LATER) == 2
    finally:
        await app.close()
    assert await census(db_url) == expected(["crew"])


HOLDER = r"""
import asyncio, sys
from datetime import datetime
from bot.app import open_app
from bot.clock import SimClock
from bot.commands.due import WORK

real_tally = WORK["meeting_tally"]

async def tally_and_hang(store, crew, meeting_id, now):
    await real_tally(store, crew, meeting_id, now)
    print("tallied, not committed", flush=True)
    sys.stdin.readline()  # killed here, inside run_due's transaction

WORK["meeting_tally"] = tally_and_hang

async def main() -> None:
    url, at = sys.argv[1], datetime.fromisoformat(sys.argv[2])
    app = await open_app(url, SimClock(at))
    await app.game.run_due(at)

asyncio.run(main())
"""


async def test_a_process_killed_while_holding_its_claim_leaves_the_tally_to_the_next(db_url):
    app = await open_app(db_url, SimClock(START))
    try:
        await prepare(app, ["crew"])
    finally:
        await app.close()
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, db_url, LATER.isoformat(), stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=child_env())
    try:
        said = await asyncio.wait_for(holder.stdout.readline(), WAIT)
        if said != b"tallied, not committed\n":
            _, err = await asyncio.wait_for(holder.communicate(), WAIT)
            pytest.fail(f"the holder did not get to tally: {err.decode()[-2000:]}")
    finally:
        holder.kill()
        await holder.wait()

    app = await open_app(db_url, SimClock(LATER))
    try:
        assert await app.game.run_due(LATER) == 2
        assert await app.game.run_due(LATER) == 0
    finally:
        await app.close()
    assert await census(db_url) == expected(["crew"])


# restarts of the console


FIRST_RUN = """\
alice: /join
bob: /join
carol: /join
alice: /meeting schedule first tuesday 19:00
:at 2026-11-03T19:30
alice presses "I'm here" ^bot
bob: /here
"""


def console(db: str, start: str, stdin: str, cwd: Path) -> list[str]:
    result = subprocess.run([str(CREWBOT), "console", "--db", db, "--start", start],
                            input=stdin, capture_output=True, text=True, cwd=cwd,
                            env=child_env(), timeout=WAIT)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout.splitlines()


def export(db: str, cwd: Path) -> dict:
    result = subprocess.run([str(CREWBOT), "export", "--db", db, "--format", "json"],
                            capture_output=True, text=True, cwd=cwd, env=child_env(),
                            stdin=subprocess.DEVNULL, timeout=WAIT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def points(exported: dict) -> dict[str, int]:
    [crew] = exported["crews"]
    return {m["name"]: m["points"] for m in crew["members"]}


async def first_run_killed(db: str, cwd: Path) -> list[str]:
    """Plays FIRST_RUN, then kills the console (SIGKILL) while it waits for more input."""
    proc = await asyncio.create_subprocess_exec(
        str(CREWBOT), "console", "--db", db, "--start", "2026-11-02T09:00",
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
        env=child_env())
    lines: list[str] = []
    try:
        proc.stdin.write(FIRST_RUN.encode())
        await proc.stdin.drain()
        while not any(line.endswith("bob is here.") for line in lines):
            line = await asyncio.wait_for(proc.stdout.readline(), WAIT)
            if not line:
                _, err = await asyncio.wait_for(proc.communicate(), WAIT)
                pytest.fail(f"the console ended early: {lines} {err.decode()[-2000:]}")
            lines.append(line.decode().rstrip("\n"))
    finally:
        proc.kill()
        await proc.wait()
    return lines


async def exported(db: str) -> dict:
    """What `crewbot export --format json` prints, computed in this process (cheaper)."""
    app = await open_app(db, SimClock(START))
    try:
        return as_dict(await app.game.export())
    finally:
        await app.close()


@pytest.mark.parametrize("ending", ["end of input", "killed"])
async def test_a_restart_catches_up_the_missed_tally_once(db_url, tmp_path, ending):
    if ending == "killed":
        first = await first_run_killed(db_url, tmp_path)
    else:
        first = console(db_url, "2026-11-02T09:00", FIRST_RUN, tmp_path)
    attendance = [line for line in first if "The meeting has started." in line]
    assert len(attendance) == 1, first
    assert any(line.endswith("bot: alice is here.") for line in first), first
    assert any(line.endswith("bot: bob is here.") for line in first), first
    assert not any("tallied" in line for line in first), first
    assert (await exported(db_url))["crews"][0]["ledger"] == []

    # Days later: the bot was down when attendance closed (22:00); it tallies at start.
    second = console(db_url, "2026-11-06T09:00", "", tmp_path)
    assert second[:-1] == [
        "#1 bot: (privately to carol) We missed you at the meeting of Tue 3 Nov 2026 19:00 UTC. "
        "As this crew plays it, a missed meeting costs 5 points. Next time, /away before the "
        "start tells the crew you can't come.",
        "#2 bot: Meeting of Tue 3 Nov 2026 19:00 UTC tallied. Present: alice (+1), "
        "bob (+1). 1 member could not make it this time."]
    saved = second[-1].removeprefix("# picture saved to ")  # the tally's recap picture
    assert saved.endswith("-2-meeting-recap.png") and Path(saved).read_bytes()[:4] == b"\x89PNG"
    after_second = export(db_url, tmp_path)
    # GAME.md: present -> 1st attended meeting +1; on the roster at the start, absent -> -5.
    assert points(after_second) == {"alice": 1, "bob": 1, "carol": -5}
    [crew] = after_second["crews"]
    assert sorted((e["user_id"], e["reason"], e["points"]) for e in crew["ledger"]) == [
        ("alice", "meeting_attended", 1), ("bob", "meeting_attended", 1),
        ("carol", "meeting_missed", -5)]

    # Later again (before December's meeting): nothing is redone, nothing is said again.
    third = console(db_url, "2026-11-20T09:00", "", tmp_path)
    assert third == [], third
    assert await exported(db_url) == after_second


async def test_a_restart_after_two_missed_months_tallies_each_meeting_once(db_url, tmp_path):
    console(db_url, "2026-11-02T09:00", FIRST_RUN, tmp_path)
    # Down through the rest of November's meeting and all of December's: both are tallied at
    # start, each once, in order. Nobody could mark presence in December while the bot was
    # down, so that tally records the meeting and costs nobody anything.
    second = console(db_url, "2026-12-20T09:00", "", tmp_path)
    tallies = [line for line in second if "tallied" in line]
    assert len(tallies) == 2, second
    assert tallies[0] == ("#2 bot: Meeting of Tue 3 Nov 2026 19:00 UTC tallied. Present: "
                          "alice (+1), bob (+1). 1 member could not make it this time.")
    assert tallies[1].endswith("Meeting of Tue 1 Dec 2026 19:00 UTC tallied: I was offline for "
                               "its whole attendance window, so nobody could mark presence and "
                               "nobody loses points for it. Sorry about that!"), tallies
    assert not any("The meeting has started" in line for line in second), second
    assert points(await exported(db_url)) == {"alice": 1, "bob": 1, "carol": -5}
    third = console(db_url, "2026-12-21T09:00", "", tmp_path)
    assert not any("tallied" in line for line in third), third
    assert points(await exported(db_url)) == {"alice": 1, "bob": 1, "carol": -5}
