"""Random games played through the console adapter: the ledger equals what GAME.md awards,
computed by the independent reference model in reliability/model.py; no award twice; the cached
totals equal the ledger's sums; every command gets an answer."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reliability.check import census, differences
from reliability.drive import play_in_process
from reliability.model import Model
from reliability.scenario import Game
from tests.conftest import START


@pytest.mark.parametrize("seed", [11])  # the soak mode plays many more
async def test_a_random_game_keeps_every_point(db_url, seed):
    game = Game(seed, START)
    steps = game.play(250)
    driver = await play_in_process(db_url, steps, START)
    assert driver.unanswered == []
    found = await census(db_url)
    assert found.problems == []
    assert differences(game.model.ledger(), found.crew("crew")) == []
    assert found.rows == len(game.model.awards) > 50


def test_the_reference_model_follows_game_md_by_hand():
    """The model itself, on a few facts from GAME.md's table."""
    m = Model(START)
    for who in ("a", "b", "c"):
        m.join(who)
    for _ in range(4):
        m.ask("a")  # only the first 3 a day score
    m.offer("o", "b", "a")
    m.thanks("o")
    m.meeting_now()
    m.here("a")
    m.advance(timedelta(hours=3))  # a +1 (1st), b and c -5
    m.advance(timedelta(days=30))
    m.meeting_now()
    m.here("a")
    m.here("b")
    m.advance(timedelta(hours=3))  # a +3 (2nd), b +1 (1st), c -5
    m.conflict("k", "a", "b")
    m.accept("k")
    m.advance(timedelta(days=30))  # unresolved at the deadline: -20 each
    assert m.totals() == {"a": 15 + 1 + 1 + 3 - 20, "b": 5 + 1 - 5 + 1 - 20, "c": -10}
