"""A small reference model of GAME.md's points, written from the rules, not from bot.rules."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# GAME.md's points table, copied by hand: (reason, level, points).
LISTENING_CIRCLE = ("listening_circle", 1, 1)
ASK = ("ask", 2, 5)
OFFER = ("offer", 2, 5)
MUTUAL_REGARD = ("mutual_regard", 2, 1)
MEETING_MISSED = ("meeting_missed", 3, -5)
CONFLICT_RESOLVED = ("conflict_resolved", 4, 10)
CONFLICT_UNRESOLVED = ("conflict_unresolved", 4, -20)
COOWNERS = ("coowners", 5, 100)
LEVELS = {"listening_circle": 1, "ask": 2, "offer": 2, "mutual_regard": 2,
          "meeting_attended": 3, "meeting_missed": 3, "conflict_resolved": 4,
          "conflict_unresolved": 4, "coowners": 5}
# GAME.md's defaults
CIRCLE_HOURS, ASK_CAP, OFFER_CAP, ATTENDANCE_HOURS, CONFLICT_DAYS = 24, 3, 5, 3, 30
ACCEPT_DAYS = 7


def attended(nth: int) -> tuple[str, int, int]:
    """A member's nth attended meeting in a crew: 1st +1, 2nd +3, every later one +5."""
    return ("meeting_attended", 3, 1 if nth == 1 else 3 if nth == 2 else 5)


Award = tuple[str, str, int]  # (member name, reason, points)


@dataclass
class Circle:
    closes: datetime
    authors: set[str] = field(default_factory=set)
    heard: set[tuple[str, str]] = field(default_factory=set)  # (author, listener)

    def complete(self) -> bool:
        return len(self.authors) >= 2 and all(
            (a, b) in self.heard for a in self.authors for b in self.authors if a != b)


@dataclass
class Meeting:
    ends: datetime
    roster: list[str]
    present: set[str] = field(default_factory=set)


@dataclass
class Conflict:
    a: str
    b: str
    status: str  # proposed | accepted | resolved | unresolved | lapsed
    proposed: datetime
    accepted: datetime | None = None
    apologiser: str | None = None


@dataclass
class Venture:
    owners: list[str]
    confirmed: set[str]


