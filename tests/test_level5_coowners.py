"""Level 5 through the console: proposing a shared venture and every co-owner confirming."""

from __future__ import annotations

from tests.conftest import last_bot

CREW = """
    alice: /join
    bob: /join
    carol: /join
    dave: /join
"""


def bot_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if " bot: " in line]


def ref(lines: list[str], text: str) -> str:
    line = next(line for line in reversed(lines) if text in line)
    return line.split(" ", 1)[0]


async def test_everyone_confirms_then_plus_hundred_each(play_any):
    play = play_any
    await play(CREW)
    lines = await play("alice: /coown Bread Coop @bob @carol")
    card = ref(lines, "(venture 1)")
    assert "alice proposes to co-own \u201cBread Coop\u201d (venture 1) with @bob, @carol" in (
        last_bot(lines))
    assert last_bot(lines).endswith("[Confirm]")
    lines = await play(f'bob presses "Confirm" {card}')
    assert last_bot(lines).endswith("bob confirmed \u201cBread Coop\u201d. Still to confirm: "
                                    "carol.")
    assert await play.points() == {"alice": 0, "bob": 0, "carol": 0, "dave": 0}
    lines = await play("carol: /coown confirm 1")
    assert "\u201cBread Coop\u201d is co-owned by alice, bob and carol: +100 each!" in (
        last_bot(lines))
    assert await play.points() == {"alice": 100, "bob": 100, "carol": 100, "dave": 0}


async def test_confirm_without_id_when_one_venture_waits(play):
    await play(CREW)
    lines = await play("""
        bob: /coown confirm
        alice: /coown Tool Library @bob
        bob: /coown confirm
    """)
    said = bot_lines(lines)
    assert "No venture is waiting for your confirmation." in said[0]
    assert "is co-owned by alice and bob: +100 each!" in said[2]
    assert await play.points() == {"alice": 100, "bob": 100, "carol": 0, "dave": 0}


async def test_a_member_not_named_is_refused(play):
    await play(CREW)
    lines = await play("alice: /coown Bread Coop @bob")
    card = ref(lines, "(venture 1)")
    lines = await play(f"""
        dave: /coown confirm 1
        dave presses "Confirm" {card}
    """)
    said = bot_lines(lines)
    assert len(said) == 2
    assert all("Only the members named in venture 1 can confirm it." in line for line in said)
    lines = await play("dave: /coown confirm")
    assert "No venture is waiting for your confirmation." in last_bot(lines)
    assert await play.points() == {"alice": 0, "bob": 0, "carol": 0, "dave": 0}
    await play("bob: /coown confirm 1")
    assert await play.points() == {"alice": 100, "bob": 100, "carol": 0, "dave": 0}


async def test_double_confirm_is_refused_and_scores_once(play_any):
    play = play_any
    await play(CREW)
    lines = await play("alice: /coown Bread Coop @bob @carol")
    card = ref(lines, "(venture 1)")
    lines = await play(f"""
        bob: /coown confirm 1
        bob presses "Confirm" {card}
        bob: /coown confirm 1
        alice: /coown confirm 1
    """)
    said = bot_lines(lines)
    assert "Still to confirm: carol." in said[0]
    assert all("You already confirmed venture 1." in line for line in said[1:])
    lines = await play(f"""
        carol: /coown confirm 1
        carol: /coown confirm 1
        carol presses "Confirm" {card}
    """)
    said = bot_lines(lines)
    assert "+100 each" in said[0]
    assert all("You already confirmed venture 1." in line for line in said[1:])
    assert await play.points() == {"alice": 100, "bob": 100, "carol": 100, "dave": 0}


async def test_venture_names_are_unique_per_crew_ignoring_case(play):
    await play(CREW)
    await play("alice: /coown Bread Coop @bob")
    for name in ("bread coop", "BREAD  COOP", "Bread Coop"):
        lines = await play(f"dave: /coown {name} @carol")
        assert ("This crew already has a venture called \u201cBread Coop\u201d (venture 1); pick "
                "another name.") in last_bot(lines), name
    lines = await play("""
        dave: /coown Bread Coop Two @carol
        carol: /coown confirm 2
        bob: /coown confirm 1
    """)
    assert "(venture 2)" in bot_lines(lines)[0]
    assert await play.points() == {"alice": 100, "bob": 100, "carol": 100, "dave": 100}
    # another crew may use the same name
    lines = await play("""
        :room other
        frank: /join
        erin: /coown Bread Coop @frank
    """)
    assert "(venture 1)" in last_bot(lines)  # numbered within that crew


async def test_malformed_proposals_get_usage_and_change_nothing(play):
    await play(CREW)
    lines = await play("""
        alice: /coown
        alice: /coown Bread Coop
        alice: /coown @bob
        alice: /coown Bread Coop @alice
        alice: /coown confirm 99
        alice: /coown confirm x
    """)
    said = bot_lines(lines)
    assert said[0].endswith("You have no venture waiting for confirmations. Propose one, e.g. "
                            "/coown Bread Coop @sam @kim.")
    assert all("Usage: /coown" in line for line in said[1:3])
    assert "You are already in your own venture; name the others, e.g. /coown Bread Coop @sam." in (
        said[3])
    assert said[4].endswith("There is no venture 99 in this crew. Use the number shown on the "
                            "venture's message, or reply to it.")
    assert "Usage: /coown" in said[5]
    lines = await play("alice: /coown Bread Coop @bob")
    assert "(venture 1)" in last_bot(lines)
