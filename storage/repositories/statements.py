"""The statements of the game's hot paths, built once per dialect, and their numbers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Executable,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    delete,
    false,
    func,
    literal,
    literal_column,
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
    MemberWindowRow,
    MessageLinkRow,
    OutboxRow,
    RosterRow,
    SeenEventRow,
    TotalRow,
    UTCDateTime,
)
from storage.pg_statements import PgStatement

LEASE = timedelta(seconds=60)
MEETING_TIMERS = ("meeting_prompt", "meeting_reminder", "meeting_start", "meeting_tally")
FAVOUR_KINDS = ("ask", "money", "offer")  # message links whose item is a favour
FAVOUR_NUMBER = ["crew_id", "kind", "number"]  # the unique index of the numbers members type
NUMBERS = range(1, 2**31)  # an item's number is an INTEGER: a larger one typed names nothing
NUMBER_TRIES = 100  # inserts that lost the race for a number, before giving up
MAX_ATTEMPTS = 50  # then the post is given up (a chat that is gone), not retried forever
# PostgreSQL: a unit of work holds its crew with pg_advisory_xact_lock(CREW_LOCK, key), the
# two-int form, whose key space is apart from the one-bigint form (the migrations' lock): the
# class says "a crew", the key is the crew's id modulo 2**31 (two crews sharing a key, past
# two thousand million crews, would only take turns).
CREW_LOCK = 0x43524557  # "CREW"
IN_CREW = "@crew"  # the variant of a by-id statement kept to one crew (Db.run_in_crew)
CREW_KEYS = 2**31


# The statements of every game action, built once per dialect with bound parameters: SQLAlchemy
# then skips building and cache-keying them per call, and Core rows skip ORM entity loading.
_CREWS, _MEMBERS = CrewRow.__table__, MemberRow.__table__
_CIRCLES, _CHECKINS, _LISTENS = CircleRow.__table__, CheckinRow.__table__, ListenRow.__table__
_FAVOURS, _LINKS, _SEEN = FavourRow.__table__, MessageLinkRow.__table__, SeenEventRow.__table__
_TOTALS, _MEETINGS, _ROSTER = TotalRow.__table__, MeetingRow.__table__, RosterRow.__table__
_LEDGER, _DUE, _OUTBOX = LedgerRow.__table__, DueRow.__table__, OutboxRow.__table__
_WINDOWS = MemberWindowRow.__table__
_CREW_COLS = (_CREWS.c.id, _CREWS.c.platform, _CREWS.c.chat_id, _CREWS.c.title,
              _CREWS.c.settings, _CREWS.c.schedule, _CREWS.c.size_warned)
_MEMBER_COLS = (_MEMBERS.c.id, _MEMBERS.c.crew_id, _MEMBERS.c.user_id, _MEMBERS.c.name,
                _MEMBERS.c.active, _MEMBERS.c.hidden, _MEMBERS.c.handle)
_CIRCLE_COLS = (_CIRCLES.c.id, _CIRCLES.c.crew_id, _CIRCLES.c.opened_at, _CIRCLES.c.closes_at,
                _CIRCLES.c.status)
_FAVOUR_COLS = (_FAVOURS.c.id, _FAVOURS.c.crew_id, _FAVOURS.c.number, _FAVOURS.c.kind,
                _FAVOURS.c.member_id, _FAVOURS.c.recipient_id, _FAVOURS.c.text,
                _FAVOURS.c.scored, _FAVOURS.c.thanked, _FAVOURS.c.created_at)
_LINK_COLS = (_LINKS.c.kind, _LINKS.c.item_id, _LINKS.c.author)
_CHECKIN_COLS = (_CHECKINS.c.id, _CHECKINS.c.circle_id, _CHECKINS.c.member_id, _CHECKINS.c.text)
_MEETING_COLS = (_MEETINGS.c.id, _MEETINGS.c.crew_id, _MEETINGS.c.month, _MEETINGS.c.starts_at,
                 _MEETINGS.c.ends_at, _MEETINGS.c.scheduled, _MEETINGS.c.status)



def named(prefix: str, columns: tuple[Any, ...]) -> list[Any]:
    """The columns labelled `<prefix>_<name>`: a row joining two tables is read by name
    (rows.record) without one table's `id` hiding the other's."""
    return [c.label(f"{prefix}_{c.name}") for c in columns]


def next_number(table: Any, **within: Any) -> Any:
    """The next number in `table` within these columns' values (the crew, and the kind), as a
    subquery of the insert itself: one statement, no extra round trip. The insert goes with
    ON CONFLICT DO NOTHING on the numbers' unique index (`numbered` runs it)."""
    return (select(func.coalesce(func.max(table.c.number), 0) + 1)
            .where(*(table.c[name] == value for name, value in within.items()))
            .scalar_subquery())



