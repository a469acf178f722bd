"""Plays a sample game in the console and saves each kind of picture under docs/pictures/."""

from __future__ import annotations

import asyncio
import io
import re
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
Zoë: /checkin excited about the garden
Юлия: /checkin a bit tired
Αλέξης: /checkin glad it is Monday
Юлия reacts 👂 #1
Αλέξης reacts 👂 #1
Zoë reacts ❤️ #3
Αλέξης reacts 🙏 #3
Zoë reacts 👍 #5
Юлия reacts 👍 #5
Ñandú: /join
Sunny🌻: /join
Αλέξης: /ask someone to look at my CV
Юлия replies ^Αλέξης: /offer I can read it tonight
Αλέξης presses "Thank you" ^bot
Ñandú: /ask a lift to the station on Friday
Zoë replies ^Ñandú: /offer I'll drive you
Ñandú presses "Thank you" ^bot
Zoë: /ask help moving a sofa
Ñandú replies ^Zoë: /offer I'm strong
Zoë presses "Thank you" ^bot
Sunny🌻: /checkin first week here
Zoë reacts 👂 ^Sunny🌻
Юлия: /checkin tired but happy
Ñandú: /checkin nervous about Friday
Юлия reacts 🙏 ^Ñandú
Αλέξης: /coown Garden shed @Zoë @Юлия
Zoë: /coown confirm
Юлия: /coown confirm
Zoë: /meeting now
Zoë: /here
Юлия: /here
Αλέξης: /here
Sunny🌻: /here
:advance 3h
Zoë: /leaderboard picture
Αλέξης: /score picture
Юлия: /graph
"""
# Then the Garden crew starts a congregation, two crews of other platforms join it with the
# code ({code}), play a little, and the board is drawn.
CONGREGATION = """
:room Garden
Zoë: /congregation create Lakeside
:room Сад telegram
Олег: /join
Маша: /join
Олег: /congregation join {code}
Олег: /checkin рад всех видеть
Маша: /checkin немного устала
Маша reacts 👂 ^Олег
Олег reacts 👂 ^Маша
Маша: /ask помочь с переездом
Олег replies ^Маша: /offer я помогу
Маша presses "Thank you" ^bot
:room Κήπος discord server-1
Νίκος: /join
Ελένη: /join
Νίκος: /congregation join {code}
Ελένη: /ask a ride to the market
Νίκος replies ^Ελένη: /offer I'll drive
Ελένη presses "Thank you" ^bot
:room Garden
Zoë: /congregation picture
"""
PICTURES = {"leaderboard": "leaderboard.png", "score": "score.png", "graph": "graph.png",
            "meeting-recap": "meeting-recap.png", "congregation": "congregation.png"}
CODE = re.compile(r"The join code of Lakeside is (\w+)\.")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clock = SimClock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
        app = await open_app(str(Path(tmp) / "sample.sqlite3"), clock)
        out = io.StringIO()
        console = Console(app.game, clock, out, pictures=Path(tmp) / "pictures")
        try:
            for line in GAME.strip().splitlines():
                await console.feed(line)
            lines = CONGREGATION.strip().splitlines()
            for line in lines[:2]:
                await console.feed(line)
            code = CODE.findall(out.getvalue())[-1]
            for line in lines[2:]:
                await console.feed(line.format(code=code))
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
