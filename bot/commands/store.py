"""The storage ports: what the command layer asks of the database, one per aggregate, written
for it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Protocol

from bot.rules.congregation import Congregation, Knock, Lobby, Looking
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


class Crews(Protocol):
    """Crews and their members. A member who left stays, inactive; `forget_member` makes them
    anonymous."""

    async def crew(self, platform: str, chat_id: str) -> Crew | None: ...

    async def crew_by_id(self, crew_id: int) -> Crew: ...

    async def crews_by_id(self, ids: Iterable[int]) -> dict[int, Crew]: ...


    async def all_crews(self) -> list[Crew]: ...

    async def add_crew(self, platform: str, chat_id: str, title: str, now: datetime) -> Crew: ...

    async def update_crew(self, crew_id: int, **fields: Any) -> None:
        """Sets these columns of the crew (settings, schedule, title, size_warned)."""
        ...

    async def member(self, crew_id: int, user_id: str) -> Member | None: ...

    async def member_by_id(self, member_id: int) -> Member: ...

    async def members_by_id(self, ids: Iterable[int]) -> dict[int, Member]: ...

    async def member_by_name(self, crew_id: int, name: str) -> Member | None:
        """The member a typed name or @handle means, active members first."""
        ...

    async def add_member(self, crew_id: int, user_id: str, name: str, now: datetime,
                         handle: str | None = None) -> Member: ...

    async def update_member(self, member_id: int, **fields: Any) -> None:
        """Sets these columns of the member (name, handle, active, hidden)."""
        ...

    async def roster(self, crew_id: int) -> list[Member]:
        """The crew's active members, by id."""
        ...

    async def all_members(self, crew_id: int) -> list[Member]:
        """Everyone who was ever in the crew, those who left too."""
        ...

    async def founder(self, crew_id: int) -> int | None:
        """The id of the crew's first member to join."""
        ...

    async def member_joined(self, member_id: int) -> datetime: ...

    async def forget_member(self, member_id: int, user_id: str, name: str) -> None:
        """Erases every text the member wrote and makes them anonymous: `user_id` and `name`
        replace theirs. Their points stay."""
        ...


class Circles(Protocol):
    """Level 1: listening circles, their check-ins and the confirmations of listening."""

    async def open_circle(self, crew_id: int) -> Circle | None: ...

    async def circle(self, circle_id: int) -> Circle: ...

    async def add_circle(self, crew_id: int, opened_at: datetime, closes_at: datetime
                         ) -> Circle: ...

    async def close_circle(self, circle_id: int, status: str, now: datetime) -> bool:
        """Closes an open circle as complete or incomplete; False if it was already closed."""
        ...

    async def checkin_circle(self, checkin_id: int) -> tuple[Checkin, Circle] | None: ...

    async def open_circle_state(self, crew_id: int) -> tuple[
            list[Member], Circle | None, dict[int, int], set[tuple[int, int]]]:
        """The roster, the open circle, its check-ins' authors by check-in id, and who
        confirmed listening to which check-in, as one read."""
        ...

    async def circle_state_roster(self, crew_id: int, circle_id: int) -> tuple[
            list[Member], dict[int, int], set[tuple[int, int]]]:
        """`open_circle_state` of a circle the caller already has."""
        ...

    async def put_checkin(self, crew_id: int, circle_id: int, member_id: int, text: str,
                          now: datetime) -> tuple[Checkin, bool]:
        """The member's check-in in the circle, its text replaced if there was one; True if
        it is new."""
        ...

    async def add_listen(self, crew_id: int, checkin_id: int, listener_id: int, via: str
                         ) -> bool:
        """Records a confirmation of listening (by a reaction or a button); False if that
        confirmation was already there."""
        ...

    async def remove_listen(self, crew_id: int, checkin_id: int, listener_id: int, via: str
                            ) -> bool: ...

    async def linked_checkin(self, crew_id: int, message_id: str
                             ) -> tuple[Link | None, tuple[Checkin, Circle] | None]: ...

    async def member_checkins(self, member_id: int) -> list[tuple[int, datetime, str]]:
        """(circle id, when, text) of each of the member's check-ins."""
        ...

    async def member_listens(self, member_id: int) -> list[tuple[int, int]]:
        """(circle id, author id) of each check-in the member confirmed listening to."""
        ...


