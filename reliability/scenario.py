"""Random games: steps a crew could play, each applied to the reference model as GAME.md says."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from reliability.model import Model

MEMBERS = ("alice", "bob", "carol", "dan")
SPANS = {"1m": timedelta(minutes=1), "20m": timedelta(minutes=20), "2h": timedelta(hours=2),
         "5h": timedelta(hours=5), "1d": timedelta(days=1), "3d": timedelta(days=3),
         "8d": timedelta(days=8), "16d": timedelta(days=16)}
RATE_HEADROOM = 15  # commands a member sends before the game lets a minute pass (limit: 20)


@dataclass(frozen=True)
class Step:
    """One thing a member (or time) does. `text` may name earlier items as {key}; `key` names
    the item this step creates, whose id the bot's reply tells."""

    kind: str  # say | listen | advance
    who: str = ""
    text: str = ""
    key: str = ""
    author: str = ""  # listen: whose check-in
    via: str = ""  # listen: "button" or an emoji
    valid: bool = True  # False: the bot must refuse it and change nothing
    effect: tuple = ()  # what the reference model does for it: (method, *arguments)

    def line(self, ids: dict[str, int] | None = None) -> str:
        """The step as a console line, with `ids` filled in (listen needs the driver's ref)."""
        if self.kind == "advance":
            return f":advance {self.text}"
        return f"{self.who}: {fill(self.text, ids or {})}"


def fill(text: str, ids: dict[str, int]) -> str:
    for key, number in ids.items():
        text = text.replace("{" + key + "}", str(number))
    return text


