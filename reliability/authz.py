"""The authorisation matrix: every admin-only and party-only action tried by a non-member, a
member, the wrong party and the right one, in a crew of its own; a refusal must change no game
table, and the right one must change something (so the refusals are not an accident)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime

from bot.adapters.console_adapter import Console
from bot.app import App
from bot.clock import SimClock
from bot.commands.events import Actor, ButtonPressed, Chat, CommandReceived, Event, ReactionChanged
from reliability.snapshot import snapshot

SETUP = """\
alice: /join
bob: /join
carol: /join
dan: /join
bob: /offer @alice a ride
bob: /checkin hi
alice: /conflict @bob
carol: /conflict @dan
dan: /conflict accept
carol: /apologise sorry
bob: /conflict @dan
dan: /conflict accept
alice: /coown Garden @bob
"""
MEETING = "alice: /meeting now\n"
ROLES = ("non-member", "member", "wrong party", "right one")
REFUSED, ALLOWED, IGNORED = "refused", "allowed", "ignored"


@dataclass(frozen=True)
class Trial:
    action: str
    who_may: str
    make: str  # a command text with {numbers}, or "button {action}", or "react {message}"
    actors: tuple[str | None, str | None, str | None, str]  # by role; None: no such role
    expect: tuple[str, str, str, str] = (REFUSED, REFUSED, REFUSED, ALLOWED)
    meeting: bool = False
    right: str = ""  # what the right one sends instead, if different


TRIALS = (
    Trial("/settings circle_hours 2", "crew admins", "/settings circle_hours 2",
          ("zed", "carol", None, "alice")),
    Trial("/revoke an entry", "crew admins", "/revoke {entry}", ("zed", "carol", "bob", "alice")),
    Trial("/meeting schedule", "crew admins", "/meeting schedule first tuesday 19:00",
          ("zed", "carol", None, "alice")),
    Trial("/meeting now", "crew admins", "/meeting now", ("zed", "carol", None, "alice")),
    Trial("/agreement (record)", "crew admins", "/agreement What is shared here stays here",
          ("zed", "carol", None, "alice")),
    Trial("/conflict accept", "the invited party", "/conflict accept {proposed}",
          ("zed", "carol", "alice", "bob")),
    Trial("Accept button", "the invited party", "button {proposed_button}",
          ("zed", "carol", "alice", "bob")),
    Trial("/apologise", "either party", "/apologise {accepted} sorry",
          ("zed", "carol", None, "bob")),
    Trial("/forgive", "the party who did not apologise", "/forgive {apologised}",
          ("zed", "bob", "carol", "dan")),
    Trial("/conflict unresolved", "either party", "/conflict unresolved {accepted}",
          ("zed", "carol", None, "bob")),
    Trial("/coown confirm", "a named co-owner yet to confirm", "/coown confirm {venture}",
          ("zed", "carol", "alice", "bob")),
    Trial("Confirm button", "a named co-owner yet to confirm", "button {venture_button}",
          ("zed", "carol", "alice", "bob")),
    Trial("/thanks", "the offer's recipient", "/thanks {offer}", ("zed", "carol", "bob", "alice")),
    Trial("Thank you button", "the offer's recipient", "button {offer_button}",
          ("zed", "carol", "bob", "alice")),
    Trial("I listened button", "anyone but the author (a press joins the presser)",
          "button l:{checkin}", ("zed", "carol", "bob", "alice"),
          expect=(ALLOWED, ALLOWED, REFUSED, ALLOWED)),
    Trial("listening reaction", "members but the author", "react {checkin_message}",
          ("zed", "carol", "bob", "alice"), expect=(REFUSED, ALLOWED, IGNORED, ALLOWED)),
    Trial("attendance for someone else (/here @bob)", "only yourself (/here)", "/here @bob",
          ("zed", "carol", None, "bob"), meeting=True, right="/here"),
)
ID = re.compile(r"\((offer|conflict|venture|meeting) (\d+)\)")


@dataclass
class Cell:
    outcome: str
    reply: str


async def setup(app: App, clock: SimClock, room: str, meeting: bool) -> dict[str, str]:
    out = io.StringIO()
    console = Console(app.game, clock, out, room)
    for line in (SETUP + (MEETING if meeting else "")).splitlines():
        await console.feed(line)
    ids: dict[str, str] = {}
    conflicts = []
    for line in out.getvalue().splitlines():
        for kind, number in ID.findall(line):
            if kind == "conflict":
                if number not in conflicts:
                    conflicts.append(number)
            else:
                ids.setdefault(kind, number)
    ids["proposed"], ids["apologised"], ids["accepted"] = conflicts[:3]
    # Buttons carry the item's id in the whole database, not the number members type: the
    # first of each kind here (the first Accept is the first conflict's, the proposed one).
    for shown in console.shown.values():
        for action in shown.buttons:
            kind = {"a": "proposed", "c": "venture", "t": "offer"}.get(action.split(":")[0])
            if kind:
                ids.setdefault(f"{kind}_button", action)
    number = next(int(line[1:].split(" ", 1)[0]) for line in out.getvalue().splitlines()
                  if line.endswith(" bob: /checkin hi"))
    ids["checkin_message"] = console.shown[number].message_id
    async with app.game.uow() as store:
        crew = await store.crews.crew("console", room)
        assert crew is not None
        entries = await store.ledger.ledger(crew.id)
        bob = await store.crews.member(crew.id, "bob")
        assert bob is not None
        ids["entry"] = str(next(e.id for e in entries if e.member_id == bob.id))
        link = await store.outbox.linked(crew.id, ids["checkin_message"])
        assert link is not None and link.kind == "checkin"
        ids["checkin"] = str(link.item_id)
    return ids


def event(trial: Trial, room: str, who: str, ids: dict[str, str], right: bool) -> Event:
    chat = Chat("console", room, room)
    actor = Actor(who, who)
    make = (trial.right if right and trial.right else trial.make).format(**ids)
    if make.startswith("button "):
        return ButtonPressed(chat, actor, action=make.split(" ", 1)[1])
    if make.startswith("react "):
        return ReactionChanged(chat, actor, make.split(" ", 1)[1], "👍", True)
    return CommandReceived(chat, actor, make, message_id=f"{room}-{who}",
                           mentions=tuple(Actor(n, n) for n in re.findall(r"@(\w+)", make)))


async def matrix(app: App, start: datetime) -> list[tuple[Trial, list[Cell | None]]]:
    """Runs every trial in a crew of its own; the right one goes last, as the only one that
    may change something."""
    clock = SimClock(start)
    app.game.clock = clock
    rows = []
    for t, trial in enumerate(TRIALS):
        cells: list[Cell | None] = []
        room = f"authz-{t}"
        ids = await setup(app, clock, room, trial.meeting)
        for r, who in enumerate(trial.actors):
            if who is None:
                cells.append(None)
                continue
            before = await snapshot(app.engine)
            replies = await app.game.handle(event(trial, room, who, ids, r == 3))
            changed = await snapshot(app.engine) != before
            text = " ".join(m.plain() for m in replies)
            outcome = ALLOWED if changed else REFUSED if replies else IGNORED
            cells.append(Cell(outcome, text))
        rows.append((trial, cells))
    return rows


def table(rows: list[tuple[Trial, list[Cell | None]]]) -> str:
    lines = ["| action | who may | " + " | ".join(ROLES) + " |",
             "|---|---|" + "---|" * len(ROLES)]
    for trial, cells in rows:
        shown = []
        for who, cell in zip(trial.actors, cells, strict=True):
            shown.append("—" if cell is None else f"{cell.outcome} ({who})")
        lines.append(f"| {trial.action} | {trial.who_may} | " + " | ".join(shown) + " |")
    return "\n".join(lines)


def mismatches(rows: list[tuple[Trial, list[Cell | None]]]) -> list[str]:
    out = []
    for trial, cells in rows:
        for role, want, cell in zip(ROLES, trial.expect, cells, strict=True):
            if cell is not None and cell.outcome != want:
                out.append(f"{trial.action} by the {role}: {cell.outcome}, not {want}: "
                           f"{cell.reply[:160]}")
    return out
