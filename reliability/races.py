"""Races on one crew between two bot processes on one PostgreSQL, and the outcomes GAME.md allows.

Each side is what a bot process has: its own engine (connection pool) and unit of work, and a
Game per crew (each crew's events at its own times). A scenario sets up many crews at once,
then runs its race once per crew, the two sides starting together (one up to a transaction's time
later), and reads straight from the tables how each run ended: an allowed outcome
by name, or `BAD` with what is wrong. Used by tests/test_crew_races.py and
bench/scaling_crewlock.py."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import SimClock
from bot.commands.events import Actor, Chat, CommandReceived, Event, Message, ReactionChanged
from bot.commands.game import Game
from storage.engine import make_engine
from storage.migrate import upgrade
from storage.models import (
    CheckinRow,
    CircleRow,
    CrewRow,
    DueRow,
    FavourRow,
    LedgerRow,
    ListenRow,
    MeetingRow,
    MemberRow,
    OutboxRow,
    RosterRow,
)
from storage.unit_of_work import UnitOfWork

PLATFORM = "telegram"
START = datetime.fromisoformat("2026-11-02T09:00:00+00:00")  # a Monday
SETUP_AT_ONCE = 16  # crews set up concurrently (each crew's own events in order)
RACES_AT_ONCE = 10  # crews raced concurrently, each crew's two sides against each other
JITTER = 0.03  # seconds: one side of a race starts up to this much later (about a transaction)
BAD = "BAD"


@dataclass
class Side:
    """One bot process's worth: an engine and a unit of work on the shared database."""

    engine: AsyncEngine
    uow: UnitOfWork

    def game(self, at: datetime) -> Game:
        return Game(self.uow, SimClock(at), "UTC")

    async def close(self) -> None:
        await self.engine.dispose()


async def open_side(url: str, hold_crews: bool = True) -> Side:
    engine = make_engine(url)
    await upgrade(engine)
    return Side(engine, UnitOfWork(engine, hold_crews))


def command(room: str, user: str, text: str, message_id: str | None = None,
            mentions: Sequence[str] = ()) -> CommandReceived:
    return CommandReceived(Chat(PLATFORM, room, room), Actor(user, user), text,
                           message_id=message_id, event_id=uuid.uuid4().hex,
                           mentions=tuple(Actor(m, m) for m in mentions))


def reaction(room: str, user: str, message_id: str) -> ReactionChanged:
    return ReactionChanged(Chat(PLATFORM, room, room), Actor(user, user), message_id, "👍", True,
                           event_id=uuid.uuid4().hex)


async def play(game: Game, events: Sequence[Event]) -> list[Message]:
    replies: list[Message] = []
    for event in events:
        replies += await game.handle(event)
    return replies


@dataclass
class Race:
    """A scenario's runs: how each crew ended (its outcome, or BAD: why)."""

    name: str
    outcomes: Counter[str] = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)

    def judge(self, room: str, outcome: str | None, facts: object) -> None:
        if outcome is None:
            self.outcomes[BAD] += 1
            self.bad.append(f"{room}: {facts}")
        else:
            self.outcomes[outcome] += 1


async def _together(first: Callable[[], Awaitable[object]],
                    second: Callable[[], Awaitable[object]], rng: random.Random) -> None:
    """Starts both at once, one of them up to JITTER later, so that each run's statements
    interleave differently and either may finish first."""
    delay = rng.random() * JITTER

    async def late(work: Callable[[], Awaitable[object]]) -> None:
        await asyncio.sleep(delay)
        await work()

    if rng.random() < 0.5:
        await asyncio.gather(late(first), second())
    else:
        await asyncio.gather(first(), late(second))


async def _against_due(rooms: list[str], event: Callable[[int, str], Awaitable[object]],
                       due: Callable[[int], datetime], b: Side, rng: random.Random) -> None:
    """Each crew's event against its due work, RACES_AT_ONCE crews at a time: side b does the
    wave's due work (one crew after the other, as a process does), while each crew's event
    starts at a random moment of it, so some come before their crew's due work, some during,
    some after."""
    for start in range(0, len(rooms), RACES_AT_ONCE):
        wave = range(start, min(start + RACES_AT_ONCE, len(rooms)))
        spread = JITTER * len(wave)

        async def late(i: int, spread: float = spread) -> None:
            await asyncio.sleep(rng.random() * spread)
            await event(i, rooms[i])

        last = due(wave[-1])
        await asyncio.gather(b.game(last).run_due(last), *(late(i) for i in wave))


