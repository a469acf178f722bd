"""The store the command layer uses: one unit of work on one database connection."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Executable,
    Integer,
    String,
    and_,
    bindparam,
    delete,
    false,
    func,
    literal,
    null,
    select,
    text,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from bot.rules.model import (
    Checkin,
    Circle,
    Conflict,
    Crew,
    Due,
    Favour,
    LedgerEntry,
    Link,
    Meeting,
    Member,
    Venture,
)
from storage.models import (
    CheckinRow,
    CircleRow,
    ConflictRow,
    CrewRow,
    DueRow,
    FavourRow,
    LedgerRow,
    ListenRow,
    MeetingRow,
    MemberRow,
    MessageLinkRow,
    OutboxRow,
    ReflectionRow,
    RosterRow,
    SeenEventRow,
    TotalRow,
    UTCDateTime,
    VentureMemberRow,
    VentureRow,
)
from storage.pg_statements import PgStatement
from storage.sqlite_loop import LoopConnection, LoopSession, loop_sqlite

LEASE = timedelta(seconds=60)
MEETING_TIMERS = ("meeting_prompt", "meeting_reminder", "meeting_start", "meeting_tally")
FAVOUR_KINDS = ("ask", "money", "offer")  # message links whose item is a favour
FAVOUR_NUMBER = ["crew_id", "kind", "number"]  # the unique index of the numbers members type
NUMBERS = range(1, 2**31)  # an item's number is an INTEGER: a larger one typed names nothing
NUMBER_TRIES = 100  # inserts that lost the race for a number, before giving up
MAX_ATTEMPTS = 50  # then the post is given up (a chat that is gone), not retried forever


def _crew(r: CrewRow) -> Crew:
    return Crew(r.id, r.platform, r.chat_id, r.title, dict(r.settings or {}), r.schedule,
                r.size_warned)


def _member(r: MemberRow) -> Member:
    return Member(r.id, r.crew_id, r.user_id, r.name, r.active, r.hidden, r.handle)


def _circle(r: CircleRow) -> Circle:
    return Circle(r.id, r.crew_id, r.opened_at, r.closes_at, r.status)


def _favour(r: FavourRow) -> Favour:
    return Favour(r.id, r.crew_id, r.number, r.kind, r.member_id, r.recipient_id, r.text,
                  r.scored, r.thanked, r.created_at)


def _meeting(r: MeetingRow) -> Meeting:
    return Meeting(r.id, r.crew_id, r.month, r.starts_at, r.ends_at, r.scheduled, r.status)


def _conflict(r: ConflictRow) -> Conflict:
    return Conflict(r.id, r.crew_id, r.number, r.proposer_id, r.other_id, r.status,
                    r.proposed_at, r.accepted_at, r.apologiser_id)


def _entry(r: LedgerRow) -> LedgerEntry:
    return LedgerEntry(r.id, r.crew_id, r.member_id, r.points, r.level, r.reason, r.source, r.at)


# The statements of every game action, built once per dialect with bound parameters: SQLAlchemy
# then skips building and cache-keying them per call, and Core rows skip ORM entity loading.
_CREWS, _MEMBERS = CrewRow.__table__, MemberRow.__table__
_CIRCLES, _CHECKINS, _LISTENS = CircleRow.__table__, CheckinRow.__table__, ListenRow.__table__
_FAVOURS, _LINKS, _SEEN = FavourRow.__table__, MessageLinkRow.__table__, SeenEventRow.__table__
_TOTALS, _MEETINGS, _ROSTER = TotalRow.__table__, MeetingRow.__table__, RosterRow.__table__
_LEDGER, _DUE, _OUTBOX = LedgerRow.__table__, DueRow.__table__, OutboxRow.__table__
_CREW_COLS = (_CREWS.c.id, _CREWS.c.platform, _CREWS.c.chat_id, _CREWS.c.title,
              _CREWS.c.settings, _CREWS.c.schedule, _CREWS.c.size_warned)
_MEMBER_COLS = (_MEMBERS.c.id, _MEMBERS.c.crew_id, _MEMBERS.c.user_id, _MEMBERS.c.name,
                _MEMBERS.c.active, _MEMBERS.c.hidden, _MEMBERS.c.handle)
_CIRCLE_COLS = (_CIRCLES.c.id, _CIRCLES.c.crew_id, _CIRCLES.c.opened_at, _CIRCLES.c.closes_at,
                _CIRCLES.c.status)
_FAVOUR_COLS = (_FAVOURS.c.id, _FAVOURS.c.crew_id, _FAVOURS.c.number, _FAVOURS.c.kind,
                _FAVOURS.c.member_id, _FAVOURS.c.recipient_id, _FAVOURS.c.text,
                _FAVOURS.c.scored, _FAVOURS.c.thanked, _FAVOURS.c.created_at)
_FAVOUR_FIELDS = len(_FAVOUR_COLS)
_MEETING_COLS = (_MEETINGS.c.id, _MEETINGS.c.crew_id, _MEETINGS.c.month, _MEETINGS.c.starts_at,
                 _MEETINGS.c.ends_at, _MEETINGS.c.scheduled, _MEETINGS.c.status)


def next_number(table: Any, **within: Any) -> Any:
    """The next number in `table` within these columns' values (the crew, and the kind), as a
    subquery of the insert itself: one statement, no extra round trip. The insert goes with
    ON CONFLICT DO NOTHING on the numbers' unique index (`numbered` runs it)."""
    return (select(func.coalesce(func.max(table.c.number), 0) + 1)
            .where(*(table.c[name] == value for name, value in within.items()))
            .scalar_subquery())


async def numbered(insert_once: Callable[[], Awaitable[Any]]) -> Any:
    """The row an insert taking the `next_number` returned, trying again while it returns none.

    Two PostgreSQL transactions inserting at once read the same greatest number. The second
    insert waits on the unique index until the first commits, then does nothing (ON CONFLICT
    DO NOTHING), and the same insert again, a new statement with a new snapshot, reads the
    first one's number and takes the next: no error, no repeated unit of work (which a burst
    of asks in one crew would exhaust). SQLite's writers take turns, so its first try wins."""
    for _ in range(NUMBER_TRIES):
        row = await insert_once()
        if row is not None:
            return row
    raise RuntimeError(f"no free item number after {NUMBER_TRIES} tries")


def _circle_state_with_roster(by_id: bool) -> Executable:
    """The crew's active members (part 0, by id), then its open circle with each check-in and
    confirmation (part 1, by check-in), in one query: each part's row leaves the other's
    columns NULL, typed so that the first part's columns decode the second's values. `by_id`:
    the check-ins and confirmations of the circle `circle_id` instead, without the circle's
    own columns (the caller has the circle; repeated on every row, they cost more to decode
    than the rest)."""
    p = bindparam
    member_cols = [c.label(f"m_{c.name}") for c in _MEMBER_COLS]
    circle_cols = [c.label(f"c_{c.name}") for c in _CIRCLE_COLS]
    state_cols = [_CHECKINS.c.id.label("k_id"), _CHECKINS.c.member_id.label("k_member_id"),
                  _LISTENS.c.listener_id.label("l_listener_id")]

    def nulls(columns: list[Any]) -> list[Any]:
        return [type_coerce(null(), c.type) for c in columns]

    members = select(literal(0).label("part"), *member_cols, *(
        type_coerce(null(), c.type).label(c.name) for c in [*circle_cols, *state_cols])
    ).where(_MEMBERS.c.crew_id == p("crew_id"), _MEMBERS.c.active)
    circle = select(literal(1), *nulls(member_cols),
                    *(nulls(circle_cols) if by_id else circle_cols), *state_cols)
    circle = circle.select_from(
        _CIRCLES.outerjoin(_CHECKINS, _CHECKINS.c.circle_id == _CIRCLES.c.id)
        .outerjoin(_LISTENS, _LISTENS.c.checkin_id == _CHECKINS.c.id)
    ).where(_CIRCLES.c.crew_id == p("crew_id"),
            _CIRCLES.c.id == p("circle_id") if by_id else _CIRCLES.c.status == "open")
    # No ORDER BY: sorting a compound select costs SQLite a temporary b-tree per part (most of
    # this query's time); _roster_and_circle puts the few rows in order instead.
    return union_all(members, circle)