class Favours(Protocol):
    """Level 2: favours (asks, offers and money talks) and thanks."""

    async def add_favour(self, crew_id: int, kind: str, member_id: int,
                         recipient_id: int | None, text: str, scored: bool, now: datetime
                         ) -> Favour: ...

    async def add_favour_counted(self, crew_id: int, kind: str, member_id: int,
                                 recipient_id: int | None, text: str, since: datetime,
                                 until: datetime, now: datetime,
                                 scores: Callable[[int], bool]) -> Favour:
        """A favour scored if `scores` says so of how many of the member's favours of this
        kind scored in [since, until), a count that holds when the favour is recorded: two at
        once are never both decided on the same count."""
        ...

    async def favour(self, favour_id: int) -> Favour | None: ...

    async def favour_author(self, favour_id: int) -> tuple[Favour, Member] | None: ...

    async def numbered_favour_author(self, crew_id: int, kind: str, number: int
                                     ) -> tuple[Favour, Member] | None: ...

    async def mark_thanked(self, favour_id: int) -> bool:
        """False if the offer was already thanked."""
        ...

    async def offers_awaiting_thanks(self, member_id: int) -> list[Favour]:
        """Offers made to the member that they have not thanked yet."""
        ...

    async def reciprocity(self, crew_id: int, since: datetime | None
                          ) -> list[tuple[str, int, int, int]]:
        """Who gave to whom since then: (kind, giver id, receiver id, how many)."""
        ...

    async def linked_favour(self, crew_id: int, message_id: str
                            ) -> tuple[Link | None, tuple[Favour, Member] | None]: ...

    async def member_favours(self, member_id: int) -> list[Favour]:
        """Favours the member made or received; another's words are left out."""
        ...


class Meetings(Protocol):
    """Level 3: meetings, their rosters and attendance, and reflections."""

    async def meeting(self, meeting_id: int) -> Meeting | None: ...

    async def meeting_in_month(self, crew_id: int, month: str) -> Meeting | None: ...

    async def meetings_with_status(self, crew_id: int, status: str) -> list[Meeting]:
        """The crew's meetings in this state, by start time."""
        ...

    async def add_meeting(self, crew_id: int, month: str, starts_at: datetime,
                          ends_at: datetime, scheduled: bool, status: str) -> Meeting: ...

    async def set_meeting_status(self, meeting_id: int, status: str) -> None: ...

    async def drop_meeting(self, meeting_id: int) -> None:
        """Deletes a planned meeting that never started, its timers and announced absences
        (reflections shared for it stay)."""
        ...

    async def take_roster(self, crew_id: int, meeting_id: int, member_ids: Iterable[int]
                          ) -> None:
        """Who was in the crew when the meeting started."""
        ...

    async def mark_present(self, crew_id: int, meeting_id: int, member_id: int, now: datetime
                           ) -> bool:
        """False if the member was already marked present."""
        ...

    async def excuse(self, crew_id: int, meeting_id: int, member_id: int) -> bool:
        """Records an absence announced with /away; False if it already was."""
        ...

    async def meeting_roster(self, meeting_id: int) -> dict[int, bool]:
        """Member id to present?, for everyone on the roster."""
        ...

    async def tally_roster(self, crew_id: int, meeting_id: int
                           ) -> list[tuple[Member, bool, bool, int]]:
        """Everyone the tally judges: (member, present?, excused?, meetings the member had
        attended in the crew before), by member id."""
        ...

    async def add_reflection(self, crew_id: int, member_id: int, meeting_id: int | None,
                             text: str, now: datetime) -> None: ...

    async def member_reflections(self, member_id: int) -> list[tuple[datetime, str]]: ...

    async def member_meetings(self, member_id: int) -> list[tuple[Meeting, bool]]:
        """Each meeting the member was on the roster of, and whether they were present."""
        ...


