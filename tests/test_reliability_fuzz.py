"""Bad input, fuzzed with hypothesis: odd unicode, markup, @everyone, unknown users, ids and
messages that don't exist, commands that must be refused. No input crashes the bot or gets the
"something went wrong" apology; every command is answered; an invalid one changes nothing (every
game table compared before and after); the ledger's invariant holds at the end."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.adapters import discord_adapter, telegram_adapter
from bot.adapters.console_adapter import Console
from bot.app import App, open_app
from bot.clock import SimClock
from bot.commands.events import (
    Actor,
    ButtonPressed,
    Chat,
    CommandReceived,
    Event,
    MemberLeft,
    Mention,
    Message,
    ReactionChanged,
)
from bot.commands.game import APOLOGY
from bot.commands.registry import load
from reliability.check import census
from reliability.snapshot import snapshot
from tests.conftest import START

# python -m reliability.soak runs these with many more examples, and random ones
EXAMPLES = int(os.environ.get("RELIABILITY_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                derandomize=not os.environ.get("RELIABILITY_FUZZ_EXAMPLES"),
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
CHAT = Chat("console", "crew", "crew")
SETUP = """\
alice: /join
bob: /join
carol: /join
alice: /settings rate_limit 0
alice: /checkin glad
bob: /checkin tired
alice: /ask a lift
bob: /offer @alice a ride
alice: /conflict @bob
carol: /coown Garden @alice
alice: /meeting now
"""
BIG_ID = st.integers(min_value=10**7, max_value=2**63).map(str)

# Odd text: any unicode (NUL and lone surrogates too), markup, mentions and directions.
ODD = st.text(st.characters(exclude_categories=["Cs"]), max_size=60) | st.sampled_from([
    "@everyone", "@here", "<b>bold</b>", "<@&1>", "<@123>", "```code```", "\u202eevil",
    "\u200b", "\x00", "a\x00b", "\ud800", "x\udcff\udcfe", "💥" * 50, "ﷺ" * 20, "\n\n",
    "' OR 1=1 --", "%s%n{0}", "../../etc/passwd", "-1", "0", "1e9", "NaN", "#1", "^alice"])


@dataclass
class World:
    loop: asyncio.AbstractEventLoop
    app: App

    def run(self, work):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(work)

    def handle(self, event: Event) -> list[Message]:
        return self.run(self.app.game.handle(event))

    def snap(self) -> dict:
        return self.run(snapshot(self.app.engine))


@pytest.fixture
def world(db_url) -> Iterator[World]:
    loop = asyncio.new_event_loop()
    clock = SimClock(START)
    app = loop.run_until_complete(open_app(db_url, clock))
    console = Console(app.game, clock, io.StringIO())
    for line in SETUP.splitlines():
        loop.run_until_complete(console.feed(line))
    assert "The meeting has started." in console.out.getvalue()  # type: ignore[attr-defined]
    try:
        yield World(loop, app)
        found = loop.run_until_complete(census(db_url))
        assert found.problems == []
    finally:
        loop.run_until_complete(app.close())
        loop.close()


def actor(name: str, admin: bool | None = None) -> Actor:
    return Actor(name, name, is_admin=admin)


def outsider() -> st.SearchStrategy[Actor]:
    """Someone the crew has never seen, with any name at all."""
    return st.builds(lambda uid, name: Actor(f"x{uid}", name), st.integers(0, 10**9), ODD)


def must_refuse() -> st.SearchStrategy[tuple[Actor, str]]:
    """(who, command text) pairs GAME.md says must be refused."""
    member = st.sampled_from(["bob", "carol"]).map(actor)
    anyone = member | outsider()
    unknown_name = ODD.filter(lambda w: w.strip() and "/" not in w).map(
        lambda w: "zz" + "".join(w.split())[:20]).filter(lambda w: w.lower() not in load())
    return st.one_of(
        st.tuples(anyone, st.builds(lambda n, a: f"/{n} {a}", unknown_name, ODD)),
        st.tuples(member, st.builds(lambda n, v: f"/settings {n} {v}",
                                    st.sampled_from(["mode", "ask_cap", "timezone", "nope"]),
                                    ODD)),
        st.tuples(member, st.builds(lambda i: f"/revoke {i}", BIG_ID | ODD)),
        st.tuples(member, st.builds(lambda r: f"/meeting schedule {r}", ODD)),
        st.tuples(member, st.just("/meeting now")),
        st.tuples(member, st.builds(lambda t: f"/agreement x{t}", ODD)),
        st.tuples(anyone, st.builds(lambda v, i: f"{v} {i}", st.sampled_from(
            ["/thanks", "/forgive", "/apologise", "/conflict accept", "/conflict unresolved",
             "/coown confirm"]), BIG_ID)),
        st.tuples(anyone, st.builds(lambda t: f"/offer @nobody{t.split()[0] if t.split() else ''}"
                                              f" {t}", ODD)),
        st.tuples(anyone, st.sampled_from(["/ask", "/ask    ", "/checkin", "/reflect",
                                           "/offer", "/conflict", "/coown drop", "/coown withdraw",
                                           "/here now"])),
        st.tuples(anyone, st.builds(lambda c, t: f"/{c} " + "é" * 2001 + t,
                                    st.sampled_from(["checkin", "ask", "reflect", "money"]), ODD)),
        st.tuples(st.just(actor("alice")), st.just("/meeting now")),  # one a month
        st.tuples(st.just(actor("alice")), st.builds(lambda v: f"/settings circle_hours {v}",
                                                      st.integers(169, 10**12).map(str))),
    )


@FUZZ
@given(case=must_refuse())
def test_a_command_that_must_be_refused_is_answered_and_changes_nothing(world, case):
    who, text = case
    before = world.snap()
    replies = world.handle(CommandReceived(CHAT, who, text, message_id="m-fuzz"))
    assert replies, text
    assert all(APOLOGY not in r.plain() for r in replies), text
    assert world.snap() == before, text


@FUZZ
@given(event=st.one_of(
    st.builds(ReactionChanged, st.just(CHAT), st.sampled_from(["alice", "bob"]).map(actor)
              | outsider(), ODD.map(lambda t: "no-such-message" + t), ODD, st.booleans()),
    st.builds(ReactionChanged, st.just(Chat("telegram", "-42")), outsider(), ODD, ODD,
              st.booleans()),
    st.builds(MemberLeft, st.just(CHAT), ODD.map(lambda t: "x" + t)),
    st.builds(MemberLeft, st.just(Chat("discord", "404")), ODD),
    st.builds(ButtonPressed, st.just(CHAT), outsider() | st.just(actor("bob")),
              action=st.one_of(ODD, st.builds(lambda c, i: f"{c}:{i}",
                                              st.sampled_from("ltahcpz"), BIG_ID))),
    st.builds(ButtonPressed, st.just(CHAT), outsider(), message_id=ODD, label=ODD),
))
def test_a_platform_event_about_unknown_things_changes_nothing(world, event):
    before = world.snap()
    replies = world.handle(event)
    assert all(APOLOGY not in r.plain() for r in replies), event
    if isinstance(event, ButtonPressed) and not (event.action or "").startswith("p:"):
        assert replies, event  # a press is always answered
    assert world.snap() == before, event


LINE = st.one_of(
    st.builds(lambda n, t: f"{n}: {t}", st.sampled_from(["alice", "bob", "dora", "ǝʌǝ"]),
              st.builds(lambda c, t: f"/{c} {t}", st.sampled_from(sorted(load())), ODD)),
    st.builds(lambda n, e, r: f"{n} reacts {e} {r}", st.sampled_from(["bob", "dora"]),
              ODD.filter(lambda e: e.strip() and " " not in e), st.sampled_from(
                  ["#1", "#2", "#99999", "^alice", "^bot", "^nobody"])),
    st.builds(lambda n, lbl, r: f'{n} presses "{lbl}" {r}', st.sampled_from(["bob", "dora"]),
              st.sampled_from(["I listened", "Thank you", "Accept", "Confirm", "Pass", "x"]),
              st.sampled_from(["#1", "#5", "^bot", "^alice", "#0"])),
    ODD,
)


@FUZZ
@given(line=LINE)
def test_any_console_line_is_answered_without_a_crash(world, line):
    out = io.StringIO()
    console = Console(world.app.game, SimClock(START), out)
    world.run(console.feed(line))
    printed = out.getvalue()
    assert "failed on my side" not in printed and APOLOGY not in printed, line
    if line.strip() and not line.lstrip().startswith("#"):
        said = printed.splitlines()
        member_said = any(s.startswith("#") and " bot: " not in s for s in said)
        assert (" bot: " in printed if member_said and ": /" in line.split("\n")[0] else
                True), (line, printed)


@FUZZ
@given(who=outsider() | st.sampled_from(["alice", "bob"]).map(actor),
       command=st.sampled_from(["checkin", "ask", "reflect", "money", "money keep", "agreement",
                                "apologise", "leaderboard", "score", "join", "help", "mydata",
                                "away", "offer @bob", "coown", "conflict"]),
       text=ODD)
def test_odd_text_in_a_real_command_is_kept_or_refused_never_a_crash(world, who, command, text):
    replies = world.handle(CommandReceived(CHAT, who, f"/{command} {text}", message_id="m-odd"))
    assert replies, (command, text)
    assert all(APOLOGY not in r.plain() for r in replies), (command, text)


@settings(max_examples=EXAMPLES * 3, deadline=None, derandomize=FUZZ.derandomize)
@given(parts=st.lists(ODD | st.builds(Mention, st.sampled_from(["1", "22", "x"]), ODD),
                      max_size=200))
def test_rendering_any_message_stays_within_limits_and_pings_no_one_else(parts):
    message = Message(tuple(parts))
    chunks, _, _ = telegram_adapter.render(message)
    assert all(len(c) <= telegram_adapter.TEXT_LIMIT for c in chunks)
    pieces, allowed = discord_adapter.render(message)
    assert all(len(c) <= discord_adapter.TEXT_LIMIT for c in pieces)
    assert allowed.everyone is False and allowed.roles is False
    pinged = {str(u.id) for u in allowed.users} if isinstance(allowed.users, list) else set()
    assert pinged <= {p.user_id for p in parts if isinstance(p, Mention)}
