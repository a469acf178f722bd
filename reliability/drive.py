"""Plays a random game's steps through the console adapter, in this process, and checks replies."""

from __future__ import annotations

import io
import re
from datetime import datetime

from bot.adapters.console_adapter import Console
from bot.app import open_app
from bot.clock import SimClock
from reliability.scenario import Step

ITEM_ID = re.compile(r"\((?:offer|conflict|venture) (\d+)\)")
ROOM = "crew"


def item_id(replies: list[str]) -> int | None:
    for line in replies:
        if found := ITEM_ID.search(line):
            return int(found[1])
    return None


class ConsoleDriver:
    """Feeds steps to a Console; learns item ids and check-in messages from what it prints."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.ids: dict[str, int] = {}
        self.checkins: dict[str, int] = {}  # author -> message number of their /checkin
        self.unanswered: list[str] = []
        self.lines = 0

    @property
    def printed(self) -> list[str]:
        out = self.console.out
        assert isinstance(out, io.StringIO)
        return out.getvalue().splitlines()

    async def run(self, step: Step) -> list[str]:
        start = len(self.printed)
        if step.kind == "listen":
            ref = f"#{self.checkins[step.author]}"
            line = (f'{step.who} presses "I listened" {ref}' if step.via == "button" else
                    f"{step.who} reacts {step.via} {ref}")
        else:
            line = step.line(self.ids)
        await self.console.feed(line)
        self.lines += 1
        out = self.printed[start:]
        if step.kind == "say":
            mine = next((i for i, text in enumerate(out) if text.split(": ", 1)[0].endswith(
                f" {step.who}")), None)
            if mine is None or not any(" bot: " in text for text in out[mine + 1:]):
                self.unanswered.append(line)
            if step.key and (number := item_id(out)) is not None:
                self.ids[step.key] = number
            if step.text.startswith("/checkin"):
                self.checkins[step.who] = self.console.latest[(ROOM, step.who)]
        elif step.via == "button" and not any(" bot: " in text for text in out):
            self.unanswered.append(line)
        return out


async def play_in_process(url: str, steps: list[Step], start: datetime) -> ConsoleDriver:
    """Plays the steps on a fresh Game over `url`."""
    clock = SimClock(start)
    app = await open_app(url, clock)
    try:
        driver = ConsoleDriver(Console(app.game, clock, io.StringIO(), ROOM))
        for step in steps:
            await driver.run(step)
        return driver
    finally:
        await app.close()
