"""Level 4 through the console: propose, accept, apologise, forgive, lapse, unresolved."""

from __future__ import annotations

from tests.conftest import last_bot

CREW = """
    alice: /join
    bob: /join
    carol: /join
"""


def bot_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if " bot: " in line]


def ref(lines: list[str], text: str) -> str:
    line = next(line for line in reversed(lines) if text in line)
    return line.split(" ", 1)[0]


async def test_accept_by_button_or_command_then_apologise_and_forgive_scores_ten_each(play_any):
    play = play_any
    await play(CREW)
    lines = await play("alice: /conflict @bob")
    assert "alice proposes a repair with @bob (conflict 1)" in last_bot(lines)
    assert last_bot(lines).endswith("[Accept]")
    lines = await play(f'bob presses "Accept" {ref(lines, "(conflict 1)")}')
    assert "bob accepted the repair (conflict 1)" in last_bot(lines)

    lines = await play("""
        carol: /conflict @bob
        bob: /conflict accept 2
    """)
    assert "bob accepted the repair (conflict 2)" in last_bot(lines)
    assert await play.points() == {"alice": 0, "bob": 0, "carol": 0}

    lines = await play("""
        alice: /apologise 1
        bob: /forgive 1
    """)
    assert last_bot(lines).endswith("Conflict 1 is resolved: alice and bob turned it into greater "
                                    "connection. +10 each!")
    assert await play.points() == {"alice": 10, "bob": 10, "carol": 0}
    lines = await play("""
        bob: /apologise 2 I was unfair
        carol: /forgive 2
    """)
    assert "Conflict 2 is resolved" in last_bot(lines)
    assert await play.points() == {"alice": 10, "bob": 20, "carol": 10}

    # resolved is final: no second award, no deadline penalty later
    lines = await play("""
        bob: /forgive 1
        alice: /conflict unresolved 1
    """)
    assert "Conflict 1 is already resolved; there is nothing to forgive now." in bot_lines(lines)[0]
    assert "only a repair under way can be declared unresolved" in bot_lines(lines)[1]
    assert await play(":advance 31d") == []
    assert await play.points() == {"alice": 10, "bob": 20, "carol": 10}


async def test_only_the_invited_party_accepts(play):
    await play(CREW)
    lines = await play("alice: /conflict @bob")
    card = ref(lines, "(conflict 1)")
    lines = await play(f"""
        alice: /conflict accept 1
        alice presses "Accept" {card}
        carol: /conflict accept 1
        carol presses "Accept" {card}
    """)
    refusals = bot_lines(lines)
    assert len(refusals) == 4
    assert all("Only the member invited to conflict 1 can accept it; it waits for them to "
               "press Accept." in r for r in refusals)
    lines = await play("""
        bob: /conflict accept
        bob: /conflict accept 1
    """)
    assert "bob accepted the repair (conflict 1)" in bot_lines(lines)[0]
    assert "so there is nothing to accept" in bot_lines(lines)[1]


async def test_forgive_needs_an_apology_and_the_apologiser_cannot_forgive(play):
    await play(CREW)
    lines = await play("""
        alice: /conflict @bob
        alice: /forgive 1
        bob: /conflict accept 1
        bob: /forgive 1
        alice: /forgive 1
    """)
    said = bot_lines(lines)
    assert "Conflict 1 is still waiting to be accepted; there is nothing to forgive now." in said[1]
    assert "Nobody has apologised in conflict 1 yet" in said[3]
    assert "Nobody has apologised in conflict 1 yet" in said[4]
    lines = await play("""
        bob: /apologise 1
        bob: /forgive 1
        bob: /apologise 1 again
        alice: /apologise 1
    """)
    said = bot_lines(lines)
    assert "bob apologised in conflict 1. alice, when you are ready, /forgive 1." in said[0]
    assert "You apologised; the other party is the one to forgive." in said[1]
    assert "You already apologised in conflict 1" in said[2]
    assert "The other party already apologised in conflict 1" in said[3]
    assert await play.points() == {"alice": 0, "bob": 0, "carol": 0}
    lines = await play("alice: /forgive")
    assert "Conflict 1 is resolved" in last_bot(lines)
    assert await play.points() == {"alice": 10, "bob": 10, "carol": 0}


