"""Favours: asks, offers and money talks, and who thanked whom."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from bot.rules.model import Favour, Link, Member
from storage.models import CheckinRow, CircleRow, FavourRow, ListenRow
from storage.repositories.base import Db, numbered
from storage.repositories.rows import favour_and_member, link_and_favour, record, to_favour
from storage.repositories.statements import NUMBERS


class SqlFavours:
    """Asks, offers and money talks (level 2), read and written in the unit of work's
    transaction (`db`)."""

    def __init__(self, db: Db) -> None:
        self.db = db

    async def add_favour(self, crew_id: int, kind: str, member_id: int,
                         recipient_id: int | None, text: str, scored: bool, now: datetime
                         ) -> Favour:
        favour_id, number = await numbered(lambda: self.db.first(
            "add_favour", crew_id=crew_id, kind=kind, member_id=member_id,
            recipient_id=recipient_id, text=text, scored=scored, at=now))
        return Favour(favour_id, crew_id, number, kind, member_id, recipient_id, text, scored,
                      False, now)

    async def add_favour_counted(self, crew_id: int, kind: str, member_id: int,
                                 recipient_id: int | None, text: str, since: datetime,
                                 until: datetime, now: datetime,
                                 scores: Callable[[int], bool]) -> Favour:
        """`add_favour`, scored if `scores` says so of how many of the member's favours of
        this kind scored in [since, until).

        The count is read, then the insert runs only while the count is still the same. Another
        transaction's favour committed in between makes the insert do nothing; one not yet
        committed takes the same item number, so the insert waits for it and then does nothing
        (`numbered`). Either way the count is read again and `scores` asked again: two asks at
        once never both score past the cap (SQLite's writers take turns anyway)."""
        decided = False

        async def count_then_insert() -> Any:
            nonlocal decided
            counted = await self.scored_favours(member_id, kind, since, until)
            decided = scores(counted)
            return await self.db.first(
                "add_favour_counted", crew_id=crew_id, kind=kind, member_id=member_id,
                recipient_id=recipient_id, text=text, scored=decided, since=since, until=until,
                counted=counted, at=now)

        favour_id, number = await numbered(count_then_insert)
        return Favour(favour_id, crew_id, number, kind, member_id, recipient_id, text, decided,
                      False, now)

    async def favour(self, favour_id: int) -> Favour | None:
        row = (await self.db.run_in_crew("favour", id=favour_id)).first()
        return record(Favour, row) if row else None

    async def favour_author(self, favour_id: int) -> tuple[Favour, Member] | None:
        """A favour and the member who made it (the asker, the giver), in one query."""
        row = (await self.db.run_in_crew("favour_author", id=favour_id)).first()
        return favour_and_member(row)

    async def numbered_favour_author(self, crew_id: int, kind: str, number: int
                                     ) -> tuple[Favour, Member] | None:
        """`favour_author` of the crew's favour a member names: its kind and number."""
        if number not in NUMBERS:
            return None
        row = (await self.db.run("numbered_favour_author", crew_id=crew_id, kind=kind,
                                 number=number)).first()
        return favour_and_member(row)

    async def scored_favours(self, member_id: int, kind: str, since: datetime,
                             until: datetime) -> int:
        """How many of the member's favours of this kind scored in [since, until)."""
        return (await self.db.run_in_crew("scored_favours", member_id=member_id, kind=kind,
                                          since=since, until=until)).scalar() or 0

    async def mark_thanked(self, favour_id: int) -> bool:
        return bool((await self.db.run_in_crew("mark_thanked", w_id=favour_id)).rowcount)

    async def offers_awaiting_thanks(self, member_id: int) -> list[Favour]:
        rows = await self.db.session.scalars(
            select(FavourRow).where(FavourRow.recipient_id == member_id,
                                    FavourRow.kind == "offer", ~FavourRow.thanked,
                                    *self.db.in_crew(FavourRow))
            .order_by(FavourRow.id))
        return [to_favour(r) for r in rows]

    async def reciprocity(self, crew_id: int, since: datetime | None
                          ) -> list[tuple[str, int, int, int]]:
        """(kind, from member, to member, count) since `since` (None: ever): `listen` counts the
        check-ins (of circles opened since) one member confirmed listening to, `help` the
        offers (made since) the recipient thanked."""
        listens = (
            select(ListenRow.listener_id.label("giver"), CheckinRow.member_id.label("receiver"),
                   func.count(func.distinct(ListenRow.checkin_id)).label("times"))
            .join(CheckinRow, CheckinRow.id == ListenRow.checkin_id)
            .join(CircleRow, CircleRow.id == CheckinRow.circle_id)
            .where(CircleRow.crew_id == crew_id)
            .group_by(ListenRow.listener_id, CheckinRow.member_id))
        helps = (
            select(FavourRow.member_id.label("giver"), FavourRow.recipient_id.label("receiver"),
                   func.count().label("times"))
            .where(FavourRow.crew_id == crew_id, FavourRow.kind == "offer", FavourRow.thanked,
                   FavourRow.recipient_id.is_not(None))
            .group_by(FavourRow.member_id, FavourRow.recipient_id))
        if since is not None:
            listens = listens.where(CircleRow.opened_at >= since)
            helps = helps.where(FavourRow.created_at >= since)
        out = [(kind, row.giver, row.receiver, row.times)
               for kind, query in (("listen", listens), ("help", helps))
               for row in await self.db.session.execute(query)]
        return sorted(out)

    async def linked_favour(self, crew_id: int, message_id: str
                            ) -> tuple[Link | None, tuple[Favour, Member] | None]:
        """`linked`, and for a favour's message also `favour_author`, in one query."""
        row = (await self.db.run("linked_favour", crew_id=crew_id, message_id=message_id)).first()
        if row is None:
            return None, None
        return link_and_favour(row)

    async def member_favours(self, member_id: int) -> list[Favour]:
        """The member's asks, offers and money talks, then the offers made to them (those
        without their giver's text)."""
        rows = await self.db.session.scalars(
            select(FavourRow).where((FavourRow.member_id == member_id)
                                    | (FavourRow.recipient_id == member_id),
                                    *self.db.in_crew(FavourRow))
            .order_by(FavourRow.member_id != member_id, FavourRow.id))
        return [Favour(r.id, r.crew_id, r.number, r.kind, r.member_id, r.recipient_id,
                       r.text if r.member_id == member_id else "", r.scored, r.thanked,
                       r.created_at) for r in rows]
