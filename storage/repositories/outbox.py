"""Posts waiting to be sent, the messages they became, and work waiting to be due."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, insert, select, true, update

from bot.rules.model import Crew, Due, Link
from storage.instance import PROCESS_LOCKS
from storage.models import CrewRow, DueRow, OutboxRow, ReplyRow
from storage.repositories.base import Db
from storage.repositories.rows import record, to_crew
from storage.repositories.statements import LEASE, MAX_ATTEMPTS

STALE_BATCH = 100


class SqlOutbox:
    """Posts to send, message links and due work, read and written in the unit of work's
    transaction (`db`)."""

    def __init__(self, db: Db) -> None:
        self.db = db

    async def add_post(self, crew_id: int, platform: str, payload: dict, now: datetime) -> int:
        row = OutboxRow(crew_id=crew_id, platform=platform, payload=payload, created_at=now,
                        attempts=0)
        self.db.session.add(row)
        await self.db.session.flush()
        return row.id

    async def add_posts(self, crew_id: int, platform: str, payloads: list[dict],
                        now: datetime) -> None:
        """Queues several posts, in this order, in one round trip (executemany: one
        statement prepared once; asyncpg pipelines the rows)."""
        if payloads:
            await self.db.run_many("add_post", [
                {"crew_id": crew_id, "platform": platform, "payload": payload, "at": now}
                for payload in payloads])

    async def lease_posts(self, platform: str, limit: int, now: datetime
                          ) -> list[tuple[int, Crew, dict]]:
        """Takes unsent posts for a while, so two processes never send the same one; a post
        whose sender died is taken again when the lease ends."""
        # Fair across chats: every chat's oldest post, then every chat's second, and so on
        # (each chat's own posts stay in order), so one chat with many posts queued, which
        # its own per-chat limit slows down, never holds up the others.
        turns = (select(OutboxRow.id, func.row_number().over(
                     partition_by=OutboxRow.crew_id, order_by=OutboxRow.id).label("turn"))
                 .where(OutboxRow.platform == platform, OutboxRow.sent_at.is_(None),
                        OutboxRow.attempts < MAX_ATTEMPTS,
                        (OutboxRow.lease_until.is_(None)) | (OutboxRow.lease_until < now))
                 .subquery())
        query = (select(OutboxRow, CrewRow).join(turns, turns.c.id == OutboxRow.id)
                 .join(CrewRow, CrewRow.id == OutboxRow.crew_id)
                 .order_by(turns.c.turn, OutboxRow.id).limit(limit))
        if self.db.dialect == "postgresql":
            query = query.with_for_update(of=OutboxRow, skip_locked=True)
        rows = (await self.db.session.execute(query)).all()
        if rows:
            await self.db.session.execute(
                update(OutboxRow).where(OutboxRow.id.in_([row.OutboxRow.id for row in rows]))
                .values(lease_until=now + LEASE))
        return [(row.OutboxRow.id, to_crew(row.CrewRow), row.OutboxRow.payload) for row in rows]

    async def post_sent(self, post_id: int, message_id: str | None, now: datetime) -> None:
        await self.db.session.execute(
            update(OutboxRow).where(OutboxRow.id == post_id)
            .values(sent_at=now, message_id=message_id))

    async def post_failed(self, post_id: int) -> None:
        await self.db.session.execute(
            update(OutboxRow).where(OutboxRow.id == post_id)
            .values(attempts=OutboxRow.attempts + 1, lease_until=None))

    async def crew_posts(self, crew_id: int) -> list[tuple[int, dict, bool]]:
        """(id, payload, sent?) of every post queued for a crew, oldest first."""
        rows = await self.db.session.execute(
            select(OutboxRow.id, OutboxRow.payload, OutboxRow.sent_at)
            .where(OutboxRow.crew_id == crew_id).order_by(OutboxRow.id))
        return [(row.id, row.payload, row.sent_at is not None) for row in rows]

    async def set_post_payload(self, post_id: int, payload: dict) -> None:
        await self.db.session.execute(
            update(OutboxRow).where(OutboxRow.id == post_id).values(payload=payload))

    async def link(self, crew_id: int, message_id: str, kind: str, item_id: int,
                   author: str) -> None:
        await self.db.run("link", crew_id=crew_id, message_id=message_id, kind=kind,
                          item_id=item_id, author=author)

    async def link_in_chat(self, platform: str, chat_id: str, message_id: str, kind: str,
                           item_id: int, author: str) -> None:
        """`link` for the crew of a chat (none: nothing), in one statement."""
        await self.db.run("link_chat", platform=platform, chat_id=chat_id, message_id=message_id,
                          kind=kind, item_id=item_id, author=author)

    async def linked(self, crew_id: int, message_id: str) -> Link | None:
        row = (await self.db.run("linked", crew_id=crew_id, message_id=message_id)).first()
        return record(Link, row) if row else None

    async def add_due(self, crew_id: int, kind: str, subject_id: int, due_at: datetime) -> None:
        await self.db.run("add_due", crew_id=crew_id, kind=kind, subject_id=subject_id,
                          due_at=due_at)

    async def next_due_at(self) -> datetime | None:
        return await self.db.session.scalar(
            select(func.min(DueRow.due_at)).where(DueRow.done_at.is_(None)))

    async def due(self, now: datetime, limit: int) -> list[Due]:
        rows = await self.db.session.scalars(
            select(DueRow).where(DueRow.done_at.is_(None), DueRow.due_at <= now)
            .order_by(DueRow.due_at, DueRow.id).limit(limit))
        return [Due(r.id, r.crew_id, r.kind, r.subject_id, r.due_at) for r in rows]

    async def claim_due_many(self, due_ids: list[int], now: datetime) -> set[int]:
        """Claims these pieces of due work in this transaction; the ids nobody else did."""
        if not due_ids:
            return set()
        rows = await self.db.session.scalars(
            update(DueRow).where(DueRow.id.in_(due_ids), DueRow.done_at.is_(None),
                                 *self.db.in_crew(DueRow))
            .values(done_at=now).returning(DueRow.id))
        return set(rows)

    async def claim_due(self, due_id: int, now: datetime) -> bool:
        """Claims one piece of due work in this transaction; False if someone else did."""
        result = await self.db.session.execute(
            update(DueRow).where(DueRow.id == due_id, DueRow.done_at.is_(None),
                                 *self.db.in_crew(DueRow))
            .values(done_at=now))
        return bool(result.rowcount)

    # replies kept with their event

    async def keep_replies(self, platform: str, event_id: str, chat_id: str, payload: dict,
                           holder: int, now: datetime) -> None:
        await self.db.conn.execute(insert(ReplyRow).values(
            platform=platform, event_id=event_id[:96], chat_id=chat_id, payload=payload,
            holder=holder, created_at=now))

    def _holder_gone(self, holder: int) -> ColumnElement[bool]:
        """True for a reply whose sender has ended: on PostgreSQL, nobody holds its process lock
        (taking it here, till the end of this transaction, also keeps two claimers from both
        winning); on SQLite, one process a database, any sender but this one."""
        others = ReplyRow.holder != holder
        if self.db.dialect != "postgresql":
            return others
        return others & func.pg_try_advisory_xact_lock(PROCESS_LOCKS, ReplyRow.holder).is_(true())

    async def claim_replies(self, platform: str, event_id: str, holder: int) -> dict | None:
        result = await self.db.conn.execute(
            update(ReplyRow).where(ReplyRow.platform == platform,
                                   ReplyRow.event_id == event_id[:96], self._holder_gone(holder))
            .values(holder=holder).returning(ReplyRow.payload))
        return result.scalar()

    async def stale_replies(self, platform: str, holder: int) -> list[tuple[str, str, dict]]:
        oldest = (select(ReplyRow.id).where(ReplyRow.platform == platform)
                  .order_by(ReplyRow.id).limit(STALE_BATCH).scalar_subquery())
        result = await self.db.conn.execute(
            update(ReplyRow).where(ReplyRow.platform == platform, ReplyRow.id.in_(oldest),
                                   self._holder_gone(holder))
            .values(holder=holder)
            .returning(ReplyRow.event_id, ReplyRow.chat_id, ReplyRow.payload))
        return sorted(((r.event_id, r.chat_id, r.payload) for r in result),
                      key=lambda r: r[0])

    async def replies_sent(self, platform: str, event_id: str) -> None:
        await self.db.conn.execute(delete(ReplyRow).where(
            ReplyRow.platform == platform, ReplyRow.event_id == event_id[:96]))