def _prebuilt(dialect: str) -> dict[str, Executable]:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    p = bindparam
    add_total = insert(_TOTALS).values(crew_id=p("crew_id"), period=p("period"),
                                       member_id=p("member_id"), level=p("level"),
                                       points=p("points"))
    return {
        "award": insert(_LEDGER).values(
            crew_id=p("crew_id"), member_id=p("member_id"), points=p("points"),
            level=p("level"), reason=p("reason"), source=p("source"), month=p("month"),
            at=p("at"))
        .on_conflict_do_nothing(index_elements=["crew_id", "member_id", "reason", "source"])
        .returning(_LEDGER.c.member_id, _LEDGER.c.level, _LEDGER.c.points),
        "add_total": add_total.on_conflict_do_update(
            index_elements=["crew_id", "period", "member_id", "level"],
            set_={"points": _TOTALS.c.points + add_total.excluded.points}),
        "mark_thanked": update(_FAVOURS).where(_FAVOURS.c.id == p("w_id"), ~_FAVOURS.c.thanked)
        .values(thanked=True),
        "crew_member": select(*_CREW_COLS, *_MEMBER_COLS).select_from(
            _CREWS.outerjoin(_MEMBERS, and_(_MEMBERS.c.crew_id == _CREWS.c.id,
                                            _MEMBERS.c.user_id == p("user_id"))))
        .where(_CREWS.c.platform == p("platform"), _CREWS.c.chat_id == p("chat_id")),
        "member": select(*_MEMBER_COLS).where(_MEMBERS.c.crew_id == p("crew_id"),
                                              _MEMBERS.c.user_id == p("user_id")),
        "member_by_id": select(*_MEMBER_COLS).where(_MEMBERS.c.id == p("id")),
        "roster": select(*_MEMBER_COLS).where(_MEMBERS.c.crew_id == p("crew_id"),
                                              _MEMBERS.c.active).order_by(_MEMBERS.c.id),
        "first_seen": insert(_SEEN).values(platform=p("platform"), event_id=p("event_id"),
                                           at=p("at")).on_conflict_do_nothing(),
        "linked": select(_LINKS.c.kind, _LINKS.c.item_id, _LINKS.c.author).where(
            _LINKS.c.crew_id == p("crew_id"), _LINKS.c.message_id == p("message_id")),
        "linked_favour": select(_LINKS.c.kind, _LINKS.c.item_id, _LINKS.c.author,
                                *_FAVOUR_COLS, *_MEMBER_COLS)
        .select_from(_LINKS.outerjoin(_FAVOURS, and_(_FAVOURS.c.id == _LINKS.c.item_id,
                                                     _LINKS.c.kind.in_(FAVOUR_KINDS)))
                     .outerjoin(_MEMBERS, _MEMBERS.c.id == _FAVOURS.c.member_id))
        .where(_LINKS.c.crew_id == p("crew_id"), _LINKS.c.message_id == p("message_id")),
        "link": insert(_LINKS).values(crew_id=p("crew_id"), message_id=p("message_id"),
                                      kind=p("kind"), item_id=p("item_id"), author=p("author"))
        .on_conflict_do_nothing(),
        "link_chat": insert(_LINKS).from_select(
            ["crew_id", "message_id", "kind", "item_id", "author"],
            select(_CREWS.c.id, p("message_id", type_=_LINKS.c.message_id.type),
                   p("kind", type_=_LINKS.c.kind.type), p("item_id", type_=_LINKS.c.item_id.type),
                   p("author", type_=_LINKS.c.author.type))
            .where(_CREWS.c.platform == p("platform"), _CREWS.c.chat_id == p("chat_id")))
        .on_conflict_do_nothing(),
        "open_circle": select(*_CIRCLE_COLS).where(_CIRCLES.c.crew_id == p("crew_id"),
                                                   _CIRCLES.c.status == "open"),
        "open_circle_state": _circle_state_with_roster(by_id=False),
        "circle_state_roster": _circle_state_with_roster(by_id=True),
        "linked_checkin": select(_LINKS.c.kind, _LINKS.c.item_id, _LINKS.c.author,
                                 _CHECKINS.c.id, _CHECKINS.c.circle_id, _CHECKINS.c.member_id,
                                 _CHECKINS.c.text, *_CIRCLE_COLS)
        .select_from(_LINKS.outerjoin(_CHECKINS, and_(_CHECKINS.c.id == _LINKS.c.item_id,
                                                      _LINKS.c.kind == "checkin"))
                     .outerjoin(_CIRCLES, _CIRCLES.c.id == _CHECKINS.c.circle_id))
        .where(_LINKS.c.crew_id == p("crew_id"), _LINKS.c.message_id == p("message_id")),
        "checkin_circle": select(_CHECKINS.c.id, _CHECKINS.c.circle_id, _CHECKINS.c.member_id,
                                 _CHECKINS.c.text, *_CIRCLE_COLS)
        .join(_CIRCLES, _CIRCLES.c.id == _CHECKINS.c.circle_id)
        .where(_CHECKINS.c.id == p("id")),
        "add_circle": insert(_CIRCLES).values(crew_id=p("crew_id"), opened_at=p("opened_at"),
                                              closes_at=p("closes_at"), status="open")
        .returning(_CIRCLES.c.id),
        "add_due": insert(_DUE).values(crew_id=p("crew_id"), kind=p("kind"),
                                       subject_id=p("subject_id"), due_at=p("due_at"))
        .on_conflict_do_nothing(),
        "add_checkin": insert(_CHECKINS).values(
            circle_id=p("circle_id"), member_id=p("member_id"), text=p("text"),
            updated_at=p("at")).on_conflict_do_nothing().returning(_CHECKINS.c.id),
        "edit_checkin": update(_CHECKINS).where(
            _CHECKINS.c.circle_id == p("w_circle"), _CHECKINS.c.member_id == p("w_member"))
        .values(text=p("text"), updated_at=p("at")).returning(_CHECKINS.c.id),
        "add_listen": insert(_LISTENS).values(checkin_id=p("checkin_id"),
                                              listener_id=p("listener_id"), via=p("via"))
        .on_conflict_do_nothing(),
        "favour": select(*_FAVOUR_COLS).where(_FAVOURS.c.id == p("id")),
        "favour_author": select(*_FAVOUR_COLS, *_MEMBER_COLS)
        .join(_MEMBERS, _MEMBERS.c.id == _FAVOURS.c.member_id).where(_FAVOURS.c.id == p("id")),
        "numbered_favour_author": select(*_FAVOUR_COLS, *_MEMBER_COLS)
        .join(_MEMBERS, _MEMBERS.c.id == _FAVOURS.c.member_id)
        .where(_FAVOURS.c.crew_id == p("crew_id"), _FAVOURS.c.kind == p("kind"),
               _FAVOURS.c.number == p("number")),
        "add_favour": insert(_FAVOURS).values(
            crew_id=p("crew_id"), kind=p("kind"), member_id=p("member_id"),
            recipient_id=p("recipient_id"), text=p("text"), scored=p("scored"),
            thanked=False, created_at=p("at"),
            number=next_number(_FAVOURS, crew_id=p("crew_id"), kind=p("kind")))
        .on_conflict_do_nothing(index_elements=FAVOUR_NUMBER)
        .returning(_FAVOURS.c.id, _FAVOURS.c.number),
        # An ask or offer scored as the command layer decided from `counted`, the member's
        # favours of this kind that scored in [since, until) (`scored_favours`): inserted only
        # while that count still holds, so that a decision is never made on a stale count.
        "add_favour_counted": insert(_FAVOURS).from_select(
            ["crew_id", "kind", "member_id", "recipient_id", "text", "scored", "thanked",
             "created_at", "number"],
            select(p("crew_id", type_=_FAVOURS.c.crew_id.type),
                   p("kind", type_=_FAVOURS.c.kind.type),
                   p("member_id", type_=_FAVOURS.c.member_id.type),
                   p("recipient_id", type_=_FAVOURS.c.recipient_id.type),
                   p("text", type_=_FAVOURS.c.text.type),
                   p("scored", type_=_FAVOURS.c.scored.type),
                   false(), p("at", type_=_FAVOURS.c.created_at.type),
                   next_number(_FAVOURS, crew_id=p("crew_id"), kind=p("kind")))
            .where(select(func.count()).select_from(_FAVOURS).where(
                _FAVOURS.c.member_id == p("member_id"), _FAVOURS.c.kind == p("kind"),
                _FAVOURS.c.scored, _FAVOURS.c.created_at >= p("since"),
                _FAVOURS.c.created_at < p("until")).scalar_subquery() == p("counted")))
        .on_conflict_do_nothing(index_elements=FAVOUR_NUMBER)
        .returning(_FAVOURS.c.id, _FAVOURS.c.number),
        "scored_favours": select(func.count()).select_from(_FAVOURS).where(
            _FAVOURS.c.member_id == p("member_id"), _FAVOURS.c.kind == p("kind"),
            _FAVOURS.c.scored, _FAVOURS.c.created_at >= p("since"),
            _FAVOURS.c.created_at < p("until")),
        "totals": select(_TOTALS.c.member_id, _TOTALS.c.level, _TOTALS.c.points).where(
            _TOTALS.c.crew_id == p("crew_id"), _TOTALS.c.period == p("period")),
        "meetings_with_status": select(*_MEETING_COLS).where(
            _MEETINGS.c.crew_id == p("crew_id"), _MEETINGS.c.status == p("status"))
        .order_by(_MEETINGS.c.starts_at),
        # a tally: its meeting, roster and posts
        "meeting": select(*_MEETING_COLS).where(_MEETINGS.c.id == p("id")),
        "set_meeting_status": update(_MEETINGS).where(_MEETINGS.c.id == p("w_id"))
        .values(status=p("status")),
        "tally_roster": select(
            *_MEMBER_COLS, _ROSTER.c.present_at.is_not(None), _ROSTER.c.excused,
            select(func.count()).select_from(_LEDGER).where(
                _LEDGER.c.crew_id == p("crew_id"), _LEDGER.c.member_id == _ROSTER.c.member_id,
                _LEDGER.c.reason == "meeting_attended").scalar_subquery())
        .join(_MEMBERS, _MEMBERS.c.id == _ROSTER.c.member_id)
        .where(_ROSTER.c.meeting_id == p("meeting_id"),
               _ROSTER.c.at_start | _ROSTER.c.present_at.is_not(None))
        .order_by(_ROSTER.c.member_id),
        "add_post": insert(_OUTBOX).values(crew_id=p("crew_id"), platform=p("platform"),
                                           payload=p("payload"), created_at=p("at"),
                                           attempts=0),
        "join_roster": insert(_ROSTER).values(meeting_id=p("meeting_id"),
                                              member_id=p("member_id"), at_start=False)
        .on_conflict_do_nothing(),
        "mark_present": update(_ROSTER).where(
            _ROSTER.c.meeting_id == p("w_meeting"), _ROSTER.c.member_id == p("w_member"),
            _ROSTER.c.present_at.is_(None)).values(present_at=p("at")),
        **({"arrival": _arrival(p), "award_totals": _AWARD_TOTALS} if dialect == "postgresql"
           else {}),
    }