def _circle_state_with_roster(by_id: bool) -> Executable:
    """The crew's active members (part 0, by id), then its open circle with each check-in and
    confirmation (part 1, by check-in), in one query: each part's row leaves the other's
    columns NULL, typed so that the first part's columns decode the second's values. `by_id`:
    the check-ins and confirmations of the circle `circle_id` instead, without the circle's
    own columns (the caller has the circle; repeated on every row, they cost more to decode
    than the rest)."""
    p = bindparam
    member_cols = named("m", _MEMBER_COLS)
    circle_cols = named("c", _CIRCLE_COLS)
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
    # this query's time); rows.roster_and_circle puts the few rows in order instead.
    return union_all(members, circle)


def _in_crew(built: dict[str, Any]) -> dict[str, Executable]:
    """Each statement that finds an item by its id, also kept to one crew (`in_crew`)."""
    p = bindparam
    by_id = {"member_by_id": _MEMBERS, "favour": _FAVOURS, "favour_author": _FAVOURS,
             "checkin_circle": _CHECKINS, "meeting": _MEETINGS, "set_meeting_status": _MEETINGS,
             "mark_thanked": _FAVOURS, "scored_favours": _FAVOURS}
    return {name + IN_CREW: built[name].where(table.c.crew_id == p("in_crew"))
            for name, table in by_id.items()}


def _prebuilt(dialect: str) -> dict[str, Executable]:
    built = _by_dialect(dialect)
    return {**built, **_in_crew(built)}