async def _set_up(rooms: list[str], setup: Callable[[int, str], Awaitable[None]]) -> None:
    turns = asyncio.Semaphore(SETUP_AT_ONCE)

    async def one(i: int, room: str) -> None:
        async with turns:
            await setup(i, room)

    await asyncio.gather(*(one(i, room) for i, room in enumerate(rooms)))


async def _waves(rooms: list[str], race_one: Callable[[int, str], Awaitable[None]]) -> None:
    """Races the crews RACES_AT_ONCE at a time."""
    for start in range(0, len(rooms), RACES_AT_ONCE):
        await asyncio.gather(*(race_one(i, rooms[i])
                               for i in range(start, min(start + RACES_AT_ONCE, len(rooms)))))


def _rooms(name: str, runs: int) -> list[str]:
    tag = uuid.uuid4().hex[:6]
    return [f"{name}-{tag}-{i}" for i in range(runs)]


def _at(i: int) -> datetime:
    """Crew i's own time: a minute apart, so each crew's timers fall due alone."""
    return START + timedelta(minutes=i)


async def _crew_ids(engine: AsyncEngine, rooms: list[str]) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(CrewRow.chat_id, CrewRow.id)
                                  .where(CrewRow.chat_id.in_(rooms)))
        return {chat: crew_id for chat, crew_id in rows}


async def _ledger(conn: object, crew_ids: list[int]) -> Counter[tuple[int, str, str]]:
    rows = await conn.execute(  # type: ignore[attr-defined]
        select(LedgerRow.crew_id, MemberRow.user_id, LedgerRow.reason)
        .join(MemberRow, MemberRow.id == LedgerRow.member_id)
        .where(LedgerRow.crew_id.in_(crew_ids)))
    return Counter(tuple(row) for row in rows)


async def circle_closing(a: Side, b: Side, runs: int, rng: random.Random) -> Race:
    """The last confirmation of a circle (bob reacts to alice's check-in, on side a) against
    the circle's closing when its window ends (side b's due work). Allowed: the reaction first
    (the circle complete, +1 each) or the closing first (closed incomplete, no points, the late
    reaction changes nothing). Never both, never neither (a confirmation recorded in a circle
    closed incomplete)."""
    race = Race("last reaction / circle closing")
    rooms = _rooms("circle", runs)

    async def setup(i: int, room: str) -> None:
        await play(a.game(_at(i)), [
            command(room, "alice", "/join"), command(room, "bob", "/join"),
            command(room, "alice", "/checkin glad to be here", f"{room}-a"),
            command(room, "bob", "/checkin tired but ok", f"{room}-b"),
            reaction(room, "alice", f"{room}-b")])

    await _set_up(rooms, setup)
    def closes(i: int) -> datetime:
        return _at(i) + timedelta(hours=24)

    await _against_due(rooms, lambda i, room: a.game(closes(i)).handle(
        reaction(room, "bob", f"{room}-a")), closes, b, rng)
    ids = await _crew_ids(a.engine, rooms)
    async with a.engine.connect() as conn:
        circles = dict((await conn.execute(
            select(CircleRow.crew_id, CircleRow.status)
            .where(CircleRow.crew_id.in_(ids.values())))).all())
        heard = Counter(crew_id for (crew_id,) in await conn.execute(
            select(CircleRow.crew_id).join(CheckinRow, CheckinRow.circle_id == CircleRow.id)
            .join(ListenRow, ListenRow.checkin_id == CheckinRow.id)
            .where(CircleRow.crew_id.in_(ids.values()))))
        ledger = await _ledger(conn, list(ids.values()))
        closed_posts = Counter(crew_id for crew_id, payload in await conn.execute(
            select(OutboxRow.crew_id, OutboxRow.payload)
            .where(OutboxRow.crew_id.in_(ids.values())))
            if "circle has closed" in str(payload))
    for room, crew_id in ids.items():
        points = sum(n for (c, _, reason), n in ledger.items()
                     if c == crew_id and reason == "listening_circle")
        facts = (circles.get(crew_id), heard[crew_id], points, closed_posts[crew_id])
        outcome = {("complete", 2, 2, 0): "reaction first",
                   ("incomplete", 1, 0, 1): "closing first"}.get(facts)
        race.judge(room, outcome, f"status, confirmations, points, closing posts = {facts}")
    return race


