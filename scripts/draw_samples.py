"""Plays a sample game in the console and saves each kind of picture under docs/pictures/."""

from __future__ import annotations

import asyncio
import io
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.adapters.console_adapter import Console  # noqa: E402
from bot.app import open_app  # noqa: E402
from bot.clock import SimClock  # noqa: E402

SAVED = "# picture saved to "
GAME = """
:room Garden
alice: /checkin excited about the garden
bob: /checkin a bit tired
carol: /checkin glad it is Monday
bob reacts 👂 #1
carol reacts 👂 #1
alice reacts ❤️ #3
carol reacts 🙏 #3
alice reacts 👍 #5
bob reacts 👍 #5
dave: /join
carol: /ask someone to look at my CV
bob replies ^carol: /offer I can read it tonight
carol presses "Thank you" ^bot
dave: /ask a lift to the station on Friday
alice replies ^dave: /offer I'll drive you
dave presses "Thank you" ^bot
alice: /ask help moving a sofa
dave replies ^alice: /offer I'm strong
alice presses "Thank you" ^bot
bob: /checkin tired but happy
dave: /checkin nervous about Friday
bob reacts 🙏 ^dave
carol: /coown Garden shed @alice @bob
alice: /coown confirm
bob: /coown confirm
alice: /meeting now
alice: /here
bob: /here
carol: /here
:advance 3h
alice: /leaderboard picture
carol: /score picture
bob: /graph
"""
PICTURES = {"leaderboard": "leaderboard.png", "score": "score.png", "graph": "graph.png",
            "meeting-recap": "meeting-recap.png"}


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clock = SimClock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
        app = await open_app(str(Path(tmp) / "sample.sqlite3"), clock)
        out = io.StringIO()
        console = Console(app.game, clock, out, pictures=Path(tmp) / "pictures")
        try:
            for line in GAME.strip().splitlines():
                await console.feed(line)
        finally:
            await app.close()
        target = ROOT / "docs" / "pictures"
        target.mkdir(parents=True, exist_ok=True)
        for line in out.getvalue().splitlines():
            if line.startswith(SAVED):
                path = Path(line.removeprefix(SAVED))
                kind = path.stem.split("-", 2)[2]
                shutil.copyfile(path, target / PICTURES[kind])
                print(target / PICTURES[kind])


if __name__ == "__main__":
    asyncio.run(main())
