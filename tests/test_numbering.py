"""Numbers members type count within the crew (and the kind): a crew's first ask is ask 1 and its
first offer offer 1, whatever other crews did; a database made before (revision 0002) is
numbered by migration 0003, and buttons and message links posted before keep working."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from alembic import command
from sqlalchemy import insert, select, text
from sqlalchemy.engine import Connection

from bot.app import App, open_app
from bot.clock import SimClock
from bot.commands.events import Actor, ButtonPressed, Chat, CommandReceived, Event
from bot.commands.game import APOLOGY
from storage.engine import make_engine
from storage.migrate import alembic_config
from storage.models import (
    ConflictRow,
    CrewRow,
    FavourRow,
    MemberRow,
    MessageLinkRow,
    VentureMemberRow,
    VentureRow,
)
from tests.conftest import START
from tests.test_storage import HEAD, TABLES, schema

A, B = Chat("console", "crew-a", "crew-a"), Chat("console", "crew-b", "crew-b")


def _upgrade_to(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def previous_version_with_two_crews(url: str) -> dict[str, int]:
    """A database at revision 0002 (before numbers) holding the items of two crews, made in an
    interleaved order; the global ids of the items, by name."""
    engine = make_engine(url)
    ids: dict[str, int] = {}
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_to, "0002")

            async def add(label: str, table: Any, /, **values: Any) -> int:
                # Only the columns of revision 0002: the tables' number columns are left out.
                ids[label] = (await conn.execute(
                    insert(table).values(**values).returning(table.c.id))).scalar_one()
                return ids[label]

            crews = {}
            for chat in (A, B):
                crews[chat] = await add(chat.chat_id, CrewRow.__table__, platform="console",
                                        chat_id=chat.chat_id, title=chat.title, settings={},
                                        size_warned=False, created_at=START)
            people = {"alice": A, "bob": A, "carol": B, "dan": B}
            for person, chat in people.items():
                await add(person, MemberRow.__table__, crew_id=crews[chat], user_id=person,
                          name=person, active=True, hidden=False, joined_at=START)

            async def favour(name: str, kind: str, who: str, to: str | None) -> None:
                await add(name, FavourRow.__table__, crew_id=crews[people[who]], kind=kind,
                          member_id=ids[who], recipient_id=ids[to] if to else None,
                          text=name, scored=True, thanked=False, created_at=START)

            await favour("a-ask-1", "ask", "alice", None)
            await favour("b-offer-1", "offer", "carol", "dan")
            await favour("a-offer-1", "offer", "bob", "alice")
            await favour("b-ask-1", "ask", "dan", None)
            await favour("b-offer-2", "offer", "carol", "dan")
            await favour("a-money-1", "money", "alice", None)
            await favour("b-offer-3", "offer", "dan", "carol")

            async def conflict(name: str, who: str, other: str) -> None:
                await add(name, ConflictRow.__table__, crew_id=crews[people[who]],
                          proposer_id=ids[who], other_id=ids[other], status="proposed",
                          proposed_at=START, apology="")

            await conflict("b-conflict-1", "carol", "dan")
            await conflict("a-conflict-1", "alice", "bob")
            await conflict("b-conflict-2", "dan", "carol")

            for name, who, other in (("b-venture-1", "carol", "dan"),
                                     ("a-venture-1", "alice", "bob")):
                venture = await add(name, VentureRow.__table__, crew_id=crews[people[who]],
                                    name=name, key=name, proposer_id=ids[who],
                                    status="proposed", created_at=START)
                for member, confirmed in ((who, START), (other, None)):
                    await add(f"{name}-{member}", VentureMemberRow.__table__,
                              venture_id=venture, member_id=ids[member], confirmed_at=confirmed)

            # the message the bot posted for crew B's third offer, replied to after the upgrade
            await add("link", MessageLinkRow.__table__, crew_id=crews[B], message_id="old-7",
                      kind="offer", item_id=ids["b-offer-3"], author="dan")
    finally:
        await engine.dispose()
    return ids


async def said(app: App, event: Event) -> str:
    return " ".join(m.plain() for m in await app.game.handle(event))


async def refused(app: App, event: Event) -> bool:
    """Whether the bot refused the event: one private reply that is not the apology for a
    crash."""
    replies = await app.game.handle(event)
    return [m.private for m in replies] == [True] and replies[0].plain() != APOLOGY


def command_in(chat: Chat, who: str, line: str, reply_to: str | None = None) -> CommandReceived:
    return CommandReceived(chat, Actor(who, who), line, reply_to=reply_to,
                           mentions=tuple(Actor(n, n) for n in ("alice", "bob", "carol", "dan")
                                          if f"@{n}" in line))


async def test_migration_numbers_old_items_per_crew_and_kind_and_old_buttons_still_work(db_url):
    ids = await previous_version_with_two_crews(db_url)
    clock = SimClock(START + timedelta(days=1))
    app = await open_app(db_url, clock)  # upgrades to the latest revision
    try:
        assert await schema(db_url) == (TABLES, [HEAD], [])
        async with app.engine.connect() as conn:
            numbers = {name: (await conn.execute(select(table.c.number).where(
                table.c.id == ids[name]))).scalar_one()
                for table, names in (
                    (FavourRow.__table__, ("a-ask-1", "b-offer-1", "a-offer-1", "b-ask-1",
                                           "b-offer-2", "a-money-1", "b-offer-3")),
                    (ConflictRow.__table__, ("b-conflict-1", "a-conflict-1", "b-conflict-2")),
                    (VentureRow.__table__, ("b-venture-1", "a-venture-1")))
                for name in names}
        assert numbers == {name: int(name[-1]) for name in numbers}

        # what members type names their own crew's item of that kind
        assert await said(app, command_in(B, "dan", "/thanks 1")) == (
            "dan thanks carol for offer 1: +1 each for talking and listening with mutual regard.")
        assert await refused(app, command_in(A, "alice", "/thanks 2"))  # crew A has offer 1
        # a button posted before the upgrade carries the global id, and still works
        pressed = ButtonPressed(B, Actor("dan", "dan"), action=f"t:{ids['b-offer-2']}")
        assert await said(app, pressed) == (
            "dan thanks carol for offer 2: +1 each for talking and listening with mutual regard.")
        # so does a reply to a message posted before
        assert await said(app, command_in(B, "carol", "/thanks", reply_to="old-7")) == (
            "carol thanks dan for offer 3: +1 each for talking and listening with mutual regard.")
        async with app.engine.connect() as conn:
            thanked = set((await conn.execute(
                select(FavourRow.text).where(FavourRow.thanked))).scalars())
        assert thanked == {"b-offer-1", "b-offer-2", "b-offer-3"}

        assert "dan accepted the repair (conflict 1)" in await said(
            app, command_in(B, "dan", "/conflict accept 1"))
        pressed = ButtonPressed(B, Actor("carol", "carol"), action=f"a:{ids['b-conflict-2']}")
        assert "carol accepted the repair (conflict 2)" in await said(app, pressed)
        assert "\u201ca-venture-1\u201d is co-owned by alice and bob" in await said(
            app, command_in(A, "bob", "/coown confirm 1"))
        async with app.engine.connect() as conn:
            accepted = set((await conn.execute(select(ConflictRow.id).where(
                ConflictRow.status == "accepted"))).scalars())
            owned = (await conn.execute(select(VentureRow.name).where(
                VentureRow.status == "owned"))).scalars().all()
        assert accepted == {ids["b-conflict-1"], ids["b-conflict-2"]}
        assert owned == ["a-venture-1"]

        # new items go on from each crew's own numbers
        assert "alice asks (ask 2)" in await said(app, command_in(A, "alice", "/ask a lift"))
        assert "(offer 4)" in await said(app, command_in(B, "carol", "/offer @dan soup"))
        assert "(offer 2)" in await said(app, command_in(A, "alice", "/offer @bob soup"))
        assert "(venture 2)" in await said(app, command_in(B, "carol", "/coown Mill @dan"))
    finally:
        await app.close()


async def test_a_new_crew_counts_from_one_whatever_other_crews_did(play_any):
    lines = await play_any("""
        alice: /ask a lift
        bob: /money I code for money
        bob: /offer @alice a ride
        alice: /conflict @bob
        alice: /coown Bakery @bob
        :room other
        carol: /ask soup
        dan: /offer @carol bread
        carol: /thanks 1
        carol: /conflict @dan
        dan: /conflict accept 1
        dan: /coown Mill @carol
        carol: /coown confirm 1
    """)
    other = "\n".join(lines)  # carol and dan play only in the other room
    for shown in ("carol asks (ask 1)", "dan offers something to @carol (offer 1)",
                  "carol thanks dan for offer 1", "(conflict 1)",
                  "dan accepted the repair (conflict 1)", "(venture 1)",
                  "\u201cMill\u201d is co-owned by dan and carol"):
        assert shown in other, shown
    assert await play_any.points("other") == {"carol": 106, "dan": 106}


async def test_asks_made_at_once_in_one_crew_all_go_through_with_different_numbers(any_app):
    """On PostgreSQL asks racing for the same number wait on the unique index, and the one that
    lost takes the next number: eight at once (more than a unit of work is retried) all go
    through. On SQLite writers take turns."""
    people = [f"member{i}" for i in range(8)]
    replies = await asyncio.gather(*(said(any_app, command_in(A, who, f"/ask {who} needs soup"))
                                     for who in people))
    assert all(" asks (ask " in reply for reply in replies), replies
    numbers = sorted(int(reply.split("(ask ", 1)[1].split(")", 1)[0]) for reply in replies)
    assert numbers == list(range(1, 9))
    async with any_app.engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT number FROM favours WHERE kind = 'ask' ORDER BY number"))).scalars().all()
    assert rows == numbers


async def test_a_number_too_large_for_any_item_is_refused_like_an_unknown_one(any_app):
    await said(any_app, command_in(A, "alice", "/conflict @bob"))
    for line in ("/thanks 99999999999999", "/conflict accept 99999999999999",
                 "/coown confirm 99999999999", "/apologise 3000000000", "/forgive 2147483648"):
        assert await refused(any_app, command_in(A, "bob", line)), line


async def test_coown_status_takes_the_crews_own_venture_number(play_any):
    lines = await play_any("""
        alice: /join
        bob: /join
        alice: /coown Bakery @bob
        :room other
        carol: /join
        dan: /join
        carol: /coown Mill @dan
        carol: /coown status 1
    """)
    # the other room's venture 1 is Mill, though Bakery holds the lower id in the database
    assert lines[-1].startswith(
        "#14 bot: \u201cMill\u201d (venture 1): confirmed by carol"), lines[-2:]