async def here_tally(a: Side, b: Side, runs: int, rng: random.Random) -> Race:
    """bob's /here a moment before the attendance window ends (side a) against the meeting's
    tally as it ends (side b). Allowed: /here first (bob present, meeting_attended) or the
    tally first (/here refused, bob absent, meeting_missed); never both, never neither."""
    race = Race("/here / meeting tally")
    rooms = _rooms("here", runs)

    async def setup(i: int, room: str) -> None:
        await play(a.game(_at(i)), [
            command(room, "alice", "/join"), command(room, "bob", "/join"),
            command(room, "alice", "/meeting now"), command(room, "alice", "/here")])

    await _set_up(rooms, setup)
    def ends(i: int) -> datetime:
        return _at(i) + timedelta(hours=3)

    # bob's clock a moment before his crew's window ends (later crews' windows are still open)
    await _against_due(rooms, lambda i, room: a.game(ends(i) - timedelta(milliseconds=1))
                       .handle(command(room, "bob", "/here")), ends, b, rng)
    ids = await _crew_ids(a.engine, rooms)
    async with a.engine.connect() as conn:
        status = dict((await conn.execute(
            select(MeetingRow.crew_id, MeetingRow.status)
            .where(MeetingRow.crew_id.in_(ids.values())))).all())
        present = Counter(crew_id for (crew_id,) in await conn.execute(
            select(MeetingRow.crew_id).join(RosterRow, RosterRow.meeting_id == MeetingRow.id)
            .join(MemberRow, MemberRow.id == RosterRow.member_id)
            .where(MeetingRow.crew_id.in_(ids.values()), MemberRow.user_id == "bob",
                   RosterRow.present_at.is_not(None))))
        ledger = await _ledger(conn, list(ids.values()))
    for room, crew_id in ids.items():
        bob = tuple(sorted(r for (c, user, r), n in ledger.items()
                           for _ in range(n) if c == crew_id and user == "bob"))
        alice = ledger[(crew_id, "alice", "meeting_attended")]
        facts = (status.get(crew_id), present[crew_id], bob, alice)
        outcome = {("tallied", 1, ("meeting_attended",), 1): "/here first",
                   ("tallied", 0, ("meeting_missed",), 1): "tally first"}.get(facts)
        race.judge(room, outcome, f"status, bob present, bob's awards, alice's = {facts}")
    return race


async def two_asks(a: Side, b: Side, runs: int, rng: random.Random) -> Race:
    """alice's third and fourth asks of the day, one on each side at once, with the daily cap
    at 3: both recorded (asks 3 and 4), exactly one scores."""
    race = Race("two /ask at the daily cap")
    rooms = _rooms("ask", runs)

    async def setup(i: int, room: str) -> None:
        await play(a.game(_at(i)), [command(room, "alice", "/join"),
                                    command(room, "alice", "/ask a lift"),
                                    command(room, "alice", "/ask a ladder")])

    await _set_up(rooms, setup)

    async def race_one(i: int, room: str) -> None:
        at = _at(i) + timedelta(minutes=1)
        await _together(lambda: a.game(at).handle(command(room, "alice", "/ask a recipe")),
                        lambda: b.game(at).handle(command(room, "alice", "/ask a song")), rng)

    await _waves(rooms, race_one)
    ids = await _crew_ids(a.engine, rooms)
    async with a.engine.connect() as conn:
        favours: dict[int, list[tuple[int, bool]]] = {}
        for crew_id, number, scored in await conn.execute(
                select(FavourRow.crew_id, FavourRow.number, FavourRow.scored)
                .where(FavourRow.crew_id.in_(ids.values()))):
            favours.setdefault(crew_id, []).append((number, scored))
        ledger = await _ledger(conn, list(ids.values()))
    for room, crew_id in ids.items():
        items = sorted(favours.get(crew_id, []))
        facts = ([n for n, _ in items], sum(s for _, s in items), ledger[(crew_id, "alice", "ask")])
        ok = facts == ([1, 2, 3, 4], 3, 3)
        race.judge(room, "one scored, one over the cap" if ok else None,
                   f"numbers, scored, ask awards = {facts}")
    return race


