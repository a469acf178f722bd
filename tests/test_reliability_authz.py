"""The authorisation matrix (reliability/authz.py): every admin-only and party-only action tried
by a non-member, a member, the wrong party and the right one. Refusals change no game table;
the right one's attempt changes something; docs/RELIABILITY.md shows this very table."""

from __future__ import annotations

from pathlib import Path

from reliability.authz import matrix as run_matrix
from reliability.authz import mismatches, table
from tests.conftest import START

DOC = Path(__file__).resolve().parent.parent / "docs" / "RELIABILITY.md"


async def test_every_protected_action_is_refused_to_the_wrong_people(any_app):
    rows = await run_matrix(any_app, START)
    assert mismatches(rows) == []
    assert table(rows) in DOC.read_text(), "regenerate: python -m reliability.soak --authz-only"
