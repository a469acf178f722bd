"""SQLAlchemy tables of the game; times are stored as UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

BigId = BigInteger().with_variant(Integer(), "sqlite")
# CREW_OF: every table that grows with play carries its crew, so that a crew's rows can live
# together (docs/SCALING.md, "Distributing by crew"). Those migration 0005 added are nullable
# only because SQLite cannot add a NOT NULL column with a foreign key in place; every insert
# sets them.


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class CrewRow(Base):
    __tablename__ = "crews"
    __table_args__ = (UniqueConstraint("platform", "chat_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200), default="")
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    schedule: Mapped[str | None] = mapped_column(String(64))
    size_warned: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MemberRow(Base):
    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("crew_id", "user_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    crew_id: Mapped[int] = mapped_column(ForeignKey("crews.id"))
    user_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    handle: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CircleRow(Base):
    __tablename__ = "circles"
    __table_args__ = (
        # At most one open circle per crew, even when two check-ins race to open one.
        Index("uq_circles_open", "crew_id", unique=True,
              postgresql_where=text("status = 'open'"), sqlite_where=text("status = 'open'")),
        # open_circle binds status as a parameter, which a partial index cannot serve.
        Index("ix_circles_crew_status", "crew_id", "status"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    crew_id: Mapped[int] = mapped_column(ForeignKey("crews.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="open")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CheckinRow(Base):
    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("circle_id", "member_id"),
                      Index("ix_checkins_member", "member_id"),
                      Index("ix_checkins_crew", "crew_id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    crew_id: Mapped[int | None] = mapped_column(ForeignKey("crews.id"))  # always set: CREW_OF
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ListenRow(Base):
    """One confirmation of listening; a listener may confirm by several emoji and a button."""

    __tablename__ = "listens"
    __table_args__ = (UniqueConstraint("checkin_id", "listener_id", "via"),
                      Index("ix_listens_listener", "listener_id"),
                      Index("ix_listens_crew", "crew_id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    crew_id: Mapped[int | None] = mapped_column(ForeignKey("crews.id"))  # always set: CREW_OF
    checkin_id: Mapped[int] = mapped_column(ForeignKey("checkins.id"))
    listener_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    via: Mapped[str] = mapped_column(String(32))


class FavourRow(Base):
    __tablename__ = "favours"
    __table_args__ = (
        Index("ix_favours_member_kind", "member_id", "kind", "created_at"),
        Index("ix_favours_recipient", "recipient_id", "thanked"),
        # Unique indexes rather than constraints: migration 0003 adds them to SQLite in place.
        Index("uq_favours_number", "crew_id", "kind", "number", unique=True),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    crew_id: Mapped[int] = mapped_column(ForeignKey("crews.id"))
    # What members read and type: the crew's first ask is ask 1, its first offer offer 1.
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    text: Mapped[str] = mapped_column(Text, default="")
    scored: Mapped[bool] = mapped_column(Boolean, default=False)
    thanked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MeetingRow(Base):
    __tablename__ = "meetings"
    __table_args__ = (UniqueConstraint("crew_id", "month"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    crew_id: Mapped[int] = mapped_column(ForeignKey("crews.id"))
    month: Mapped[str] = mapped_column(String(7))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    scheduled: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16), default="planned")


class RosterRow(Base):
    """Who was on the roster at a meeting's start, and who marked presence."""

    __tablename__ = "meeting_roster"
    __table_args__ = (UniqueConstraint("meeting_id", "member_id"),
                      Index("ix_meeting_roster_crew", "crew_id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    crew_id: Mapped[int | None] = mapped_column(ForeignKey("crews.id"))  # always set: CREW_OF
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    at_start: Mapped[bool] = mapped_column(Boolean, default=True)
    present_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    excused: Mapped[bool] = mapped_column(Boolean, default=False)  # said /away beforehand


class ReflectionRow(Base):
    __tablename__ = "reflections"
    __table_args__ = (Index("ix_reflections_member", "member_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    crew_id: Mapped[int] = mapped_column(ForeignKey("crews.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConflictRow(Base):
    __tablename__ = "conflicts"
    __table_args__ = (Index("ix_conflicts_crew_status", "crew_id", "status"),
                      Index("uq_conflicts_number", "crew_id", "number", unique=True))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    crew_id: Mapped[int] = mapped_column(ForeignKey("crews.id"))
    number: Mapped[int] = mapped_column(Integer)  # conflict 1, 2, ... in each crew
    proposer_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    other_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    apologiser_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    apology: Mapped[str] = mapped_column(Text, default="")
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class VentureRow(Base):
    __tablename__ = "ventures"
    __table_args__ = (UniqueConstraint("crew_id", "key"),
                      Index("uq_ventures_number", "crew_id", "number", unique=True))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    crew_id: Mapped[int] = mapped_column(ForeignKey("crews.id"))
    number: Mapped[int] = mapped_column(Integer)  # venture 1, 2, ... in each crew
    name: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200))
    proposer_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class VentureMemberRow(Base):
    __tablename__ = "venture_members"
    __table_args__ = (UniqueConstraint("venture_id", "member_id"),
                      Index("ix_venture_members_crew", "crew_id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    crew_id: Mapped[int | None] = mapped_column(ForeignKey("crews.id"))  # always set: CREW_OF
    venture_id: Mapped[int] = mapped_column(ForeignKey("ventures.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LedgerRow(Base):
    """Append-only: scores change by new rows; one row per (crew, member, reason, source)."""

    __tablename__ = "ledger"
    __table_args__ = (
        UniqueConstraint("crew_id", "member_id", "reason", "source", name="uq_ledger_award"),
        Index("ix_ledger_member_latest", "crew_id", "member_id", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    crew_id: Mapped[int] = mapped_column(ForeignKey("crews.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    points: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(64))
    month: Mapped[str] = mapped_column(String(7))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class TotalRow(Base):
    """Cached sums of the ledger per member, period ('all' or 'YYYY-MM') and level."""

    __tablename__ = "totals"
    __table_args__ = (UniqueConstraint("crew_id", "period", "member_id", "level"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    crew_id: Mapped[int] = mapped_column(ForeignKey("crews.id"))
    period: Mapped[str] = mapped_column(String(7))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    level: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer, default=0)


class DueRow(Base):
    """A timer: work that falls due at `due_at`, done exactly once (claimed by setting done_at)."""

    __tablename__ = "due_work"
    __table_args__ = (
        UniqueConstraint("kind", "subject_id"),
        Index("ix_due_pending", "due_at", postgresql_where=text("done_at IS NULL"),
              sqlite_where=text("done_at IS NULL")),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    crew_id: Mapped[int] = mapped_column(ForeignKey("crews.id"))
    kind: Mapped[str] = mapped_column(String(24))
    subject_id: Mapped[int] = mapped_column(BigId)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxRow(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "platform", "id", postgresql_where=text("sent_at IS NULL"),
              sqlite_where=text("sent_at IS NULL")),
        Index("ix_outbox_crew", "crew_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    crew_id: Mapped[int] = mapped_column(ForeignKey("crews.id"))
    platform: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str | None] = mapped_column(String(64))


class MessageLinkRow(Base):
    """A platform message that stands for an item: a check-in, offer, meeting, venture..."""

    __tablename__ = "message_links"
    __table_args__ = (UniqueConstraint("crew_id", "message_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    crew_id: Mapped[int] = mapped_column(ForeignKey("crews.id"))
    message_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int] = mapped_column(BigId)
    author: Mapped[str] = mapped_column(String(64))


class SeenEventRow(Base):
    """Platform events already handled, so a redelivered one has no second effect."""

    __tablename__ = "seen_events"
    __table_args__ = (UniqueConstraint("platform", "event_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The chat's crew when the event came; NULL for a chat's very first event (its crew is
    # made by that event) and for chats that never become a crew. Not indexed: every event
    # writes this table and nothing looks its rows up by crew.
    crew_id: Mapped[int | None] = mapped_column(ForeignKey("crews.id"))
    platform: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(96))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class CongregationRow(Base):
    """Crews side by side (issue 17): a name and the code other crews join with."""

    __tablename__ = "congregations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CongregationCrewRow(Base):
    """A crew's place in a congregation: at most one (the crew is the key). `server` is the
    Discord server a crew's channel is in, so crews of one server find its congregation."""

    __tablename__ = "congregation_crews"
    __table_args__ = (Index("ix_congregation_crews_congregation", "congregation_id"),)
    crew_id: Mapped[int] = mapped_column(ForeignKey("crews.id"), primary_key=True)
    congregation_id: Mapped[int] = mapped_column(ForeignKey("congregations.id"))
    server: Mapped[str] = mapped_column(String(64), default="")
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StewardRow(Base):
    __tablename__ = "congregation_stewards"
    __table_args__ = (UniqueConstraint("congregation_id", "platform", "user_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    congregation_id: Mapped[int] = mapped_column(ForeignKey("congregations.id"))
    platform: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))


class LobbyRow(Base):
    """A congregation's lobby chat: one per platform, in a chat that is no crew."""

    __tablename__ = "lobbies"
    __table_args__ = (UniqueConstraint("platform", "chat_id"),
                      UniqueConstraint("congregation_id", "platform"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    congregation_id: Mapped[int] = mapped_column(ForeignKey("congregations.id"))
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))


class LookingRow(Base):
    """A person looking for a crew; the row (and their words) goes when they stop looking."""

    __tablename__ = "lobby_looking"
    __table_args__ = (UniqueConstraint("congregation_id", "platform", "user_id"),
                      Index("ix_lobby_looking_person", "platform", "user_id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    congregation_id: Mapped[int] = mapped_column(ForeignKey("congregations.id"))
    platform: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    words: Mapped[str] = mapped_column(Text)
    since: Mapped[datetime] = mapped_column(UTCDateTime)


class KnockRow(Base):
    """A person asking an open crew to meet them; the crew's admins invite or decline."""

    __tablename__ = "knocks"
    __table_args__ = (Index("ix_knocks_person", "platform", "user_id", "at"),
                      Index("ix_knocks_crew", "crew_id", "status"),
                      # one waiting knock per person and crew, even when two race
                      Index("uq_knocks_waiting", "crew_id", "platform", "user_id", unique=True,
                            postgresql_where=text("status = 'waiting'"),
                            sqlite_where=text("status = 'waiting'")))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    congregation_id: Mapped[int] = mapped_column(ForeignKey("congregations.id"))
    crew_id: Mapped[int] = mapped_column(ForeignKey("crews.id"))
    platform: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MemberWindowRow(Base):
    """Each member's commands in one chat over the current minute, counted by every process:
    the minute starts with the member's first command after the last one ended."""

    __tablename__ = "member_windows"
    __table_args__ = (Index("ix_member_windows_started", "started_at"),)
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(Integer)


class SendSlotRow(Base):
    """PostgreSQL: when the latest sends to a platform went or may go, per limit (the bot's
    overall one, each group's), oldest first, so every process keeps to the same limits. Not
    used on SQLite, where one process sends and keeps the limits in memory."""

    __tablename__ = "send_slots"
    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    slots: Mapped[list[datetime]] = mapped_column(
        ARRAY(DateTime(timezone=True)).with_variant(Text(), "sqlite"))


class ReplyRow(Base):
    """What the bot answers a platform event, committed with the event's effects and deleted
    once it went out: a redelivered event whose answer never left gets it, once. `holder` is
    the process sending it (storage/instance.py), alive while its database session is."""

    __tablename__ = "replies"
    __table_args__ = (UniqueConstraint("platform", "event_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(96))
    chat_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSON)
    holder: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