# PostgreSQL: awards and the totals of the new ones in one round trip. The ledger's unique key
# decides which are new (RETURNING); the totals add only those, summed per key so that one
# upsert never touches a row twice.
_AWARD_TOTALS = text("""
WITH new AS (
    INSERT INTO ledger (crew_id, member_id, points, level, reason, source, month, at)
    SELECT :crew_id, a.member_id, a.points, a.level, a.reason, a.source, :month, :at
    FROM unnest(:member_ids, :points, :levels, :reasons, :sources)
         AS a(member_id, points, level, reason, source)
    ON CONFLICT (crew_id, member_id, reason, source) DO NOTHING
    RETURNING member_id, level, points
), added AS (
    INSERT INTO totals (crew_id, period, member_id, level, points)
    SELECT :crew_id, p.period, new.member_id, new.level, sum(new.points)
    FROM new CROSS JOIN (VALUES ('all'), (:month)) AS p(period)
    GROUP BY p.period, new.member_id, new.level
    ON CONFLICT (crew_id, period, member_id, level)
    DO UPDATE SET points = totals.points + excluded.points
)
SELECT member_id, level, points FROM new
""").bindparams(
    bindparam("crew_id", type_=Integer), bindparam("month", type_=String),
    bindparam("at", type_=UTCDateTime), bindparam("member_ids", type_=ARRAY(Integer)),
    bindparam("points", type_=ARRAY(Integer)), bindparam("levels", type_=ARRAY(Integer)),
    bindparam("reasons", type_=ARRAY(String)), bindparam("sources", type_=ARRAY(String)))


def _arrival(p: Any) -> Executable:
    """PostgreSQL: the event's dedupe insert, the crew and the member in one round trip (a
    data-modifying CTE); always one row, whose first column is 1 for a new event."""
    seen = (pg_insert(_SEEN).values(platform=p("platform"), event_id=p("event_id"), at=p("at"))
            .on_conflict_do_nothing().returning(literal(1).label("new")).cte("seen"))
    fresh = select(func.count().label("fresh")).select_from(seen).subquery("arrival")
    return select(fresh.c.fresh, *_CREW_COLS, *_MEMBER_COLS).select_from(
        fresh.outerjoin(_CREWS, and_(_CREWS.c.platform == p("platform"),
                                     _CREWS.c.chat_id == p("chat_id")))
        .outerjoin(_MEMBERS, and_(_MEMBERS.c.crew_id == _CREWS.c.id,
                                  _MEMBERS.c.user_id == p("user_id"))))


_STATEMENTS: dict[str, dict[str, Executable]] = {}
_PG_STATEMENTS: dict[str, PgStatement] = {}


def _pg_statements(dialect: Dialect) -> dict[str, PgStatement]:
    """The prebuilt statements that run on asyncpg's own API (storage/pg_statements.py)."""
    if not _PG_STATEMENTS:
        for name, statement in _statements(dialect.name).items():
            if (compiled := PgStatement.compile(statement, dialect)) is not None:
                _PG_STATEMENTS[name] = compiled
    return _PG_STATEMENTS


def _statements(dialect: str) -> dict[str, Executable]:
    if dialect not in _STATEMENTS:
        _STATEMENTS[dialect] = _prebuilt(dialect)
    return _STATEMENTS[dialect]


def _roster_and_circle(rows: Iterable[Any]) -> tuple[
        list[Member], Circle | None, dict[int, int], set[tuple[int, int]]]:
    """The rows of `_circle_state_with_roster`, in any order: the roster by member id, the
    circle, its check-ins' authors by check-in id, and who heard which check-in."""
    roster: list[Member] = []
    circle: Circle | None = None
    checkins: list[tuple[int, int]] = []
    heard: set[tuple[int, int]] = set()
    for row in rows:
        if row[0] == 0:
            roster.append(Member(*row[1:8]))
            continue
        if circle is None and row[8] is not None:
            circle = Circle(*row[8:13])
        checkin_id, author, listener = row[13:]
        if checkin_id is not None:
            checkins.append((checkin_id, author))
        if listener is not None:
            heard.add((checkin_id, listener))
    roster.sort(key=lambda m: m.id)
    return roster, circle, dict(sorted(checkins)), heard


def _favour_and_member(row: Any) -> tuple[Favour, Member] | None:
    """A row of _FAVOUR_COLS then _MEMBER_COLS."""
    if row is None:
        return None
    return Favour(*row[:_FAVOUR_FIELDS]), Member(*row[_FAVOUR_FIELDS:])


def _crew_and_member(row: Any) -> tuple[Crew | None, Member | None]:
    """A row of _CREW_COLS then _MEMBER_COLS (the member's all None when not a member)."""
    if row is None or row[0] is None:
        return None, None
    crew = Crew(row[0], row[1], row[2], row[3], dict(row[4] or {}), row[5], row[6])
    return crew, (Member(*row[7:]) if row[7] is not None else None)