def _by_dialect(dialect: str) -> dict[str, Executable]:
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
        "crew_member": select(*named("crew", _CREW_COLS), *named("member", _MEMBER_COLS))
        .select_from(
            _CREWS.outerjoin(_MEMBERS, and_(_MEMBERS.c.crew_id == _CREWS.c.id,
                                            _MEMBERS.c.user_id == p("user_id"))))
        .where(_CREWS.c.platform == p("platform"), _CREWS.c.chat_id == p("chat_id")),
        "member": select(*_MEMBER_COLS).where(_MEMBERS.c.crew_id == p("crew_id"),
                                              _MEMBERS.c.user_id == p("user_id")),
        "member_by_id": select(*_MEMBER_COLS).where(_MEMBERS.c.id == p("id")),
        "roster": select(*_MEMBER_COLS).where(_MEMBERS.c.crew_id == p("crew_id"),
                                              _MEMBERS.c.active).order_by(_MEMBERS.c.id),
        "first_seen": insert(_SEEN).values(platform=p("platform"), event_id=p("event_id"),
                                           at=p("at"), crew_id=_chat_crew(p))
        .on_conflict_do_nothing(),
        "linked": select(*_LINK_COLS).where(
            _LINKS.c.crew_id == p("crew_id"), _LINKS.c.message_id == p("message_id")),
        "linked_favour": select(*named("link", _LINK_COLS), *named("favour", _FAVOUR_COLS),
                                *named("member", _MEMBER_COLS))
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
        "linked_checkin": select(*named("link", _LINK_COLS), *named("checkin", _CHECKIN_COLS),
                                 *named("circle", _CIRCLE_COLS))
        .select_from(_LINKS.outerjoin(_CHECKINS, and_(_CHECKINS.c.id == _LINKS.c.item_id,
                                                      _LINKS.c.kind == "checkin"))
                     .outerjoin(_CIRCLES, _CIRCLES.c.id == _CHECKINS.c.circle_id))
        .where(_LINKS.c.crew_id == p("crew_id"), _LINKS.c.message_id == p("message_id")),
        "checkin_circle": select(*named("checkin", _CHECKIN_COLS), *named("circle", _CIRCLE_COLS))
        .join(_CIRCLES, _CIRCLES.c.id == _CHECKINS.c.circle_id)
        .where(_CHECKINS.c.id == p("id")),
        "add_circle": insert(_CIRCLES).values(crew_id=p("crew_id"), opened_at=p("opened_at"),
                                              closes_at=p("closes_at"), status="open")
        .returning(_CIRCLES.c.id),
        "add_due": insert(_DUE).values(crew_id=p("crew_id"), kind=p("kind"),
                                       subject_id=p("subject_id"), due_at=p("due_at"))
        .on_conflict_do_nothing(),
        "add_checkin": insert(_CHECKINS).values(
            crew_id=p("crew_id"), circle_id=p("circle_id"), member_id=p("member_id"),
            text=p("text"), updated_at=p("at")).on_conflict_do_nothing().returning(_CHECKINS.c.id),
        "edit_checkin": update(_CHECKINS).where(
            _CHECKINS.c.crew_id == p("w_crew"), _CHECKINS.c.circle_id == p("w_circle"),
            _CHECKINS.c.member_id == p("w_member"))
        .values(text=p("text"), updated_at=p("at")).returning(_CHECKINS.c.id),
        "add_listen": insert(_LISTENS).values(crew_id=p("crew_id"),
                                              checkin_id=p("checkin_id"),
                                              listener_id=p("listener_id"), via=p("via"))
        .on_conflict_do_nothing(),
        "favour": select(*_FAVOUR_COLS).where(_FAVOURS.c.id == p("id")),
        "favour_author": select(*named("favour", _FAVOUR_COLS), *named("member", _MEMBER_COLS))
        .join(_MEMBERS, _MEMBERS.c.id == _FAVOURS.c.member_id).where(_FAVOURS.c.id == p("id")),
        "numbered_favour_author": select(*named("favour", _FAVOUR_COLS),
                                         *named("member", _MEMBER_COLS))
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
            *_MEMBER_COLS, _ROSTER.c.present_at.is_not(None).label("present"),
            _ROSTER.c.excused,
            select(func.count()).select_from(_LEDGER).where(
                _LEDGER.c.crew_id == p("crew_id"), _LEDGER.c.member_id == _ROSTER.c.member_id,
                _LEDGER.c.reason == "meeting_attended").scalar_subquery().label("attended"))
        .join(_MEMBERS, _MEMBERS.c.id == _ROSTER.c.member_id)
        .where(_ROSTER.c.meeting_id == p("meeting_id"),
               _ROSTER.c.at_start | _ROSTER.c.present_at.is_not(None))
        .order_by(_ROSTER.c.member_id),
        "add_post": insert(_OUTBOX).values(crew_id=p("crew_id"), platform=p("platform"),
                                           payload=p("payload"), created_at=p("at"),
                                           attempts=0),
        "join_roster": insert(_ROSTER).values(crew_id=p("crew_id"),
                                              meeting_id=p("meeting_id"),
                                              member_id=p("member_id"), at_start=False)
        .on_conflict_do_nothing(),
        "mark_present": update(_ROSTER).where(
            _ROSTER.c.crew_id == p("w_crew"), _ROSTER.c.meeting_id == p("w_meeting"),
            _ROSTER.c.member_id == p("w_member"),
            _ROSTER.c.present_at.is_(None)).values(present_at=p("at")),
        "count_command": _count_command(insert),
        "forget_windows": delete(_WINDOWS).where(
            _WINDOWS.c.started_at <= p("since", type_=UTCDateTime())),
        **({"arrival": _arrival(p, hold=True), "arrival_unheld": _arrival(p, hold=False),
            "arrival_counted": _arrival(p, hold=True, counted=True),
            "arrival_counted_unheld": _arrival(p, hold=False, counted=True),
            "award_totals": _AWARD_TOTALS, "hold_crew": _HOLD_CREW,
            "hold_chat": select(_crew_lock(func.pg_advisory_xact_lock)).where(
                _CREWS.c.platform == p("platform"), _CREWS.c.chat_id == p("chat_id"))}
           if dialect == "postgresql" else {}),
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