async def test_not_accepted_in_seven_days_lapses_with_no_points(play):
    await play(CREW)
    lines = await play("alice: /conflict @bob")
    card = ref(lines, "(conflict 1)")
    assert await play(":at 2026-11-09T08:59") == []
    lines = await play(":at 2026-11-09T09:00")
    assert len(lines) == 1
    assert "conflict 1 was not accepted within 7 days and has lapsed, with no points" in lines[0]
    lines = await play(f"""
        bob presses "Accept" {card}
        bob: /conflict accept 1
        alice: /conflict unresolved 1
    """)
    said = bot_lines(lines)
    lapsed = "Conflict 1 is over, as it lapsed, so there is nothing to accept."
    assert lapsed in said[0]
    assert lapsed in said[1]
    assert "only a repair under way can be declared unresolved" in said[2]
    assert await play(":advance 60d") == []
    assert await play.points() == {"alice": 0, "bob": 0, "carol": 0}
    # a new repair with the same person can be proposed after a lapse
    lines = await play("bob: /conflict @alice")
    assert "bob proposes a repair with @alice (conflict 2)" in last_bot(lines)


async def test_accepted_without_resolution_reminds_at_half_time_and_ends_at_minus_twenty(
        play_any):
    play = play_any
    await play(CREW)
    await play("""
        alice: /conflict @bob
        bob: /conflict accept 1
        alice: /apologise 1
    """)
    assert await play(":at 2026-11-17T08:59") == []
    lines = await play(":at 2026-11-17T09:00")
    assert lines == ["#13 bot: @alice and @bob: half the time for conflict 1 has passed (15 days "
                     "left). An apology was made; /forgive 1 resolves it: +10 each."]
    assert await play(":at 2026-12-02T08:59") == []
    lines = await play(":at 2026-12-02T09:00")
    assert len(lines) == 3  # the crew sees that it ended; each party alone hears the cost
    assert "A repair (conflict 1) reached its deadline without a resolution." in lines[0]
    assert "-20" not in lines[0] and "alice" not in lines[0]
    assert [line.split(") ", 1)[0] for line in lines[1:]] == [
        "#15 bot: (privately to alice", "#16 bot: (privately to bob"]
    assert all("costs each of you 20 points" in line for line in lines[1:])
    assert await play.points() == {"alice": -20, "bob": -20, "carol": 0}
    lines = await play("bob: /forgive 1")
    assert ("Conflict 1 is over, as it ended unresolved; there is nothing to forgive now."
            in last_bot(lines))
    assert await play(":advance 60d") == []
    assert await play.points() == {"alice": -20, "bob": -20, "carol": 0}


async def test_conflict_days_setting_moves_half_time_and_deadline(play):
    await play(CREW)
    await play("""
        alice: /settings conflict_days 10
        alice: /conflict @carol
        carol: /conflict accept
    """)
    assert await play(":at 2026-11-07T08:59") == []
    lines = await play(":at 2026-11-07T09:00")
    assert "@alice and @carol: half the time for conflict 1 has passed (5 days left)" in lines[0]
    assert await play(":at 2026-11-12T08:59") == []
    lines = await play(":at 2026-11-12T09:00")
    assert "costs each of you 20 points" in lines[1]
    assert await play.points() == {"alice": -20, "bob": 0, "carol": -20}