class Conflicts(Protocol):
    """Level 4: conflicts between two members."""

    async def add_conflict(self, crew_id: int, proposer_id: int, other_id: int, now: datetime
                           ) -> Conflict: ...

    async def conflict(self, conflict_id: int) -> Conflict | None: ...

    async def numbered_conflict(self, crew_id: int, number: int) -> Conflict | None: ...

    async def open_conflicts(self, crew_id: int, member_id: int) -> list[Conflict]:
        """The member's conflicts that are proposed or accepted."""
        ...

    async def move_conflict(self, conflict_id: int, from_status: str, **fields: Any) -> bool:
        """Sets these columns if the conflict is still in `from_status`; False if another
        action moved it first."""
        ...

    async def member_conflicts(self, member_id: int) -> list[tuple[Conflict, str]]:
        """Each of the member's conflicts, with their own apology ('' if none)."""
        ...


class Ventures(Protocol):
    """Level 5: ventures and their co-owners."""

    async def venture_by_key(self, crew_id: int, key: str) -> Venture | None: ...

    async def venture(self, venture_id: int) -> Venture | None: ...

    async def numbered_venture(self, crew_id: int, number: int) -> Venture | None: ...

    async def add_venture(self, crew_id: int, name: str, key: str, proposer_id: int,
                          owners: list[int], now: datetime) -> Venture: ...

    async def confirm_owner(self, venture_id: int, member_id: int, now: datetime) -> bool:
        """False if the member had already confirmed."""
        ...

    async def drop_owner(self, venture_id: int, member_id: int) -> bool: ...

    async def withdraw_venture(self, venture_id: int) -> None: ...

    async def set_venture_status(self, venture_id: int, status: str) -> None: ...

    async def ventures_awaiting(self, crew_id: int, member_id: int) -> list[Venture]:
        """Proposed ventures that wait for the member's confirmation."""
        ...

    async def member_ventures(self, member_id: int) -> list[Venture]: ...


class Ledger(Protocol):
    """The ledger of points and its totals."""

    async def award(self, crew_id: int, member_id: int, points: int, level: int, reason: str,
                    source: str, month: str, now: datetime) -> bool:
        """Adds an entry and its totals; False if this reason and source was already
        awarded to the member (nothing is added twice)."""
        ...

    async def awards(self, crew_id: int, items: list[tuple[int, int, int, str, str]],
                     month: str, now: datetime) -> int:
        """`award` of (member id, points, level, reason, source) items; how many were new."""
        ...

    async def entry(self, entry_id: int) -> LedgerEntry | None: ...

    async def totals(self, crew_id: int, period: str) -> dict[int, dict[int, int]]:
        """Member id to level to points, for 'all' time or a month ('2026-11')."""
        ...

    async def member_totals(self, crew_id: int, member_id: int, period: str
                            ) -> dict[int, int]: ...

    async def latest_entries(self, crew_id: int, member_id: int, limit: int
                             ) -> list[LedgerEntry]: ...

    async def activity(self, crew_id: int, month: str | None) -> dict[str, int]:
        """How many distinct events of each reason (revocations aside) the crew's ledger
        records, in a month ('2026-11') or ever (None)."""
        ...

    async def ledger(self, crew_id: int) -> list[LedgerEntry]: ...

    async def member_ledger(self, crew_id: int, member_id: int) -> list[LedgerEntry]: ...


