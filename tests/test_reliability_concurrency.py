"""Two and four bot processes on one database, released together on a moment when, in each of
three crews, a meeting's tally, a circle's closing, a conflict's half-time reminder, its
deadline and another conflict's lapse are all due (six timers, the accepted conflict's lapse
timer being one that finds nothing to do): each happens exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from bot.app import open_app
from bot.clock import SimClock
from reliability.check import census as ledger_census
from tests.conftest import START, Transcript
from tests.test_due_claims import ROOM, census, run_together

DUE_AT = START + timedelta(days=8)
CONFLICTS = """
    alice: /settings conflict_days 2
    alice: /conflict @bob
    bob: /conflict accept
    carol: /conflict @alice
"""
ROOMS = ["crew", "garden", "band"]


def expected_ledger() -> Counter:
    ledger: Counter = Counter()
    for room in ROOMS:
        ledger.update({(room, "alice", "meeting_attended", 1): 1,
                       (room, "bob", "meeting_attended", 1): 1,
                       (room, "carol", "meeting_missed", -5): 1,
                       (room, "alice", "listening_circle", 1): 1,
                       (room, "bob", "listening_circle", 1): 1,
                       (room, "alice", "conflict_unresolved", -20): 1,
                       (room, "bob", "conflict_unresolved", -20): 1})
    return ledger


@pytest.mark.parametrize("processes", [2, 4])
async def test_processes_released_together_do_every_kind_of_due_work_once(db_url, processes):
    app = await open_app(db_url, SimClock(START))
    try:
        play = Transcript(app, SimClock(START))
        for room in ROOMS:
            lines = await play(f":room {room}\n{ROOM}\n{CONFLICTS}")
            assert not any("Slow down" in line or "I don't know" in line for line in lines)
        async with app.game.uow() as store:
            assert len(await store.outbox.due(DUE_AT, 1000)) == 6 * len(ROOMS)
    finally:
        await app.close()
    done = await run_together(db_url, processes, DUE_AT, open_first=True)
    assert sum(done) == 6 * len(ROOMS), done
    found = await census(db_url)
    assert found["ledger"] == expected_ledger()
    assert found["tallies"] == Counter(ROOMS) and found["circle posts"] == Counter(ROOMS)
    # per crew: tally, circle, carol's note, half-time reminder, the deadline's post and its two
    # private notes, the lapse
    assert found["posts"] == 8 * len(ROOMS)
    assert found["pending"] == 0
    assert (await ledger_census(db_url)).problems == []