async def test_declared_unresolved_is_minus_twenty_each_once(play):
    await play(CREW)
    lines = await play("""
        alice: /conflict @bob
        bob: /conflict unresolved 1
    """)
    assert ("Conflict 1 is still waiting to be accepted; only a repair under way can be "
            "declared unresolved.") in (
        last_bot(lines))
    lines = await play("""
        bob: /conflict accept 1
        bob: /conflict unresolved 1
    """)
    said = bot_lines(lines)
    assert "A repair (conflict 1) was declared unresolved." in said[-3]
    assert "(privately to alice)" in said[-2] and "(privately to bob)" in said[-1]
    lines = await play("""
        alice: /conflict unresolved 1
        alice: /apologise 1
    """)
    ended = "Conflict 1 is over, as it ended unresolved;"
    assert f"{ended} only a repair under way" in bot_lines(lines)[0]
    assert f"{ended} apologies are for a repair under way." in bot_lines(lines)[1]
    assert await play(":advance 40d") == []
    assert await play.points() == {"alice": -20, "bob": -20, "carol": 0}


async def test_a_non_party_is_refused_everything(play):
    await play(CREW)
    lines = await play("alice: /conflict @bob")
    card = ref(lines, "(conflict 1)")
    lines = await play(f"""
        carol: /conflict accept 1
        carol presses "Accept" {card}
    """)
    assert all("Only the member invited" in line for line in bot_lines(lines))
    await play("bob: /conflict accept 1")
    lines = await play("""
        carol: /apologise 1 sorry
        carol: /forgive 1
        carol: /conflict unresolved 1
    """)
    said = bot_lines(lines)
    assert len(said) == 3
    assert all("Only the two people in conflict 1 can do that; a repair is theirs to make."
               in line for line in said)
    lines = await play("""
        carol: /apologise
        carol: /forgive
        carol: /conflict unresolved
    """)
    new = " A repair starts with /conflict @member."
    assert [line.split(": ", 1)[1] for line in bot_lines(lines)] == [
        "You have no conflict to apologise." + new, "You have no conflict to forgive." + new,
        "You have no conflict to declare unresolved." + new]
    await play("""
        bob: /apologise 1
        alice: /forgive 1
    """)
    assert await play.points() == {"alice": 10, "bob": 10, "carol": 0}


async def test_apology_text_is_shown_only_when_its_author_shares_it(play):
    await play(CREW + """
        alice: /conflict @bob
        bob: /conflict accept 1
        carol: /conflict @bob
        bob: /conflict accept 2
    """)
    lines = await play("alice: /apologise 1 I shouted at you in front of everyone")
    assert "shouted" not in last_bot(lines)
    assert last_bot(lines).endswith("alice apologised in conflict 1. bob, when you are ready, "
                                    "/forgive 1.")
    lines = await play("bob: /forgive 1")
    assert "shouted" not in last_bot(lines)

    # a first word that merely starts with "share" is not the share keyword
    lines = await play("carol: /apologise 2 shared your secret, sorry")
    assert "secret" not in last_bot(lines) and "They said" not in last_bot(lines)
    lines = await play("""
        bob: /forgive 2
        carol: /conflict @bob
        bob: /conflict accept 3
        bob: /apologise 3 share I was wrong about the rent
    """)
    assert last_bot(lines).endswith("bob apologised in conflict 3. They said: \u201cI was wrong "
                                    "about the rent\u201d. carol, when you are ready, /forgive 3.")
    assert await play.points() == {"alice": 10, "bob": 20, "carol": 10}


async def test_proposal_needs_exactly_one_other_member(play):
    await play(CREW)
    lines = await play("""
        alice: /conflict
        alice: /conflict @bob @carol
        alice: /conflict @alice
        alice: /conflict @bob
        bob: /conflict @alice
    """)
    said = bot_lines(lines)
    assert "Usage: /conflict" in said[0]
    assert "Usage: /conflict" in said[1]
    assert "between you and another member" in said[2]
    assert "(conflict 1)" in said[3]
    assert "A repair with alice is already under way (conflict 1)." in said[4]