class Game:
    """Draws a random game step by step, keeping the reference model in step with it."""

    def __init__(self, seed: int, start: datetime, members: tuple[str, ...] = MEMBERS,
                 invalid_share: float = 0.15) -> None:
        self.rng = random.Random(seed)
        self.model = Model(start)
        self.members = members
        self.invalid_share = invalid_share
        self.n = 0
        self.steps: list[Step] = []

    def play(self, count: int) -> list[Step]:
        for who in self.members:
            self._say(who, "/join", ("join", who))
        while len(self.steps) < count:
            self._one()
        return self.steps

    # drawing

    def _one(self) -> None:
        self.n += 1
        m, rng = self.model, self.rng
        if rng.random() < self.invalid_share:
            return self._invalid()
        options: list[Callable[[], None]] = [self._ask, self._offer, self._checkin, self._checkin,
                                             self._conflict, self._coown, self._advance]
        if any(not thanked for _, _, thanked in m.offers.values()):
            options.append(self._thanks)
        if m.circle and m.circle.authors:
            options += [self._listen] * 3
        if m.meeting is None and (m.now.year, m.now.month) not in m.months:
            options.append(self._meeting)
        if m.meeting and m.now < m.meeting.ends:
            options += [self._here] * 2
        if any(c.status in ("proposed", "accepted") for c in m.conflicts.values()):
            options += [self._conflict_step] * 3
        if any(v.confirmed != set(v.owners) for v in m.ventures.values()):
            options += [self._confirm] * 2
        rng.choice(options)()

    def _say(self, who: str, text: str, effect: tuple = (), key: str = "",
             valid: bool = True) -> None:
        if self.model.commands_this_minute[who] >= RATE_HEADROOM:
            self._span("1m")
        self.model.commands_this_minute[who] += 1
        self.steps.append(Step("say", who, text, key=key, valid=valid,
                               effect=effect if valid else ()))
        if effect and valid:
            self.model.apply(effect)

    def _span(self, label: str) -> None:
        self.steps.append(Step("advance", text=label, effect=("advance", SPANS[label])))
        self.model.apply(("advance", SPANS[label]))

    def _anyone(self, but: str | None = None) -> str:
        return self.rng.choice([w for w in self.model.members if w != but])

    def _ask(self) -> None:
        who = self._anyone()
        self._say(who, f"/ask thing {self.n}", ("ask", who))

    def _offer(self) -> None:
        who = self._anyone()
        to = self._anyone(but=who)
        key = f"o{self.n}"
        self._say(who, f"/offer @{to} help {self.n}", ("offer", key, who, to),
                  key=key)

    def _thanks(self) -> None:
        key = self.rng.choice([k for k, (_, _, done) in self.model.offers.items() if not done])
        _, to, _ = self.model.offers[key]
        self._say(to, f"/thanks {{{key}}}", ("thanks", key))

    def _checkin(self) -> None:
        who = self._anyone()
        self._say(who, f"/checkin feeling {self.n}", ("checkin", who))

    def _listen(self) -> None:
        assert self.model.circle is not None
        author = self.rng.choice(sorted(self.model.circle.authors))
        who = self._anyone(but=author)
        via = self.rng.choice(["button", "👍", "❤"])
        if via == "button":  # a button press is a command; a reaction is not
            if self.model.commands_this_minute[who] >= RATE_HEADROOM:
                self._span("1m")
                if self.model.circle is None or author not in self.model.circle.authors:
                    return
            self.model.commands_this_minute[who] += 1
        self.steps.append(Step("listen", who, author=author, via=via,
                               effect=("listen", who, author)))
        self.model.apply(("listen", who, author))

    def _meeting(self) -> None:
        self._say(self.model.admin, "/meeting now", ("meeting_now",))

    def _here(self) -> None:
        who = self._anyone()
        self._say(who, "/here", ("here", who))

    def _conflict(self) -> None:
        who = self._anyone()
        other = self._anyone(but=who)
        busy = any(c.status in ("proposed", "accepted") and {c.a, c.b} == {who, other}
                   for c in self.model.conflicts.values())
        key = f"c{self.n}"
        self._say(who, f"/conflict @{other}",
                  ("conflict", key, who, other), key=key, valid=not busy)

    def _conflict_step(self) -> None:
        m = self.model
        key = self.rng.choice([k for k, c in m.conflicts.items()
                               if c.status in ("proposed", "accepted")])
        item = m.conflicts[key]
        if item.status == "proposed":
            return self._say(item.b, f"/conflict accept {{{key}}}", ("accept", key))
        if item.apologiser is None:
            if self.rng.random() < 0.2:
                who = self.rng.choice([item.a, item.b])
                return self._say(who, f"/conflict unresolved {{{key}}}",
                                 ("unresolved", key))
            who = self.rng.choice([item.a, item.b])
            return self._say(who, f"/apologise {{{key}}} I am sorry {self.n}",
                             ("apologise", key, who))
        other = item.b if item.apologiser == item.a else item.a
        self._say(other, f"/forgive {{{key}}}", ("forgive", key))

    def _coown(self) -> None:
        who = self._anyone()
        others = self.rng.sample([w for w in self.model.members if w != who],
                                 self.rng.choice([1, 2]))
        key = f"v{self.n}"
        self._say(who, f"/coown Venture {self.n} " + " ".join(f"@{o}" for o in others),
                  ("coown", key, who, others), key=key)

    def _confirm(self) -> None:
        m = self.model
        key = self.rng.choice([k for k, v in m.ventures.items() if v.confirmed != set(v.owners)])
        who = self.rng.choice(sorted(set(m.ventures[key].owners) - m.ventures[key].confirmed))
        self._say(who, f"/coown confirm {{{key}}}", ("confirm", key, who))

    def _advance(self) -> None:
        self._span(self.rng.choice(list(SPANS)))

    def _invalid(self) -> None:
        """Something the bot must refuse without changing anything."""
        m, rng = self.model, self.rng
        admin = m.admin
        choices: list[tuple[str, str]] = [
            (self._anyone(but=admin), "/settings ask_cap 1"),
            (self._anyone(but=admin), "/meeting now"),
            (self._anyone(but=admin), "/revoke 1"),
            (self._anyone(), "/ask"),
            (self._anyone(), "/nonsense at all"),
            (self._anyone(), "/forgive 99999999"),
            (self._anyone(), "/thanks 99999999"),
            (admin, "/revoke 99999999"),
            (admin, "/settings circle_hours 999"),
            (self._anyone(), "/offer @nobody_here a thing"),
        ]
        open_offers = [(k, v) for k, v in m.offers.items() if not v[2]]
        if open_offers:
            key, (_, to, _) = rng.choice(open_offers)
            choices.append((self._anyone(but=to), f"/thanks {{{key}}}"))
        for key, item in m.conflicts.items():
            if item.status == "proposed":
                choices.append((item.a, f"/conflict accept {{{key}}}"))
            if item.status == "accepted" and item.apologiser:
                choices.append((item.apologiser, f"/forgive {{{key}}}"))
            outsiders = [w for w in m.members if w not in (item.a, item.b)]
            if item.status == "accepted" and outsiders:
                choices.append((rng.choice(outsiders), f"/conflict unresolved {{{key}}}"))
        for key, venture in m.ventures.items():
            outsiders = [w for w in m.members if w not in venture.owners]
            if outsiders and venture.confirmed != set(venture.owners):
                choices.append((rng.choice(outsiders), f"/coown confirm {{{key}}}"))
        who, text = rng.choice(choices)
        self._say(who, text, valid=False)