class Outbox(Protocol):
    """Posts waiting to be sent, the messages they became (which item a platform message
    stands for), and due work: the timers of circles, meetings and conflicts."""

    async def add_post(self, crew_id: int, platform: str, payload: dict, now: datetime
                       ) -> int: ...

    async def add_posts(self, crew_id: int, platform: str, payloads: list[dict],
                        now: datetime) -> None: ...

    async def lease_posts(self, platform: str, limit: int, now: datetime
                          ) -> list[tuple[int, Crew, dict]]:
        """Posts to send now, each with its crew, leased so that no other sender takes them."""
        ...

    async def post_sent(self, post_id: int, message_id: str | None, now: datetime) -> None: ...

    async def post_failed(self, post_id: int) -> None: ...

    async def crew_posts(self, crew_id: int) -> list[tuple[int, dict, bool]]:
        """(post id, payload, sent?) of every post of the crew."""
        ...

    async def set_post_payload(self, post_id: int, payload: dict) -> None: ...

    async def link(self, crew_id: int, message_id: str, kind: str, item_id: int,
                   author: str) -> None: ...

    async def link_in_chat(self, platform: str, chat_id: str, message_id: str, kind: str,
                           item_id: int, author: str) -> None: ...

    async def linked(self, crew_id: int, message_id: str) -> Link | None: ...

    async def add_due(self, crew_id: int, kind: str, subject_id: int, due_at: datetime
                      ) -> None: ...

    async def keep_replies(self, platform: str, event_id: str, chat_id: str, payload: dict,
                           holder: int, now: datetime) -> None:
        """Keeps what answers a platform event, in the event's transaction, for `holder` (the
        process that will send it) until `replies_sent`."""
        ...

    async def claim_replies(self, platform: str, event_id: str, holder: int) -> dict | None:
        """The kept replies of an event whose sender ended before they went out, now
        `holder`'s to send; None if there are none, or their sender still runs."""
        ...

    async def stale_replies(self, platform: str, holder: int) -> list[tuple[str, str, dict]]:
        """(event id, chat id, payload) of kept replies whose sender ended, now `holder`'s."""
        ...

    async def replies_sent(self, platform: str, event_id: str) -> None: ...

    async def next_due_at(self) -> datetime | None: ...

    async def due(self, now: datetime, limit: int) -> list[Due]: ...

    async def claim_due_many(self, due_ids: list[int], now: datetime) -> set[int]:
        """The ids of these that this unit of work claimed (no other worker has them)."""
        ...

    async def claim_due(self, due_id: int, now: datetime) -> bool: ...


class Congregations(Protocol):
    """Congregations: crews side by side, their stewards, lobbies, the people looking for a
    crew and their knocks."""

    async def congregation(self, congregation_id: int) -> Congregation | None: ...

    async def by_code(self, code: str) -> Congregation | None: ...

    async def of_crew(self, crew_id: int) -> Congregation | None: ...

    async def of_server(self, platform: str, server: str) -> list[Congregation]: ...

    async def add_congregation(self, name: str, code: str, now: datetime) -> Congregation: ...

    async def update_congregation(self, congregation_id: int, **fields: Any) -> None:
        """Sets these columns (name, code)."""
        ...

    async def add_crew(self, congregation_id: int, crew_id: int, server: str,
                       now: datetime) -> bool: ...

    async def remove_crew(self, congregation_id: int, crew_id: int) -> bool:
        """Takes the crew out, and the knocks on it still waiting; False if it was not in."""
        ...

    async def crews(self, congregation_id: int) -> list[Crew]:
        """The member crews, in the order they joined."""
        ...

    async def sizes(self, crew_ids: list[int]) -> dict[int, int]:
        """Active members of each crew, in one count."""
        ...

    async def is_steward(self, congregation_id: int, platform: str, user_id: str) -> bool: ...

    async def add_steward(self, congregation_id: int, platform: str, user_id: str,
                          name: str) -> bool: ...

    async def stewards(self, congregation_id: int) -> list[tuple[str, str, str]]:
        """(platform, user id, name) of each steward."""
        ...

    async def lobby(self, platform: str, chat_id: str) -> Lobby | None: ...

    async def set_lobby(self, congregation_id: int, platform: str, chat_id: str) -> None:
        """Makes the chat the congregation's lobby on its platform, in place of any other."""
        ...

    async def lobbies(self, congregation_id: int) -> list[Lobby]: ...

    async def put_looking(self, congregation_id: int, platform: str, user_id: str, name: str,
                          words: str, now: datetime) -> None:
        """The person's words in the lobby, replacing what they said before."""
        ...

    async def looking(self, congregation_id: int) -> list[Looking]: ...

    async def person_looking(self, platform: str, user_id: str) -> list[Looking]:
        """Where the person is looking, in any congregation."""
        ...

    async def stop_looking(self, platform: str, user_id: str,
                           congregation_id: int | None = None) -> int:
        """Deletes the person's lobby words (in one congregation, or in all); how many."""
        ...

    async def add_knock(self, congregation_id: int, crew_id: int, platform: str, user_id: str,
                        name: str, now: datetime) -> Knock: ...

    async def knock(self, knock_id: int) -> Knock | None: ...

    async def person_knocks(self, platform: str, user_id: str,
                            since: datetime | None = None) -> list[Knock]:
        """The person's knocks (after `since`, or all), oldest first."""
        ...

    async def move_knock(self, knock_id: int, from_status: str, status: str,
                         now: datetime) -> bool:
        """Moves the knock on if it is still in `from_status`; False if someone moved it first."""
        ...

    async def joined(self, crew_id: int, platform: str, user_id: str, now: datetime) -> None:
        """The person joined the crew: their knocks on it are done, and they stop looking."""
        ...

    async def forget_person(self, platform: str, user_id: str) -> int:
        """Deletes everything the lobby keeps about the person: words and knocks; how many."""
        ...

    async def all_congregations(self) -> list[Congregation]: ...

    async def knocks(self, congregation_id: int) -> list[Knock]: ...