@dataclass
class Model:
    """The crew as GAME.md describes it; `awards` is what its ledger must hold."""

    now: datetime
    members: list[str] = field(default_factory=list)
    awards: list[Award] = field(default_factory=list)
    scored: Counter[tuple[str, str, object]] = field(default_factory=Counter)
    offers: dict[str, tuple[str, str, bool]] = field(default_factory=dict)
    circle: Circle | None = None
    months: set[tuple[int, int]] = field(default_factory=set)
    meeting: Meeting | None = None
    attended_count: Counter[str] = field(default_factory=Counter)
    conflicts: dict[str, Conflict] = field(default_factory=dict)
    ventures: dict[str, Venture] = field(default_factory=dict)
    commands_this_minute: Counter[str] = field(default_factory=Counter)

    @property
    def admin(self) -> str:
        return self.members[0]

    def give(self, who: str, award: tuple[str, int, int]) -> None:
        self.awards.append((who, award[0], award[2]))

    def ledger(self) -> Counter[Award]:
        return Counter(self.awards)

    def totals(self) -> dict[str, int]:
        out = dict.fromkeys(self.members, 0)
        for who, _, points in self.awards:
            out[who] = out.get(who, 0) + points
        return out

    def apply(self, effect: tuple) -> None:
        """Does one step's effect: ("ask", "bob"), ("advance", timedelta(hours=5)), ..."""
        getattr(self, effect[0])(*effect[1:])

    # actions (each assumes the command was accepted; the caller checks that it would be)

    def join(self, who: str) -> None:
        if who not in self.members:
            self.members.append(who)

    def ask(self, who: str) -> None:
        self._capped(who, "ask", ASK_CAP, ASK)

    def offer(self, key: str, who: str, to: str) -> None:
        self.offers[key] = (who, to, False)
        self._capped(who, "offer", OFFER_CAP, OFFER)

    def _capped(self, who: str, kind: str, cap: int, award: tuple[str, int, int]) -> None:
        day = (who, kind, self.now.date())  # the crew plays in UTC
        if self.scored[day] < cap:
            self.scored[day] += 1
            self.give(who, award)

    def thanks(self, key: str) -> None:
        giver, to, _ = self.offers[key]
        self.offers[key] = (giver, to, True)
        self.give(giver, MUTUAL_REGARD)
        self.give(to, MUTUAL_REGARD)

    def checkin(self, who: str) -> None:
        if self.circle is None:
            self.circle = Circle(self.now + timedelta(hours=CIRCLE_HOURS))
        self.circle.authors.add(who)
        self._close_early()

    def listen(self, who: str, author: str) -> None:
        assert self.circle is not None and author in self.circle.authors and who != author
        self.circle.heard.add((author, who))
        self._close_early()

    def _close_early(self) -> None:
        circle = self.circle
        if circle and circle.authors == set(self.members) and circle.complete():
            self._close_circle()

    def _close_circle(self) -> None:
        assert self.circle is not None
        if self.circle.complete():
            for who in sorted(self.circle.authors):
                self.give(who, LISTENING_CIRCLE)
        self.circle = None

    def meeting_now(self) -> None:
        self.months.add((self.now.year, self.now.month))
        self.meeting = Meeting(self.now + timedelta(hours=ATTENDANCE_HOURS), list(self.members))

    def here(self, who: str) -> None:
        assert self.meeting is not None
        self.meeting.present.add(who)

    def _tally(self) -> None:
        assert self.meeting is not None
        for who in self.meeting.roster:
            if who in self.meeting.present:
                self.attended_count[who] += 1
                self.give(who, attended(self.attended_count[who]))
            else:
                self.give(who, MEETING_MISSED)
        self.meeting = None

    def conflict(self, key: str, who: str, other: str) -> None:
        self.conflicts[key] = Conflict(who, other, "proposed", self.now)

    def accept(self, key: str) -> None:
        item = self.conflicts[key]
        item.status, item.accepted = "accepted", self.now

    def apologise(self, key: str, who: str) -> None:
        self.conflicts[key].apologiser = who

    def forgive(self, key: str) -> None:
        item = self.conflicts[key]
        item.status = "resolved"
        self.give(item.a, CONFLICT_RESOLVED)
        self.give(item.b, CONFLICT_RESOLVED)

    def unresolved(self, key: str) -> None:
        item = self.conflicts[key]
        item.status = "unresolved"
        self.give(item.a, CONFLICT_UNRESOLVED)
        self.give(item.b, CONFLICT_UNRESOLVED)

    def coown(self, key: str, who: str, others: list[str]) -> None:
        self.ventures[key] = Venture([who, *others], {who})

    def confirm(self, key: str, who: str) -> None:
        venture = self.ventures[key]
        venture.confirmed.add(who)
        if venture.confirmed == set(venture.owners):
            for owner in venture.owners:
                self.give(owner, COOWNERS)

    # time

    def advance(self, span: timedelta) -> None:
        """Moves time on, doing what falls due on the way in time order."""
        target = self.now + span
        while (due := self._next_due()) is not None and due[0] <= target:
            self.now = max(self.now, due[0])
            due[1]()
        self.now = target
        self.commands_this_minute.clear()

    def _next_due(self) -> tuple[datetime, object] | None:
        timers: list[tuple[datetime, object]] = []
        if self.circle:
            timers.append((self.circle.closes, self._close_circle))
        if self.meeting:
            timers.append((self.meeting.ends, self._tally))
        for item in self.conflicts.values():
            if item.status == "proposed":
                timers.append((item.proposed + timedelta(days=ACCEPT_DAYS),
                               lambda item=item: setattr(item, "status", "lapsed")))
            elif item.status == "accepted":
                assert item.accepted is not None
                timers.append((item.accepted + timedelta(days=CONFLICT_DAYS),
                               lambda item=item: self._deadline(item)))
        return min(timers, key=lambda t: t[0]) if timers else None

    def _deadline(self, item: Conflict) -> None:
        item.status = "unresolved"
        self.give(item.a, CONFLICT_UNRESOLVED)
        self.give(item.b, CONFLICT_UNRESOLVED)