def _count_command(insert: Any) -> Any:
    """One more command of a member in a chat: the member's window starts again with it when
    the last one started on or before `since` (a minute ago). Returns the window's start and
    count, this command included. The row stays locked until the unit of work ends, so two
    processes count one member's commands one after the other; a rollback (a refused command)
    takes the count back."""
    at, since = bindparam("at", type_=UTCDateTime()), bindparam("since", type_=UTCDateTime())
    stale = _WINDOWS.c.started_at <= since
    return (insert(_WINDOWS).values(platform=bindparam("platform"), chat_id=bindparam("chat_id"),
                                    user_id=bindparam("user_id"), started_at=at, count=1)
            .on_conflict_do_update(
                index_elements=["platform", "chat_id", "user_id"],
                set_={"started_at": case((stale, at), else_=_WINDOWS.c.started_at),
                      "count": case((stale, 1), else_=_WINDOWS.c.count + 1)})
            .returning(_WINDOWS.c.started_at.label("window_started_at"),
                       _WINDOWS.c.count.label("window_count")))


def _chat_crew(p: Any) -> Any:
    """The id of the crew of the chat (platform, chat_id), or NULL: a scalar subquery."""
    return (select(_CREWS.c.id).where(_CREWS.c.platform == p("platform"),
                                      _CREWS.c.chat_id == p("chat_id")).scalar_subquery())


def _crew_lock(function: Any) -> Any:
    """pg_advisory_xact_lock or pg_try_advisory_xact_lock on the crew of the row (NULL for
    no crew)."""
    return function(literal_column(str(CREW_LOCK), Integer),
                    cast(_CREWS.c.id % CREW_KEYS, Integer))


# PostgreSQL: waits until no other transaction holds the crew, then holds it until this one
# ends (commit or rollback).
_HOLD_CREW = text(f"SELECT pg_advisory_xact_lock({CREW_LOCK}, :crew_key)").bindparams(
    bindparam("crew_key", type_=Integer))


def _arrival(p: Any, hold: bool, counted: bool = False) -> Executable:
    """PostgreSQL: the event's dedupe insert, the crew and the member in one round trip (a
    data-modifying CTE); always one row, whose `fresh` is 1 for a new event. `hold`: its
    `held` says whether this transaction now holds the crew (taken without waiting, after the
    insert; NULL without a crew); else `held` is NULL. `counted`: the member's command is
    counted too (`_count_command`), its window's start and count in `window_started_at` and
    `window_count`."""
    seen = (pg_insert(_SEEN).values(platform=p("platform"), event_id=p("event_id"), at=p("at"),
                                    crew_id=_chat_crew(p))
            .on_conflict_do_nothing().returning(literal(1).label("new")).cte("seen"))
    fresh: Any = select(func.count().label("fresh")).select_from(seen).subquery("arrival")
    held = (_crew_lock(func.pg_try_advisory_xact_lock) if hold
            else type_coerce(null(), Boolean)).label("held")
    columns: list[Any] = [fresh.c.fresh, held]
    if counted:
        window = _count_command(pg_insert).cte("window")
        columns += [window.c.window_started_at, window.c.window_count]
        fresh = fresh.join(window, literal(True))
    return select(*columns, *named("crew", _CREW_COLS), *named("member", _MEMBER_COLS)
                  ).select_from(
        fresh.outerjoin(_CREWS, and_(_CREWS.c.platform == p("platform"),
                                     _CREWS.c.chat_id == p("chat_id")))
        .outerjoin(_MEMBERS, and_(_MEMBERS.c.crew_id == _CREWS.c.id,
                                  _MEMBERS.c.user_id == p("user_id"))))


_STATEMENTS: dict[str, dict[str, Executable]] = {}
_PG_STATEMENTS: dict[str, PgStatement] = {}


def pg_statements(dialect: Dialect) -> dict[str, PgStatement]:
    """The prebuilt statements that run on asyncpg's own API (storage/pg_statements.py)."""
    if not _PG_STATEMENTS:
        for name, statement in statements(dialect.name).items():
            if (compiled := PgStatement.compile(statement, dialect)) is not None:
                _PG_STATEMENTS[name] = compiled
    return _PG_STATEMENTS


def statements(dialect: str) -> dict[str, Executable]:
    if dialect not in _STATEMENTS:
        _STATEMENTS[dialect] = _prebuilt(dialect)
    return _STATEMENTS[dialect]

