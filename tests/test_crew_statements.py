"""Every game transaction touches one crew (PostgreSQL): two crews play all five levels and
their due work; each statement of each transaction that holds a crew is read as it goes to the
server (SQLAlchemy's before_cursor_execute, and Db's on_statement hook for the statements run
on asyncpg's own API), and each statement on a table that grows with play must be constrained
to that one crew: by crew id parameters, all equal to it, or by the crew's own chat."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event, select

from bot.app import App
from bot.clock import SimClock
from bot.commands.game import Game
from storage.engine import empty_public_schema, make_engine
from storage.migrate import upgrade
from storage.models import CrewRow
from storage.repositories.statements import CREW_LOCK
from storage.unit_of_work import UnitOfWork
from tests.conftest import PG_URL, START, Transcript

pytestmark = pytest.mark.skipif(not PG_URL, reason="CREWBOT_TEST_DATABASE_URL is not set: the "
                                "statements checked are PostgreSQL's (the schema to distribute)")

# The tables that grow with play, each with its crew_id (docs/SCALING.md); `crews` is the
# distribution's root, found by id or by its chat.
GROWING = ("members", "circles", "checkins", "listens", "favours", "meetings", "meeting_roster",
           "reflections", "conflicts", "ventures", "venture_members", "ledger", "totals",
           "due_work", "outbox", "message_links", "seen_events")
TABLE = re.compile(r"\b(" + "|".join(GROWING) + r")\b")

GAME = """
    alice: /join
    bob: /join
    carol: /join
    alice: /checkin glad to be here
    bob: /checkin tired but ok
    bob reacts 👍 ^alice
    alice reacts 👍 ^bob
    carol: /circle
    alice: /ask a lift on Friday
    bob: /offer @alice a lift on Friday
    alice: /thanks 1
    carol: /money rent is tight this month
    carol: /away
    alice: /reflect where I have been
    alice: /meeting now
    alice: /here
    bob: /here
    alice: /conflict @bob
    bob: /conflict accept
    bob: /apologise I was short with you
    alice: /forgive
    carol: /conflict @alice
    alice: /coown Bread Coop @bob
    bob: /coown confirm 1
    alice: /score
    alice: /leaderboard
    :advance 2d
    carol: /checkin a new week
    :advance 10d
    alice: /mydata
    alice: /revoke
"""


@dataclass
class Transaction:
    statements: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)

    @property
    def crew_held(self) -> bool:
        return any(f"advisory_xact_lock({CREW_LOCK}," in sql for sql, _ in self.statements)


class Recorder:
    """Each connection's statements, cut into transactions at BEGIN, COMMIT and ROLLBACK."""

    def __init__(self) -> None:
        self.open: dict[int, Transaction] = {}
        self.done: list[Transaction] = []

    def statement(self, connection: object, sql: str, params: Mapping[str, Any]) -> None:
        self.open.setdefault(id(connection), Transaction()).statements.append((sql, params))

    def end(self, connection: object) -> None:
        if (transaction := self.open.pop(id(connection), None)) is not None:
            self.done.append(transaction)


def named(params: Any) -> Mapping[str, Any]:
    return params if isinstance(params, Mapping) else {}


def crews_named(params: Mapping[str, Any]) -> Iterator[Any]:
    """The values of parameters that name a crew (crew_id, w_crew, crew_id_1, key ...)."""
    for name, value in params.items():
        if "crew" in name:
            yield value


async def test_each_game_transaction_reads_and_writes_one_crew_only():
    await empty_public_schema(PG_URL)
    engine = make_engine(PG_URL)
    await upgrade(engine)
    recorder = Recorder()

    def before(conn, cursor, statement, parameters, context, executemany) -> None:
        compiled = context.compiled_parameters if context is not None else None
        for params in compiled or [{}]:
            recorder.statement(conn, statement, named(params))

    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", before)
    for name in ("commit", "rollback"):
        event.listen(sync, name, lambda conn: recorder.end(conn))

    def fast(conn, sql: str, params: Mapping[str, Any]) -> None:
        recorder.statement(conn.sync_connection, sql, params)

    clock = SimClock(START)
    app = App(engine, Game(UnitOfWork(engine, on_statement=fast), clock, "UTC"))
    try:
        play = Transcript(app, clock)
        for room in ("crew", "garden"):
            lines = await play(f":room {room}\n:at {START.isoformat()}\n{GAME}")
            assert not any("Sorry" in line or "I don't know" in line for line in lines), lines
            # every level scored: asks, thanks, repair, co-owning, the meeting and the circle
            assert await play.points(room) == {"alice": 118, "bob": 118, "carol": -5}
        async with engine.connect() as conn:
            crews = {(p, c): i for i, p, c in await conn.execute(
                select(CrewRow.id, CrewRow.platform, CrewRow.chat_id))}
    finally:
        await app.close()
    game = [t for t in recorder.done if t.crew_held]
    assert len(game) > 60  # every event and every piece of due work of both crews
    wrong = []
    for transaction in game:
        ids = set()
        for sql, params in transaction.statements:
            found = set(crews_named(params))
            if "platform" in params and "chat_id" in params:
                found.add(crews.get((params["platform"], params["chat_id"])))
            if found:
                ids |= found
            elif TABLE.search(sql):
                wrong.append(f"not constrained to a crew: {sql[:300]}")
        if len(ids) != 1:
            wrong.append(f"a transaction on crews {ids}: "
                         + " | ".join(sql[:80] for sql, _ in transaction.statements))
    assert not wrong, "\n".join(dict.fromkeys(wrong))