async def two_checkins(a: Side, b: Side, runs: int, rng: random.Random) -> Race:
    """alice and bob each /checkin at once on a different side, with no circle open: one
    circle opens, with both check-ins and one closing timer."""
    race = Race("two /checkin opening a circle")
    rooms = _rooms("checkin", runs)

    async def setup(i: int, room: str) -> None:
        await play(a.game(_at(i)), [command(room, "alice", "/join"),
                                    command(room, "bob", "/join")])

    await _set_up(rooms, setup)

    async def race_one(i: int, room: str) -> None:
        at = _at(i) + timedelta(minutes=1)
        await _together(lambda: a.game(at).handle(command(room, "alice", "/checkin sunny")),
                        lambda: b.game(at).handle(command(room, "bob", "/checkin rainy")), rng)

    await _waves(rooms, race_one)
    ids = await _crew_ids(a.engine, rooms)
    async with a.engine.connect() as conn:
        circles = Counter(c for (c,) in await conn.execute(
            select(CircleRow.crew_id).where(CircleRow.crew_id.in_(ids.values()))))
        checkins = Counter(c for (c,) in await conn.execute(
            select(CircleRow.crew_id).join(CheckinRow, CheckinRow.circle_id == CircleRow.id)
            .where(CircleRow.crew_id.in_(ids.values()))))
        timers = Counter(c for (c,) in await conn.execute(
            select(DueRow.crew_id).where(DueRow.crew_id.in_(ids.values()),
                                         DueRow.kind == "circle_close")))
    for room, crew_id in ids.items():
        facts = (circles[crew_id], checkins[crew_id], timers[crew_id])
        race.judge(room, "one circle, both in it" if facts == (1, 2, 1) else None,
                   f"circles, check-ins, closing timers = {facts}")
    return race


async def two_thanks(a: Side, b: Side, runs: int, rng: random.Random) -> Race:
    """alice thanks bob's offer twice at once, once on each side: +1 each, once."""
    race = Race("/thanks twice")
    rooms = _rooms("thanks", runs)

    async def setup(i: int, room: str) -> None:
        await play(a.game(_at(i)), [command(room, "alice", "/join"),
                                    command(room, "bob", "/join"),
                                    command(room, "bob", "/offer @alice a lift",
                                            mentions=["alice"])])

    await _set_up(rooms, setup)
    replies: dict[str, list[Message]] = {}

    async def thank(side: Side, room: str, at: datetime) -> None:
        replies.setdefault(room, []).extend(
            await side.game(at).handle(command(room, "alice", "/thanks 1")))

    async def race_one(i: int, room: str) -> None:
        at = _at(i) + timedelta(minutes=1)
        await _together(lambda: thank(a, room, at), lambda: thank(b, room, at), rng)

    await _waves(rooms, race_one)
    ids = await _crew_ids(a.engine, rooms)
    async with a.engine.connect() as conn:
        ledger = await _ledger(conn, list(ids.values()))
        thanked = dict((await conn.execute(
            select(FavourRow.crew_id, func.count()).where(
                FavourRow.crew_id.in_(ids.values()), FavourRow.thanked)
            .group_by(FavourRow.crew_id))).all())
    for room, crew_id in ids.items():
        refused = sum("already thanked" in " ".join(map(str, m.parts)) for m in replies[room])
        facts = (ledger[(crew_id, "alice", "mutual_regard")],
                 ledger[(crew_id, "bob", "mutual_regard")], thanked.get(crew_id, 0), refused)
        race.judge(room, "thanked once" if facts == (1, 1, 1, 1) else None,
                   f"alice's and bob's regard, offers thanked, refusals = {facts}")
    return race


SCENARIOS: dict[str, Callable[[Side, Side, int, random.Random], Awaitable[Race]]] = {
    "circle": circle_closing, "here": here_tally, "ask": two_asks, "checkin": two_checkins,
    "thanks": two_thanks,
}
