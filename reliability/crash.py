"""Crash runs: `crewbot console` killed with SIGKILL at random moments of a random game and
restarted on the same database; the ledger must hold every answered action exactly once."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from reliability.drive import item_id
from reliability.model import Model
from reliability.scenario import Step, fill
from storage.engine import make_engine
from storage.models import CheckinRow, FavourRow, ListenRow, MemberRow

ROOT = Path(__file__).resolve().parent.parent
CREWBOT = Path(sys.executable).parent / "crewbot"
SYNC = ":sync"  # a malformed console line: its "! write ..." answer marks the end of a step
WAIT = 60.0


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREWBOT_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


@dataclass
class CrashReport:
    kills: int = 0
    restarts: int = 0
    answered: int = 0
    retried: int = 0
    found_done: int = 0  # in-flight actions the database shows were done before the kill
    skipped: int = 0  # listening steps whose message belonged to a killed session
    unanswered: list[str] = field(default_factory=list)


class CrashRun:
    """Plays `steps` through console subprocesses, killing the current one before the steps in
    `kill_at` (after a random delay of up to `max_delay` s from sending the step)."""

    def __init__(self, url: str, steps: list[Step], start: datetime, kills: int, seed: int,
                 max_delay: float = 0.05) -> None:
        self.url, self.steps = url, steps
        self.model = Model(start)
        self.rng = random.Random(seed)
        self.kill_at = set(self.rng.sample(range(len(steps)), min(kills, len(steps))))
        self.max_delay = max_delay
        self.report = CrashReport()
        self.ids: dict[str, int] = {}
        self.checkins: dict[str, int] = {}
        self.proc: asyncio.subprocess.Process | None = None

    async def run(self) -> CrashReport:
        await self.start()
        try:
            for index, step in enumerate(self.steps):
                if index in self.kill_at:
                    await self.crash(step)
                else:
                    await self.play(step)
        finally:
            await self.stop()
        return self.report

    # the console process

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            str(CREWBOT), "console", "--db", self.url, "--start", self.model.now.isoformat(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
            env=child_env())
        self.report.restarts += 1
        self.checkins.clear()  # message numbers belong to one session
        await self.send("")

    async def stop(self) -> None:
        if self.proc and self.proc.returncode is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            _, err = await asyncio.wait_for(self.proc.communicate(), WAIT)
            if self.proc.returncode != 0 or b"Traceback" in err:
                raise AssertionError(f"the console failed: {err.decode()[-2000:]}")

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        await self.proc.wait()
        self.report.kills += 1

    async def send(self, line: str) -> list[str]:
        """Sends a line and returns what the console printed for it."""
        assert self.proc and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(((line + "\n") if line else "").encode() + f"{SYNC}\n".encode())
        await self.proc.stdin.drain()
        out: list[str] = []
        while True:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), WAIT)
            if not raw:
                err = await self.proc.stderr.read() if self.proc.stderr else b""
                raise AssertionError(f"the console ended: {out} {err.decode()[-2000:]}")
            text = raw.decode().rstrip("\n")
            if text.startswith("! write NAME"):
                return out
            out.append(text)

    # steps

    def line(self, step: Step) -> str | None:
        if step.kind != "listen":
            return step.line(self.ids)
        circle = self.model.circle
        if (step.author not in self.checkins or circle is None
                or step.author not in circle.authors or step.who == step.author):
            return None  # the message to react to was shown by a killed session
        ref = f"#{self.checkins[step.author]}"
        return (f'{step.who} presses "I listened" {ref}' if step.via == "button" else
                f"{step.who} reacts {step.via} {ref}")

    async def play(self, step: Step, retry: bool = False) -> None:
        line = self.line(step)
        if line is None:
            self.report.skipped += 1
            return
        out = await self.send(line)
        self.learn(step, out)
        if step.kind == "say":
            mine = next((i for i, t in enumerate(out) if t.split(": ", 1)[0].endswith(
                f" {step.who}")), None)
            if mine is None or not any(" bot: " in t for t in out[mine + 1:]):
                self.report.unanswered.append(line)
        self.report.answered += 1
        if not retry and step.effect:
            self.model.apply(step.effect)

    def learn(self, step: Step, out: list[str]) -> None:
        if step.key and (number := item_id(out)) is not None:
            self.ids[step.key] = number
        if step.kind == "say" and step.text.startswith("/checkin"):
            for text in out:
                if text.startswith("#") and text.split(": ", 1)[0].endswith(f" {step.who}"):
                    self.checkins[step.who] = int(text[1:].split(" ", 1)[0])

    async def crash(self, step: Step) -> None:
        """Sends the step, kills the console a moment later, restarts it and settles what the
        step did: done (the database shows it), or sent again as a member would."""
        line = self.line(step)
        assert self.proc and self.proc.stdin
        if line is not None:
            self.proc.stdin.write((line + "\n").encode())
            await self.proc.stdin.drain()
            await asyncio.sleep(self.rng.uniform(0, self.max_delay))
        await self.kill()
        if step.kind == "advance":  # the restart catches up everything due on the way
            self.model.apply(step.effect)
            await self.start()
            return
        await self.start()
        if line is None:
            self.report.skipped += 1
            return
        verb = step.effect[0] if step.effect else ""
        if verb in ("ask", "offer", "listen"):  # not safe to repeat: look whether it was done
            done = await self.was_done(step)
            if done is not None:
                self.report.found_done += 1
                if verb == "offer":
                    self.ids[step.key] = done
                self.model.apply(step.effect)
                return
            if verb == "listen":  # its message is gone with the session
                self.report.skipped += 1
                return
        self.report.retried += 1
        await self.play(step)

    async def was_done(self, step: Step) -> int | None:
        """Whether the step's work is in the database: the number of the favour it made (what
        a member types), or the id of the listening confirmation."""
        engine = make_engine(self.url)
        try:
            async with engine.connect() as conn:
                if step.kind == "listen":
                    author, listener = aliased(MemberRow), aliased(MemberRow)
                    latest = (select(func.max(CheckinRow.id)).join(
                        author, author.id == CheckinRow.member_id)
                        .where(author.name == step.author).scalar_subquery())
                    return await conn.scalar(
                        select(ListenRow.id).join(listener, listener.id == ListenRow.listener_id)
                        .where(ListenRow.checkin_id == latest, listener.name == step.who)
                        .limit(1))
                text = fill(step.text, self.ids).split(maxsplit=1)[1]
                words = text.split(" ", 1)[1] if step.effect[0] == "offer" else text
                return await conn.scalar(select(FavourRow.number).where(
                    FavourRow.kind == step.effect[0], FavourRow.text == words))
        finally:
            await engine.dispose()
