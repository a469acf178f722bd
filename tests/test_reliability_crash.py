"""Crashes: `crewbot console` on one database, killed with SIGKILL at random moments of a
random game and restarted each time; every answered action is in the ledger once, nothing is
half done, and due work that fell due while it was down is caught up once."""

from __future__ import annotations

from reliability.check import census, differences
from reliability.crash import CrashRun
from reliability.scenario import Game
from tests.conftest import START


async def test_sigkill_at_random_moments_loses_and_doubles_nothing(db_url):
    kills = 12 if db_url.startswith("postgresql") else 20  # the soak mode kills many more
    game = Game(7, START)
    run = CrashRun(db_url, game.play(140), START, kills=kills, seed=7, max_delay=0.08)
    report = await run.run()
    assert report.kills == kills and report.restarts == kills + 1
    assert report.unanswered == []
    found = await census(db_url)
    assert found.problems == []
    assert differences(run.model.ledger(), found.crew("crew")) == []
    assert found.rows > 30