class SqlStore:
    """Every read and write the game needs, inside one transaction (commit or it rolls back).

    It works on one connection: the prebuilt statements of the hot paths run on it as Core
    statements, and an ORM session is made on the same transaction only when a method needs
    one (most game actions never do; a session's set-up and commit cost more than two
    statements). On a SQLite file the connection is a LoopConnection, whose statements run on
    the loop's thread (storage/sqlite_loop.py)."""

    def __init__(self, conn: AsyncConnection | LoopConnection) -> None:
        self._conn = conn
        self._session: AsyncSession | LoopSession | None = None
        self._dialect = conn.dialect.name
        self._sql = _statements(self._dialect)
        self._pg = _pg_statements(conn.dialect) if self._dialect == "postgresql" else {}
        self._driver: Any = None  # asyncpg's connection, on PostgreSQL

    @property
    def session(self) -> AsyncSession | LoopSession:
        if self._session is None:
            # control_fully: the session's commit and rollback are the connection's.
            self._session = (LoopSession(self._conn) if isinstance(self._conn, LoopConnection)
                             else AsyncSession(bind=self._conn, expire_on_commit=False,
                                               join_transaction_mode="control_fully"))
        return self._session

    async def _run(self, name: str, **params: Any) -> Any:
        """Runs a prebuilt statement on the connection as a Core statement, past the ORM layer
        (every ORM write here flushes at once, so there is nothing to autoflush first); on
        PostgreSQL on asyncpg's own API once the transaction has begun."""
        fast = self._pg.get(name)
        if fast is not None and (driver := await self._in_pg_transaction()) is not None:
            return await fast.run(self._conn, driver, params)
        return await self._conn.execute(self._sql[name], params)

    async def _run_many(self, name: str, rows: list[dict[str, Any]]) -> None:
        """`_run` once per row (no rows returned): the driver's executemany."""
        fast = self._pg.get(name)
        if fast is not None and (driver := await self._in_pg_transaction()) is not None:
            await fast.run_many(self._conn, driver, rows)
            return
        await self._conn.execute(self._sql[name], rows)

    async def _in_pg_transaction(self) -> Any:
        """asyncpg's connection once SQLAlchemy's transaction has begun on it, else None: its
        asyncpg adapter sends BEGIN with the unit of work's first statement, which therefore
        goes through SQLAlchemy."""
        if self._driver is None:
            self._driver = (await self._conn.get_raw_connection()).driver_connection
        return self._driver if self._driver.is_in_transaction() else None

    async def _first(self, name: str, **params: Any) -> Any:
        """The first row a prebuilt statement returned, or None."""
        return (await self._run(name, **params)).first()

    async def _first_of(self, statement: Executable) -> Any:
        return (await self.session.execute(statement)).first()

    def _insert(self, table: Any) -> Any:
        return (pg_insert if self._dialect == "postgresql" else sqlite_insert)(table)

    def retryable(self, error: Exception) -> bool:
        """True for a race another transaction won (unique key, lock, serialisation) or a
        connection the server dropped: the work was rolled back and can simply be tried
        again."""
        return isinstance(error, IntegrityError | OperationalError) or (
            isinstance(error, DBAPIError) and (error.connection_invalidated
                                               or "deadlock" in str(error).lower()))

    async def commit(self) -> None:
        # The session commits the transaction only if it began it (or joined it since its
        # last commit or rollback); a statement run on the connection after that began its own.
        if self._session is not None:
            await self._session.commit()
        if self._conn.in_transaction():
            await self._conn.commit()

    async def rollback(self) -> None:
        if self._session is not None:
            await self._session.rollback()
        if self._conn.in_transaction():
            await self._conn.rollback()

    async def close(self) -> None:
        """Rolls back what was not committed and closes the session, if one was made."""
        await self.rollback()
        if self._session is not None:
            await self._session.close()

    # crews and members

    async def crew(self, platform: str, chat_id: str) -> Crew | None:
        row = await self.session.scalar(
            select(CrewRow).where(CrewRow.platform == platform, CrewRow.chat_id == chat_id))
        return _crew(row) if row else None

    async def crew_by_id(self, crew_id: int) -> Crew:
        return _crew(await self.session.get_one(CrewRow, crew_id))

    async def crews_by_id(self, ids: Iterable[int]) -> dict[int, Crew]:
        wanted = set(ids)
        if not wanted:
            return {}
        rows = await self.session.scalars(select(CrewRow).where(CrewRow.id.in_(wanted)))
        return {r.id: _crew(r) for r in rows}

    async def add_crew(self, platform: str, chat_id: str, title: str, now: datetime) -> Crew:
        await self.session.execute(
            self._insert(CrewRow).values(platform=platform, chat_id=chat_id, title=title[:200],
                                         settings={}, size_warned=False, created_at=now)
            .on_conflict_do_nothing())
        crew = await self.crew(platform, chat_id)
        assert crew is not None
        return crew

    async def update_crew(self, crew_id: int, **fields: Any) -> None:
        await self.session.execute(update(CrewRow).where(CrewRow.id == crew_id).values(**fields))

    async def member(self, crew_id: int, user_id: str) -> Member | None:
        row = (await self._run("member", crew_id=crew_id, user_id=user_id)).first()
        return Member(*row) if row else None

    async def crew_member(self, platform: str, chat_id: str, user_id: str
                          ) -> tuple[Crew | None, Member | None]:
        """The crew of a chat and a user's membership of it, in one query."""
        row = (await self._run("crew_member", platform=platform, chat_id=chat_id,
                               user_id=user_id)).first()
        return _crew_and_member(row)

    async def arrival(self, platform: str, event_id: str | None, now: datetime, chat_id: str,
                      user_id: str) -> tuple[bool, Crew | None, Member | None]:
        """`first_seen` (True without an event id) and `crew_member`; one statement on
        PostgreSQL, where each is a round trip."""
        if "arrival" in self._sql and event_id:
            row = (await self._run("arrival", platform=platform, event_id=event_id[:96], at=now,
                                   chat_id=chat_id, user_id=user_id)).one()
            return bool(row[0]), *_crew_and_member(row[1:])
        fresh = await self.first_seen(platform, event_id, now) if event_id else True
        return fresh, *(await self.crew_member(platform, chat_id, user_id))

    async def member_by_id(self, member_id: int) -> Member:
        return Member(*(await self._run("member_by_id", id=member_id)).one())

    async def members_by_id(self, ids: Iterable[int]) -> dict[int, Member]:
        wanted = set(ids)
        if not wanted:
            return {}
        rows = await self.session.scalars(select(MemberRow).where(MemberRow.id.in_(wanted)))
        return {r.id: _member(r) for r in rows}

    async def member_by_name(self, crew_id: int, name: str) -> Member | None:
        rows = (await self.session.scalars(
            select(MemberRow).where(MemberRow.crew_id == crew_id,
                                    (func.lower(MemberRow.name) == name.lower())
                                    | (func.lower(MemberRow.handle) == name.lower()))
            .order_by(MemberRow.active.desc(), MemberRow.id))).all()
        return _member(rows[0]) if rows else None

    async def add_member(self, crew_id: int, user_id: str, name: str, now: datetime,
                         handle: str | None = None) -> Member:
        await self.session.execute(
            self._insert(MemberRow).values(crew_id=crew_id, user_id=user_id, name=name[:100],
                                           handle=handle[:64] if handle else None,
                                           active=True, hidden=False, joined_at=now)
            .on_conflict_do_nothing())
        member = await self.member(crew_id, user_id)
        assert member is not None
        return member

    async def update_member(self, member_id: int, **fields: Any) -> None:
        await self.session.execute(
            update(MemberRow).where(MemberRow.id == member_id).values(**fields))

    async def roster(self, crew_id: int) -> list[Member]:
        return [Member(*r) for r in await self._run("roster", crew_id=crew_id)]

    async def all_members(self, crew_id: int) -> list[Member]:
        rows = await self.session.scalars(
            select(MemberRow).where(MemberRow.crew_id == crew_id).order_by(MemberRow.id))
        return [_member(r) for r in rows]

    async def founder(self, crew_id: int) -> int | None:
        return await self.session.scalar(
            select(func.min(MemberRow.id)).where(MemberRow.crew_id == crew_id))

    async def all_crews(self) -> list[Crew]:
        return [_crew(r) for r in await self.session.scalars(select(CrewRow).order_by(CrewRow.id))]

    # listening circles

    async def open_circle(self, crew_id: int) -> Circle | None:
        row = (await self._run("open_circle", crew_id=crew_id)).first()
        return Circle(*row) if row else None

    async def circle(self, circle_id: int) -> Circle:
        return _circle(await self.session.get_one(CircleRow, circle_id))

    async def add_circle(self, crew_id: int, opened_at: datetime, closes_at: datetime) -> Circle:
        circle_id = (await self._run("add_circle", crew_id=crew_id, opened_at=opened_at,
                                     closes_at=closes_at)).scalar_one()
        return Circle(circle_id, crew_id, opened_at, closes_at, "open")

    async def close_circle(self, circle_id: int, status: str, now: datetime) -> bool:
        result = await self._conn.execute(
            update(CircleRow).where(CircleRow.id == circle_id, CircleRow.status == "open")
            .values(status=status, closed_at=now))
        return bool(result.rowcount)

    async def checkin_circle(self, checkin_id: int) -> tuple[Checkin, Circle] | None:
        """A check-in and its circle, in one query."""
        row = (await self._run("checkin_circle", id=checkin_id)).first()
        return (Checkin(*row[:4]), Circle(*row[4:])) if row else None

    async def open_circle_state(self, crew_id: int) -> tuple[
            list[Member], Circle | None, dict[int, int], set[tuple[int, int]]]:
        """The crew's roster (`roster`) and its open circle with `circle_state_roster`'s check-ins
        and confirmations, in one query."""
        return _roster_and_circle(await self._run("open_circle_state", crew_id=crew_id))

    async def circle_state_roster(self, crew_id: int, circle_id: int) -> tuple[
            list[Member], dict[int, int], set[tuple[int, int]]]:
        """The crew's roster (`roster`) and one of its circles' check-ins (id to author) and
        confirmations (check-in id, listener), in one query."""
        roster, _, authors, heard = _roster_and_circle(
            await self._run("circle_state_roster", crew_id=crew_id, circle_id=circle_id))
        return roster, authors, heard

    async def put_checkin(self, circle_id: int, member_id: int, text: str, now: datetime
                          ) -> tuple[Checkin, bool]:
        """Adds the member's check-in to the circle, or replaces its text; True if it is new."""
        key = {"circle_id": circle_id, "member_id": member_id, "text": text, "at": now}
        new_id = (await self._run("add_checkin", **key)).scalar()
        if new_id is not None:
            return Checkin(new_id, circle_id, member_id, text), True
        row_id = (await self._run("edit_checkin", w_circle=circle_id, w_member=member_id,
                                  text=text, at=now)).scalar_one()
        return Checkin(row_id, circle_id, member_id, text), False

    async def add_listen(self, checkin_id: int, listener_id: int, via: str) -> bool:
        result = await self._run("add_listen", checkin_id=checkin_id, listener_id=listener_id,
                                 via=via[:32])
        return bool(result.rowcount)

    async def remove_listen(self, checkin_id: int, listener_id: int, via: str) -> bool:
        result = await self.session.execute(
            delete(ListenRow).where(ListenRow.checkin_id == checkin_id,
                                    ListenRow.listener_id == listener_id,
                                    ListenRow.via == via[:32]))
        return bool(result.rowcount)

    # favours: asks, offers and money talks

    async def add_favour(self, crew_id: int, kind: str, member_id: int,
                         recipient_id: int | None, text: str, scored: bool, now: datetime
                         ) -> Favour:
        favour_id, number = await numbered(lambda: self._first(
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
            return await self._first(
                "add_favour_counted", crew_id=crew_id, kind=kind, member_id=member_id,
                recipient_id=recipient_id, text=text, scored=decided, since=since, until=until,
                counted=counted, at=now)

        favour_id, number = await numbered(count_then_insert)
        return Favour(favour_id, crew_id, number, kind, member_id, recipient_id, text, decided,
                      False, now)

    async def favour(self, favour_id: int) -> Favour | None:
        row = (await self._run("favour", id=favour_id)).first()
        return Favour(*row) if row else None

    async def favour_author(self, favour_id: int) -> tuple[Favour, Member] | None:
        """A favour and the member who made it (the asker, the giver), in one query."""
        row = (await self._run("favour_author", id=favour_id)).first()
        return _favour_and_member(row)

    async def numbered_favour_author(self, crew_id: int, kind: str, number: int
                                     ) -> tuple[Favour, Member] | None:
        """`favour_author` of the crew's favour a member names: its kind and number."""
        if number not in NUMBERS:
            return None
        row = (await self._run("numbered_favour_author", crew_id=crew_id, kind=kind,
                               number=number)).first()
        return _favour_and_member(row)

    async def scored_favours(self, member_id: int, kind: str, since: datetime,
                             until: datetime) -> int:
        """How many of the member's favours of this kind scored in [since, until)."""
        return (await self._run("scored_favours", member_id=member_id, kind=kind, since=since,
                                until=until)).scalar() or 0

    async def mark_thanked(self, favour_id: int) -> bool:
        return bool((await self._run("mark_thanked", w_id=favour_id)).rowcount)

    async def offers_awaiting_thanks(self, member_id: int) -> list[Favour]:
        rows = await self.session.scalars(
            select(FavourRow).where(FavourRow.recipient_id == member_id,
                                    FavourRow.kind == "offer", ~FavourRow.thanked)
            .order_by(FavourRow.id))
        return [_favour(r) for r in rows]

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
               for row in await self.session.execute(query)]
        return sorted(out)

    # meetings

    async def meeting(self, meeting_id: int) -> Meeting | None:
        row = (await self._run("meeting", id=meeting_id)).first()
        return Meeting(*row) if row else None

    async def meeting_in_month(self, crew_id: int, month: str) -> Meeting | None:
        row = await self.session.scalar(
            select(MeetingRow).where(MeetingRow.crew_id == crew_id, MeetingRow.month == month))
        return _meeting(row) if row else None

    async def meetings_with_status(self, crew_id: int, status: str) -> list[Meeting]:
        return [Meeting(*r) for r in
                await self._run("meetings_with_status", crew_id=crew_id, status=status)]

    async def add_meeting(self, crew_id: int, month: str, starts_at: datetime,
                          ends_at: datetime, scheduled: bool, status: str) -> Meeting:
        row = MeetingRow(crew_id=crew_id, month=month, starts_at=starts_at, ends_at=ends_at,
                         scheduled=scheduled, status=status)
        self.session.add(row)
        await self.session.flush()
        return _meeting(row)

    async def set_meeting_status(self, meeting_id: int, status: str) -> None:
        await self._run("set_meeting_status", w_id=meeting_id, status=status)

    async def drop_meeting(self, meeting_id: int) -> None:
        """Removes a planned meeting that never started, its timers and announced absences;
        reflections shared for it stay, no longer tied to a meeting."""
        await self.session.execute(delete(DueRow).where(  # on the (kind, subject_id) key
            DueRow.kind.in_(MEETING_TIMERS), DueRow.subject_id == meeting_id))
        await self.session.execute(delete(RosterRow).where(RosterRow.meeting_id == meeting_id))
        await self.session.execute(update(ReflectionRow).where(
            ReflectionRow.meeting_id == meeting_id).values(meeting_id=None))
        await self.session.execute(delete(MeetingRow).where(MeetingRow.id == meeting_id,
                                                            MeetingRow.status == "planned"))

    async def take_roster(self, meeting_id: int, member_ids: Iterable[int]) -> None:
        """The roster at the start: these members (and an earlier /away row) count from now."""
        for member_id in member_ids:
            stmt = self._insert(RosterRow).values(meeting_id=meeting_id, member_id=member_id,
                                                  at_start=True)
            await self.session.execute(stmt.on_conflict_do_update(
                index_elements=["meeting_id", "member_id"], set_={"at_start": True}))

    async def mark_present(self, meeting_id: int, member_id: int, now: datetime) -> bool:
        """Marks presence (joining the roster if need be); False if already marked."""
        await self._run("join_roster", meeting_id=meeting_id, member_id=member_id)
        result = await self._run("mark_present", w_meeting=meeting_id, w_member=member_id,
                                 at=now)
        return bool(result.rowcount)

    async def excuse(self, meeting_id: int, member_id: int) -> bool:
        """Marks an announced absence; False if it was already announced."""
        await self.session.execute(  # on the roster only if still a member at the start
            self._insert(RosterRow).values(meeting_id=meeting_id, member_id=member_id,
                                           at_start=False, excused=False).on_conflict_do_nothing())
        result = await self.session.execute(
            update(RosterRow).where(RosterRow.meeting_id == meeting_id,
                                    RosterRow.member_id == member_id, ~RosterRow.excused)
            .values(excused=True))
        return bool(result.rowcount)

    async def meeting_roster(self, meeting_id: int) -> dict[int, bool]:
        """Member id to present?, for everyone on the roster at the start or marked present
        (an /away row of someone who left before the start is neither)."""
        rows = await self.session.execute(
            select(RosterRow.member_id, RosterRow.present_at).where(
                RosterRow.meeting_id == meeting_id,
                RosterRow.at_start | RosterRow.present_at.is_not(None))
            .order_by(RosterRow.member_id))
        return {row.member_id: row.present_at is not None for row in rows}

    async def tally_roster(self, crew_id: int, meeting_id: int
                           ) -> list[tuple[Member, bool, bool, int]]:
        """The meeting_roster's members, each with present?, excused? and how many meetings
        they attended in this crew before, in one query."""
        rows = await self._run("tally_roster", crew_id=crew_id, meeting_id=meeting_id)
        return [(Member(*row[:7]), bool(row[7]), bool(row[8]), row[9]) for row in rows]

    async def add_reflection(self, crew_id: int, member_id: int, meeting_id: int | None,
                             text: str, now: datetime) -> None:
        self.session.add(ReflectionRow(crew_id=crew_id, member_id=member_id,
                                       meeting_id=meeting_id, text=text, created_at=now))
        await self.session.flush()

    # conflicts

    async def add_conflict(self, crew_id: int, proposer_id: int, other_id: int,
                           now: datetime) -> Conflict:
        conflicts = ConflictRow.__table__
        statement = (self._insert(conflicts).values(
            crew_id=crew_id, proposer_id=proposer_id, other_id=other_id, status="proposed",
            proposed_at=now, apology="", number=next_number(conflicts, crew_id=crew_id))
            .on_conflict_do_nothing(index_elements=["crew_id", "number"])
            .returning(conflicts.c.id, conflicts.c.number))
        conflict_id, number = await numbered(lambda: self._first_of(statement))
        return Conflict(conflict_id, crew_id, number, proposer_id, other_id, "proposed", now,
                        None, None)

    async def conflict(self, conflict_id: int) -> Conflict | None:
        row = await self.session.get(ConflictRow, conflict_id)
        return _conflict(row) if row else None

    async def numbered_conflict(self, crew_id: int, number: int) -> Conflict | None:
        """The crew's conflict a member names by its number."""
        if number not in NUMBERS:
            return None
        row = await self.session.scalar(
            select(ConflictRow).where(ConflictRow.crew_id == crew_id,
                                      ConflictRow.number == number))
        return _conflict(row) if row else None

    async def open_conflicts(self, crew_id: int, member_id: int) -> list[Conflict]:
        rows = await self.session.scalars(
            select(ConflictRow).where(
                ConflictRow.crew_id == crew_id,
                ConflictRow.status.in_(("proposed", "accepted")),
                (ConflictRow.proposer_id == member_id) | (ConflictRow.other_id == member_id))
            .order_by(ConflictRow.id))
        return [_conflict(r) for r in rows]

    async def move_conflict(self, conflict_id: int, from_status: str, **fields: Any) -> bool:
        """Changes a conflict only if it is still in `from_status`; False if it moved on."""
        result = await self.session.execute(
            update(ConflictRow).where(ConflictRow.id == conflict_id,
                                      ConflictRow.status == from_status).values(**fields))
        return bool(result.rowcount)

    # ventures

    async def venture_by_key(self, crew_id: int, key: str) -> Venture | None:
        row = await self.session.scalar(
            select(VentureRow).where(VentureRow.crew_id == crew_id, VentureRow.key == key))
        return await self.venture(row.id) if row else None

    async def venture(self, venture_id: int) -> Venture | None:
        row = await self.session.get(VentureRow, venture_id)
        if row is None:
            return None
        owners = await self.session.execute(
            select(VentureMemberRow.member_id, VentureMemberRow.confirmed_at)
            .where(VentureMemberRow.venture_id == venture_id).order_by(VentureMemberRow.id))
        return Venture(row.id, row.crew_id, row.number, row.name, row.proposer_id, row.status,
                       {o.member_id: o.confirmed_at is not None for o in owners})

    async def numbered_venture(self, crew_id: int, number: int) -> Venture | None:
        """The crew's venture a member names by its number."""
        if number not in NUMBERS:
            return None
        venture_id = await self.session.scalar(
            select(VentureRow.id).where(VentureRow.crew_id == crew_id,
                                        VentureRow.number == number))
        return await self.venture(venture_id) if venture_id is not None else None

    async def add_venture(self, crew_id: int, name: str, key: str, proposer_id: int,
                          owners: list[int], now: datetime) -> Venture:
        ventures = VentureRow.__table__
        statement = (self._insert(ventures).values(
            crew_id=crew_id, name=name, key=key, proposer_id=proposer_id, status="proposed",
            created_at=now, number=next_number(ventures, crew_id=crew_id))
            .on_conflict_do_nothing(index_elements=["crew_id", "number"])
            .returning(ventures.c.id))
        (venture_id,) = await numbered(lambda: self._first_of(statement))
        for member_id in owners:
            self.session.add(VentureMemberRow(
                venture_id=venture_id, member_id=member_id,
                confirmed_at=now if member_id == proposer_id else None))
        await self.session.flush()
        venture = await self.venture(venture_id)
        assert venture is not None
        return venture

    async def confirm_owner(self, venture_id: int, member_id: int, now: datetime) -> bool:
        result = await self.session.execute(
            update(VentureMemberRow).where(VentureMemberRow.venture_id == venture_id,
                                           VentureMemberRow.member_id == member_id,
                                           VentureMemberRow.confirmed_at.is_(None))
            .values(confirmed_at=now))
        return bool(result.rowcount)

    async def drop_owner(self, venture_id: int, member_id: int) -> bool:
        """Takes a named member who has not confirmed out of a venture; False if they could not
        be (not named, or already confirmed)."""
        result = await self.session.execute(
            delete(VentureMemberRow).where(VentureMemberRow.venture_id == venture_id,
                                           VentureMemberRow.member_id == member_id,
                                           VentureMemberRow.confirmed_at.is_(None)))
        return bool(result.rowcount)

    async def withdraw_venture(self, venture_id: int) -> None:
        """Withdraws a venture and frees its name, so it can be proposed again."""
        await self.session.execute(
            update(VentureRow).where(VentureRow.id == venture_id)
            .values(status="withdrawn", key=f"withdrawn:{venture_id}"))

    async def set_venture_status(self, venture_id: int, status: str) -> None:
        await self.session.execute(
            update(VentureRow).where(VentureRow.id == venture_id).values(status=status))

    async def ventures_awaiting(self, crew_id: int, member_id: int) -> list[Venture]:
        ids = await self.session.scalars(
            select(VentureRow.id).join(VentureMemberRow,
                                       VentureMemberRow.venture_id == VentureRow.id)
            .where(VentureRow.crew_id == crew_id, VentureRow.status == "proposed",
                   VentureMemberRow.member_id == member_id,
                   VentureMemberRow.confirmed_at.is_(None)).order_by(VentureRow.id))
        return [v for i in ids.all() if (v := await self.venture(i))]

    # the ledger and its cached totals

    async def award(self, crew_id: int, member_id: int, points: int, level: int, reason: str,
                    source: str, month: str, now: datetime) -> bool:
        """Appends one award; False (and nothing written) if this award was already made."""
        return bool(await self.awards(crew_id, [(member_id, points, level, reason, source)],
                                      month, now))

    async def awards(self, crew_id: int, items: list[tuple[int, int, int, str, str]],
                     month: str, now: datetime) -> int:
        """Appends (member id, points, level, reason, source) awards in one statement, and adds
        those not made before to the cached totals in a second; returns how many were new."""
        if not items:
            return 0
        if "award_totals" in self._sql:
            members, points, levels, reasons, sources = (list(c) for c in zip(*items, strict=True))
            return len((await self._run(
                "award_totals", crew_id=crew_id, month=month, at=now, member_ids=members,
                points=points, levels=levels, reasons=reasons, sources=sources)).all())
        rows = [{"crew_id": crew_id, "member_id": member_id, "points": points, "level": level,
                 "reason": reason, "source": source, "month": month, "at": now}
                for member_id, points, level, reason, source in items]
        # Several rows: SQLAlchemy's multi-row INSERT ... RETURNING ("insertmanyvalues"), one
        # statement (measured on SQLite: as fast as one cached statement per row for a tally's
        # 4-6 awards, and one statement fewer for /thanks).
        if len(rows) == 1:
            inserted = [r for row in rows for r in (await self._run("award", **row)).all()]
        else:
            inserted = (await self._conn.execute(self._sql["award"], rows)).all()
        if not inserted:
            return 0
        # One row per totals key: a multi-row upsert may not touch the same row twice.
        sums: dict[tuple[str, int, int], int] = defaultdict(int)
        for member_id, level, points in inserted:
            for period in ("all", month):
                sums[(period, member_id, level)] += points
        await self._run_many("add_total", [
            {"crew_id": crew_id, "period": period, "member_id": member_id, "level": level,
             "points": points} for (period, member_id, level), points in sums.items()])
        return len(inserted)

    async def entry(self, entry_id: int) -> LedgerEntry | None:
        row = await self.session.get(LedgerRow, entry_id)
        return _entry(row) if row else None

    async def totals(self, crew_id: int, period: str) -> dict[int, dict[int, int]]:
        """Member id to {level: points} for the period, from the cached sums."""
        out: dict[int, dict[int, int]] = defaultdict(dict)
        for member_id, level, points in await self._run("totals", crew_id=crew_id,
                                                        period=period):
            out[member_id][level] = points
        return dict(out)

    async def member_totals(self, crew_id: int, member_id: int, period: str) -> dict[int, int]:
        rows = await self.session.execute(
            select(TotalRow.level, TotalRow.points).where(
                TotalRow.crew_id == crew_id, TotalRow.period == period,
                TotalRow.member_id == member_id))
        return {row.level: row.points for row in rows}

    async def latest_entries(self, crew_id: int, member_id: int, limit: int) -> list[LedgerEntry]:
        rows = await self.session.scalars(
            select(LedgerRow).where(LedgerRow.crew_id == crew_id,
                                    LedgerRow.member_id == member_id)
            .order_by(LedgerRow.id.desc()).limit(limit))
        return [_entry(r) for r in rows]

    async def activity(self, crew_id: int, month: str | None) -> dict[str, int]:
        """How many distinct events of each reason the crew's ledger records (one SQL count)."""
        query = select(LedgerRow.reason,
                       func.count(func.distinct(LedgerRow.source)).label("events")).where(
            LedgerRow.crew_id == crew_id, LedgerRow.reason != "revoked")
        if month:
            query = query.where(LedgerRow.month == month)
        rows = await self.session.execute(query.group_by(LedgerRow.reason))
        return {row.reason: row.events for row in rows}

    async def ledger(self, crew_id: int) -> list[LedgerEntry]:
        """The whole ledger of a crew, for export only."""
        rows = await self.session.scalars(
            select(LedgerRow).where(LedgerRow.crew_id == crew_id).order_by(LedgerRow.id))
        return [_entry(r) for r in rows]

    # due work

    async def add_due(self, crew_id: int, kind: str, subject_id: int, due_at: datetime) -> None:
        await self._run("add_due", crew_id=crew_id, kind=kind, subject_id=subject_id,
                        due_at=due_at)

    async def latest_time(self) -> datetime | None:
        """The newest time the game has recorded (a crew or member added, a check-in, a favour,
        a point, a post, work done...), or None on an empty database. Times planned ahead (a
        circle's closing, a meeting, due work) are not records and do not count."""
        columns = (CrewRow.created_at, MemberRow.joined_at, CircleRow.opened_at,
                   CircleRow.closed_at, CheckinRow.updated_at, FavourRow.created_at,
                   RosterRow.present_at, ReflectionRow.created_at, ConflictRow.proposed_at,
                   ConflictRow.accepted_at, ConflictRow.ended_at, VentureRow.created_at,
                   VentureMemberRow.confirmed_at, LedgerRow.at, OutboxRow.created_at,
                   OutboxRow.sent_at, DueRow.done_at, SeenEventRow.at)
        newest = (await self.session.execute(
            select(*(select(func.max(c)).scalar_subquery() for c in columns)))).one()
        return max((t for t in newest if t is not None), default=None)

    async def next_due_at(self) -> datetime | None:
        return await self.session.scalar(
            select(func.min(DueRow.due_at)).where(DueRow.done_at.is_(None)))

    async def due(self, now: datetime, limit: int) -> list[Due]:
        rows = await self.session.scalars(
            select(DueRow).where(DueRow.done_at.is_(None), DueRow.due_at <= now)
            .order_by(DueRow.due_at, DueRow.id).limit(limit))
        return [Due(r.id, r.crew_id, r.kind, r.subject_id, r.due_at) for r in rows]

    async def claim_due_many(self, due_ids: list[int], now: datetime) -> set[int]:
        """Claims these pieces of due work in this transaction; the ids nobody else did."""
        if not due_ids:
            return set()
        rows = await self.session.scalars(
            update(DueRow).where(DueRow.id.in_(due_ids), DueRow.done_at.is_(None))
            .values(done_at=now).returning(DueRow.id))
        return set(rows)

    async def claim_due(self, due_id: int, now: datetime) -> bool:
        """Claims one piece of due work in this transaction; False if someone else did."""
        result = await self.session.execute(
            update(DueRow).where(DueRow.id == due_id, DueRow.done_at.is_(None))
            .values(done_at=now))
        return bool(result.rowcount)

    # outbox and message links

    async def add_post(self, crew_id: int, platform: str, payload: dict, now: datetime) -> int:
        row = OutboxRow(crew_id=crew_id, platform=platform, payload=payload, created_at=now,
                        attempts=0)
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def add_posts(self, crew_id: int, platform: str, payloads: list[dict],
                        now: datetime) -> None:
        """Queues several posts, in this order, in one round trip (executemany: one
        statement prepared once; asyncpg pipelines the rows)."""
        if payloads:
            await self._run_many("add_post", [
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
        if self._dialect == "postgresql":
            query = query.with_for_update(of=OutboxRow, skip_locked=True)
        rows = (await self.session.execute(query)).all()
        if rows:
            await self.session.execute(
                update(OutboxRow).where(OutboxRow.id.in_([row.OutboxRow.id for row in rows]))
                .values(lease_until=now + LEASE))
        return [(row.OutboxRow.id, _crew(row.CrewRow), row.OutboxRow.payload) for row in rows]

    async def post_sent(self, post_id: int, message_id: str | None, now: datetime) -> None:
        await self.session.execute(
            update(OutboxRow).where(OutboxRow.id == post_id)
            .values(sent_at=now, message_id=message_id))

    async def post_failed(self, post_id: int) -> None:
        await self.session.execute(
            update(OutboxRow).where(OutboxRow.id == post_id)
            .values(attempts=OutboxRow.attempts + 1, lease_until=None))

    async def link(self, crew_id: int, message_id: str, kind: str, item_id: int,
                   author: str) -> None:
        await self._run("link", crew_id=crew_id, message_id=message_id, kind=kind,
                        item_id=item_id, author=author)

    async def link_in_chat(self, platform: str, chat_id: str, message_id: str, kind: str,
                           item_id: int, author: str) -> None:
        """`link` for the crew of a chat (none: nothing), in one statement."""
        await self._run("link_chat", platform=platform, chat_id=chat_id, message_id=message_id,
                        kind=kind, item_id=item_id, author=author)

    async def linked(self, crew_id: int, message_id: str) -> Link | None:
        row = (await self._run("linked", crew_id=crew_id, message_id=message_id)).first()
        return Link(*row) if row else None

    async def linked_checkin(self, crew_id: int, message_id: str
                             ) -> tuple[Link | None, tuple[Checkin, Circle] | None]:
        """`linked`, and for a check-in's message also `checkin_circle`, in one query."""
        row = (await self._run("linked_checkin", crew_id=crew_id, message_id=message_id)).first()
        if row is None:
            return None, None
        found = (Checkin(*row[3:7]), Circle(*row[7:])) if row[3] is not None else None
        return Link(*row[:3]), found

    async def linked_favour(self, crew_id: int, message_id: str
                            ) -> tuple[Link | None, tuple[Favour, Member] | None]:
        """`linked`, and for a favour's message also `favour_author`, in one query."""
        row = (await self._run("linked_favour", crew_id=crew_id, message_id=message_id)).first()
        if row is None:
            return None, None
        return Link(*row[:3]), (_favour_and_member(row[3:]) if row[3] is not None else None)

    async def first_seen(self, platform: str, event_id: str, now: datetime) -> bool:
        result = await self._run("first_seen", platform=platform, event_id=event_id[:96],
                                 at=now)
        return bool(result.rowcount)

    # your data

    async def member_joined(self, member_id: int) -> datetime:
        return (await self.session.get_one(MemberRow, member_id)).joined_at

    async def member_checkins(self, member_id: int) -> list[tuple[int, datetime, str]]:
        """(circle id, time, text) of each check-in the member wrote."""
        rows = await self.session.execute(
            select(CheckinRow.circle_id, CheckinRow.updated_at, CheckinRow.text)
            .where(CheckinRow.member_id == member_id).order_by(CheckinRow.id))
        return [(row.circle_id, row.updated_at, row.text) for row in rows]

    async def member_listens(self, member_id: int) -> list[tuple[int, int]]:
        """(circle id, author's member id) of each check-in the member confirmed listening to."""
        rows = await self.session.execute(
            select(CheckinRow.circle_id, CheckinRow.member_id).distinct()
            .join(ListenRow, ListenRow.checkin_id == CheckinRow.id)
            .where(ListenRow.listener_id == member_id)
            .order_by(CheckinRow.circle_id, CheckinRow.member_id))
        return [(row.circle_id, row.member_id) for row in rows]

    async def member_favours(self, member_id: int) -> list[Favour]:
        """The member's asks, offers and money talks, then the offers made to them (those
        without their giver's text)."""
        rows = await self.session.scalars(
            select(FavourRow).where((FavourRow.member_id == member_id)
                                    | (FavourRow.recipient_id == member_id))
            .order_by(FavourRow.member_id != member_id, FavourRow.id))
        return [Favour(r.id, r.crew_id, r.number, r.kind, r.member_id, r.recipient_id,
                       r.text if r.member_id == member_id else "", r.scored, r.thanked,
                       r.created_at) for r in rows]

    async def member_reflections(self, member_id: int) -> list[tuple[datetime, str]]:
        rows = await self.session.execute(
            select(ReflectionRow.created_at, ReflectionRow.text)
            .where(ReflectionRow.member_id == member_id).order_by(ReflectionRow.id))
        return [(row.created_at, row.text) for row in rows]

    async def member_meetings(self, member_id: int) -> list[tuple[Meeting, bool]]:
        """Each meeting the member was on the roster of, and whether they marked presence."""
        rows = await self.session.execute(
            select(MeetingRow, RosterRow.present_at)
            .join(RosterRow, RosterRow.meeting_id == MeetingRow.id)
            .where(RosterRow.member_id == member_id).order_by(MeetingRow.starts_at))
        return [(_meeting(row.MeetingRow), row.present_at is not None) for row in rows]

    async def member_conflicts(self, member_id: int) -> list[tuple[Conflict, str]]:
        """Conflicts the member is party to, each with the apology text only if they wrote it."""
        rows = await self.session.scalars(
            select(ConflictRow).where((ConflictRow.proposer_id == member_id)
                                      | (ConflictRow.other_id == member_id))
            .order_by(ConflictRow.id))
        return [(_conflict(r), r.apology if r.apologiser_id == member_id else "") for r in rows]

    async def member_ventures(self, member_id: int) -> list[Venture]:
        """Ventures the member proposed or was named a co-owner of."""
        owned = select(VentureMemberRow.venture_id).where(VentureMemberRow.member_id == member_id)
        ids = (await self.session.scalars(
            select(VentureRow.id).where((VentureRow.proposer_id == member_id)
                                        | VentureRow.id.in_(owned))
            .order_by(VentureRow.id))).all()
        return [v for i in ids if (v := await self.venture(i))]

    async def member_ledger(self, crew_id: int, member_id: int) -> list[LedgerEntry]:
        """Every ledger entry of one member, oldest first."""
        rows = await self.session.scalars(
            select(LedgerRow).where(LedgerRow.crew_id == crew_id,
                                    LedgerRow.member_id == member_id).order_by(LedgerRow.id))
        return [_entry(r) for r in rows]

    async def forget_member(self, member_id: int, user_id: str, name: str) -> None:
        """Erases every text the member wrote and makes the member anonymous: `user_id` and
        `name` replace theirs, also as the author of their messages. Their ledger rows (and
        cached totals) stay, now belonging to the anonymous member."""
        row = await self.session.get_one(MemberRow, member_id)
        crew_id, old_user_id = row.crew_id, row.user_id
        for table, column, who in ((CheckinRow, "text", CheckinRow.member_id),
                                   (FavourRow, "text", FavourRow.member_id),
                                   (ReflectionRow, "text", ReflectionRow.member_id),
                                   (ConflictRow, "apology", ConflictRow.apologiser_id)):
            await self.session.execute(update(table).where(who == member_id).values({column: ""}))
        await self.session.execute(
            update(MessageLinkRow).where(MessageLinkRow.crew_id == crew_id,
                                         MessageLinkRow.author == old_user_id)
            .values(author=user_id))
        await self.session.execute(
            update(MemberRow).where(MemberRow.id == member_id)
            .values(user_id=user_id, name=name, handle=None, hidden=True, active=False))

    async def crew_posts(self, crew_id: int) -> list[tuple[int, dict, bool]]:
        """(id, payload, sent?) of every post queued for a crew, oldest first."""
        rows = await self.session.execute(
            select(OutboxRow.id, OutboxRow.payload, OutboxRow.sent_at)
            .where(OutboxRow.crew_id == crew_id).order_by(OutboxRow.id))
        return [(row.id, row.payload, row.sent_at is not None) for row in rows]

    async def set_post_payload(self, post_id: int, payload: dict) -> None:
        await self.session.execute(
            update(OutboxRow).where(OutboxRow.id == post_id).values(payload=payload))


class UnitOfWork:
    """`async with uow() as store:` gives a store whose work is lost unless committed.

    On a SQLite file the store's statements run on the loop's thread (storage/sqlite_loop.py),
    and units of work of this process take turns (an asyncio lock): SQLite lets one writer in
    at a time anyway, and the next one's BEGIN IMMEDIATE then starts the moment the first
    commits. Another process's write lock is waited for with asyncio.sleep."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.loop = loop_sqlite(engine)
        self.turns = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    def __call__(self) -> _Scope:
        return _Scope(self)


class _Scope:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.turns = uow.turns

    async def __aenter__(self) -> SqlStore:
        if self.turns:
            await self.turns.acquire()
        try:
            self.conn: AsyncConnection | LoopConnection = await (
                self.uow.loop.connect() if self.uow.loop else self.uow.engine.connect())
        except BaseException:
            if self.turns:
                self.turns.release()
            raise
        self.store = SqlStore(self.conn)
        return self.store

    async def __aexit__(self, *exc: object) -> None:
        try:
            try:
                await self.store.close()
            finally:
                await self.conn.close()
        finally:
            if self.turns:
                self.turns.release()
