"""A first full circle through the console, on SQLite and PostgreSQL."""

from __future__ import annotations


async def test_listening_circle_by_reaction_and_button_scores_one_each(play_any):
    lines = await play_any("""
        alice: /checkin hello world
        bob: /checkin tired but ok
        bob reacts 👍 #1
        alice presses "I listened" #4
    """)
    assert lines[0] == "#1 alice: /checkin hello world"
    assert "[I listened]" in lines[1]
    assert any("The circle is complete" in line for line in lines)
    assert await play_any.points() == {"alice": 1, "bob": 1}