class Store(Protocol):
    """One unit of work: every read and write of one event or timer, committed together or
    not at all. Times are UTC; [since, until) ranges include since and exclude until. Items
    members type are found by their number within the crew; ids are the database's."""

    # the repositories, one per aggregate (read-only: the unit of work made them)

    @property
    def crews(self) -> Crews: ...

    @property
    def circles(self) -> Circles: ...

    @property
    def favours(self) -> Favours: ...

    @property
    def meetings(self) -> Meetings: ...

    @property
    def conflicts(self) -> Conflicts: ...

    @property
    def ventures(self) -> Ventures: ...

    @property
    def ledger(self) -> Ledger: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def congregations(self) -> Congregations: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    def retryable(self, error: Exception) -> bool:
        """True when the work failed only because another unit of work won a race (or the
        connection dropped): it was rolled back and may be run again from the start."""
        ...

    async def first_seen(self, platform: str, event_id: str, now: datetime, chat_id: str
                         ) -> bool:
        """Records the event (with the chat's crew, if it has one); False if it was already
        handled (a redelivery)."""
        ...

    async def arrival(self, platform: str, event_id: str | None, now: datetime, chat_id: str,
                      user_id: str, count_since: datetime | None = None
                      ) -> tuple[bool, Crew | None, Member | None, tuple[datetime, int] | None]:
        """`first_seen` (True without an event id), the chat's crew and the sender's membership
        of it, and given `count_since` the sender's command counted (`count_command`), as one
        read: the first read of every event, one statement on PostgreSQL, so it stays here
        rather than being split between the events, `crews` and the windows. The unit of work
        then holds the crew (`hold_crew`), before any of its state is read."""
        ...

    async def count_command(self, platform: str, chat_id: str, user_id: str, now: datetime,
                            since: datetime) -> tuple[datetime, int]:
        """Counts a member's command in the chat, for every process: the start and count of
        the member's window, this command included. A window that started on or before `since`
        starts again now. Rolled back with the unit of work."""
        ...

    async def forget_windows(self, since: datetime) -> None:
        """Forgets the members' windows that started on or before `since` (ended ones)."""
        ...

    async def hold_crew(self, crew_id: int) -> None:
        """Waits until no other unit of work, in this process or another, holds this crew,
        then holds it until this one ends: a crew's units of work take turns, each seeing the
        one before it. Every unit of work that changes a crew holds it before reading it."""
        ...

    async def latest_time(self) -> datetime | None:
        """The newest time the game recorded anything, in any aggregate; None on an empty
        database."""
        ...
