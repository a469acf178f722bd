"""Care and consent on the platforms: private notes reach one person by direct message or not at
all, never the group; Pass answers the presser alone. The real PTB and discord.py clients run
against the fakes in tests/fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import discord
import pytest
from sqlalchemy import select
from telegram.ext import AIORateLimiter

from bot.adapters.discord_adapter import DiscordAdapter
from bot.adapters.telegram_adapter import TelegramAdapter
from bot.app import App
from bot.clock import SimClock
from storage.models import Base
from tests.conftest import START
from tests.fakes.discord_api import EPHEMERAL, FakeDiscord, patched
from tests.fakes.telegram_api import FakeTelegram

TALLY = START + timedelta(hours=3)  # a meeting held now, at START, is tallied 3 hours later


# The bot's bookkeeping rather than records of anyone: the events already seen (how a
# redelivered update gets no second effect), the members' rate-limit minutes (a press of Pass
# counts towards it like any button, forgotten a minute later) and the send windows.
BOOKKEEPING = {"seen_events", "member_windows", "send_slots"}


async def dump(app: App) -> dict[str, list[tuple]]:
    """Every row of every table of the game, but the bot's BOOKKEEPING."""
    async with app.engine.connect() as conn:
        return {table.name: sorted((tuple(row) for row in await conn.execute(select(table))),
                                   key=repr)
                for table in Base.metadata.sorted_tables if table.name not in BOOKKEEPING}


async def points(app: App) -> dict[str, int]:
    out: dict[str, int] = {}
    for crew in await app.game.export():
        names = {m.id: m.name for m in crew.members}
        for m in crew.members:
            out.setdefault(m.name, 0)
        for e in crew.ledger:
            out[names[e.member_id]] += e.points
    return out


async def tally(app: App, clock: SimClock, deliver: Any) -> None:
    clock.move_to(TALLY)
    await app.game.run_due()
    await deliver()


# Telegram

GROUP = -1001000000001
ALICE = {"id": 101, "is_bot": False, "first_name": "Alice", "username": "alice"}
BOB = {"id": 102, "is_bot": False, "first_name": "Bob", "username": "bob"}
CAROL = {"id": 103, "is_bot": False, "first_name": "Carol"}
DAVE = {"id": 104, "is_bot": False, "first_name": "Dave"}


class Telegram:
    """The Telegram adapter running against the fake; helpers wait for effects, never sleep."""

    def __init__(self, tg: FakeTelegram, app: App) -> None:
        self.tg = tg
        limiter = AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=1)
        self.adapter = TelegramAdapter(app.game, tg.token, builder=tg.application_builder(),
                                       rate_limiter=limiter)

    async def settle(self) -> None:
        await self.tg.wait_idle()
        await self.adapter.app.update_queue.join()

    async def say(self, user: dict, text: str) -> None:
        self.tg.push(self.tg.message(GROUP, user, text))
        await self.settle()

    async def start_private_chat(self, user: dict) -> None:
        """The user opens a private chat with the bot and presses Start."""
        self.tg.push(self.tg.private_message(user, "/start"))
        await self.settle()

    def group_texts(self, since: int = 0) -> list[str]:
        return [s["text"] for s in self.tg.sent[since:] if s["chat_id"] == GROUP]

    def group_captions(self) -> list[str]:
        """Captions of the photos and files sent to the group (a tally carries its recap)."""
        return [u["params"].get("caption", "") for u in self.tg.uploads if u["chat_id"] == GROUP]

    def dms(self, user: dict, since: int = 0) -> list[str]:
        return [s["text"] for s in self.tg.sent[since:] if s["chat_id"] == user["id"]]

    def refused_dms(self, user: dict) -> list[Any]:
        return [r for r in self.tg.requests if r.method == "sendMessage"
                and r.params.get("chat_id") == user["id"]]


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(bot_username="crewbot") as fake:
        fake.add_chat(GROUP, title="Garden crew")
        fake.set_bot_admin(GROUP)
        fake.set_admin(GROUP, ALICE)
        yield fake


@pytest.fixture
async def telegram(tg, any_app) -> AsyncIterator[Telegram]:
    running = Telegram(tg, any_app)
    await running.adapter.start()
    await tg.wait_call("getUpdates")
    try:
        yield running
    finally:
        await running.adapter.stop()
    assert running.adapter.errors == []


async def a_telegram_meeting_bob_and_carol_miss(telegram: Telegram) -> None:
    for user in (ALICE, BOB, CAROL):
        await telegram.say(user, "/join")
    await telegram.say(ALICE, "/meeting now")
    await telegram.say(ALICE, "/here")


async def test_telegram_tally_note_goes_to_the_private_chat_of_the_absent_member(
        telegram, tg, any_app, clock):
    await telegram.start_private_chat(BOB)
    await a_telegram_meeting_bob_and_carol_miss(telegram)
    before = len(tg.sent)
    await tally(any_app, clock, telegram.adapter.deliver)

    (note,) = telegram.dms(BOB, before)
    assert note.startswith("We missed you at the meeting of Mon 2 Nov 2026 09:00 UTC. As this "
                           "crew plays it, a missed meeting costs 5 points.")
    assert telegram.group_texts(before) + telegram.group_captions() == [
        "Meeting of Mon 2 Nov 2026 09:00 UTC tallied. Present: Alice (+1). 2 members could not "
        "make it this time."]
    assert not any("missed you" in text for text in telegram.group_texts())
    assert await any_app.game.pending_posts("telegram") == []
    assert await points(any_app) == {"Alice": 1, "Bob": -5, "Carol": -5}


async def test_telegram_tally_note_for_a_member_without_a_private_chat_is_dropped(
        telegram, tg, any_app, clock):
    await a_telegram_meeting_bob_and_carol_miss(telegram)
    before = len(tg.sent)
    await tally(any_app, clock, telegram.adapter.deliver)

    # the bot tried to tell Carol (and Bob) alone; Telegram refused (403): nothing else happens
    assert len(telegram.refused_dms(CAROL)) == 1 and telegram.dms(CAROL) == []
    assert len(telegram.refused_dms(BOB)) == 1 and telegram.dms(BOB) == []
    group = telegram.group_texts(before) + telegram.group_captions()
    assert len(group) == 1 and "tallied" in group[0]
    assert not any(name in text for text in group for name in ("Bob", "Carol", "@bob"))
    assert len(tg.sent) == before and len(tg.uploads) == 1
    # dropped, not retried: a later tick sends nothing more
    await telegram.adapter.deliver()
    assert len(tg.sent) == before and len(tg.uploads) == 1
    assert len(telegram.refused_dms(CAROL)) == 1


async def test_telegram_unresolved_repair_tells_each_party_alone(telegram, tg, any_app):
    await telegram.start_private_chat(BOB)
    await telegram.say(ALICE, "/join")
    await telegram.say(BOB, "/conflict @alice")
    await telegram.say(ALICE, "/conflict accept")
    before = len(tg.sent)
    await telegram.say(BOB, "/conflict unresolved")

    assert telegram.group_texts(before) == [
        "A repair (conflict 1) was declared unresolved. It still matters; you can always talk "
        "again."]
    (note,) = telegram.dms(BOB, before)
    assert "costs each of you 20 points" in note
    # Alice never opened a private chat: her note is dropped, and she is not the one acting,
    # so the group hears nothing about it
    assert len(telegram.refused_dms(ALICE)) == 1
    assert await points(any_app) == {"Alice": -20, "Bob": -20}



async def test_telegram_own_note_without_a_private_chat_leaves_only_a_pointer(telegram, tg,
                                                                              any_app):
    await telegram.say(ALICE, "/join")
    await telegram.say(BOB, "/conflict @alice")
    await telegram.say(ALICE, "/conflict accept")
    before = len(tg.sent)
    await telegram.say(BOB, "/conflict unresolved")

    assert len(telegram.refused_dms(ALICE)) == 1 and len(telegram.refused_dms(BOB)) == 1
    public, pointer = telegram.group_texts(before)
    assert public.startswith("A repair (conflict 1) was declared unresolved.")
    # the one acting learns there is something for them; the group learns nothing of what
    assert pointer == ("I have a private note for you but can't message you yet: open a chat "
                       "with me (@crewbot) and press Start; private notes will reach you there.")
    assert "20" not in pointer and "conflict" not in pointer
    assert len(tg.sent) == before + 2

async def test_telegram_pass_is_answered_to_the_presser_alone_and_records_nothing(
        telegram, tg, any_app):
    await telegram.say(ALICE, "/checkin hello")
    checkin = tg.sent_messages[-1]
    rows = checkin["reply_markup"]["inline_keyboard"]
    data = next(b["callback_data"] for row in rows for b in row if b["text"] == "Pass")
    before, sent = await dump(any_app), len(tg.sent)
    tg.push(tg.callback(GROUP, DAVE, checkin["message_id"], data))
    await telegram.settle()
    (answer,) = await tg.wait_answered()
    assert answer["text"] == "You passed; nothing is recorded. Join in whenever you like."
    assert answer.get("show_alert") is True
    assert len(tg.sent) == sent  # nothing in the group
    assert await dump(any_app) == before  # Dave did not even join
    assert await points(any_app) == {"Alice": 0}


# Discord

APP = 1300000000000000001
GUILD = 900000000000000001
GENERAL = 900000000000000101
OWNER = 800000000000000001
D_ALICE = 800000000000000002
D_BOB = 800000000000000003
D_CAROL = 800000000000000004


class Discord:
    def __init__(self, dc: FakeDiscord, adapter: DiscordAdapter) -> None:
        self.dc, self.adapter = dc, adapter

    async def slash(self, who: int, command: str, **options: Any) -> dict:
        """Invokes a slash command, waits until it is handled, returns the first answer."""
        before, done = len(self.dc.calls_of("callback")), self.adapter.handled
        types = {"member": 6, "conflict": 4, "entry": 4}
        payload = self.dc.interaction_command(GUILD, GENERAL, who, command, [
            {"name": k, "type": types.get(k, 3), "value": str(v)} for k, v in options.items()])
        await self.dc.dispatch("INTERACTION_CREATE", payload)
        await self.adapter.wait_handled(done + 1)
        return self.dc.calls_of("callback")[before].body

    def dm_texts(self, user: int) -> list[str]:
        """What reached the user's DM channel."""
        channel = self.dc.dm_channels.get(user)
        if channel is None:
            return []
        return [c.body["content"] for c in self.dc.calls_of("message")
                if c.params["channel"] == str(channel.id)]

    def channel_texts(self) -> list[str]:
        """Everything anyone can see in the crew's channel."""
        return [m.get("content", "") for m in self.dc.channel_messages(GENERAL)]


@pytest.fixture
async def dc() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(application_id=APP) as fake:
        fake.add_guild(GUILD, "Crew", OWNER)
        organisers = fake.add_role(GUILD, 900000000000000201, "Organisers",
                                   discord.Permissions(manage_channels=True))
        fake.add_channel(GUILD, GENERAL, "general")
        fake.add_member(GUILD, OWNER, "olga")
        fake.add_member(GUILD, D_ALICE, "alice", roles=[organisers])
        fake.add_member(GUILD, D_BOB, "bob")
        fake.add_member(GUILD, D_CAROL, "carol")
        yield fake


@pytest.fixture
async def on_discord(dc, any_app) -> AsyncIterator[Discord]:
    adapter = DiscordAdapter(any_app.game, dc.token, guild_ids=[GUILD], guild_ready_timeout=0.05)
    with patched(dc):
        await adapter.start()
        await adapter.client.wait_until_ready()
        try:
            yield Discord(dc, adapter)
        finally:
            await adapter.stop()
    assert adapter.errors == []


async def a_discord_meeting_bob_misses(on_discord: Discord) -> None:
    await on_discord.slash(D_BOB, "join")
    await on_discord.slash(D_ALICE, "meeting", action="now")
    await on_discord.slash(D_ALICE, "here")


async def test_discord_tally_note_is_a_direct_message(on_discord, dc, any_app, clock):
    await a_discord_meeting_bob_misses(on_discord)
    await tally(any_app, clock, on_discord.adapter.deliver)

    (opened,) = dc.calls_of("dm_channel")
    assert opened.body["recipient_id"] in (D_BOB, str(D_BOB))
    (note,) = on_discord.dm_texts(D_BOB)
    assert note.startswith("We missed you at the meeting of Mon 2 Nov 2026 09:00 UTC.")
    assert "a missed meeting costs 5 points" in note
    seen = on_discord.channel_texts()
    assert seen[-1] == ("Meeting of Mon 2 Nov 2026 09:00 UTC tallied. Present: alice (+1). "
                        "1 member could not make it this time.")
    assert not any("missed you" in text or "bob" in text.lower() for text in seen[-1:])
    assert not any("missed you" in text for text in seen)
    assert await any_app.game.pending_posts("discord") == []
    assert await points(any_app) == {"alice": 1, "bob": -5}


async def test_discord_refused_dm_is_dropped_without_a_channel_post(on_discord, dc, any_app,
                                                                    clock):
    dc.close_dms(D_BOB)
    await a_discord_meeting_bob_misses(on_discord)
    posted = len(on_discord.channel_texts())
    await tally(any_app, clock, on_discord.adapter.deliver)

    refused = [c for c in dc.calls_of("message", failed=True) if not c.ok]
    assert len(refused) == 1 and "We missed you" in refused[0].body["content"]
    assert on_discord.dm_texts(D_BOB) == []
    new = on_discord.channel_texts()[posted:]
    assert len(new) == 1 and "tallied" in new[0] and "bob" not in new[0].lower()
    assert await any_app.game.pending_posts("discord") == []  # dropped, not retried
    await on_discord.adapter.deliver()
    assert len([c for c in dc.calls_of("message", failed=True) if not c.ok]) == 1


async def test_discord_dm_failing_for_another_reason_is_retried_and_blocks_nothing(
        on_discord, dc, any_app, clock):
    await a_discord_meeting_bob_misses(on_discord)
    dc.fail_next("POST", r"/users/@me/channels", times=1, status=400)
    posted = len(on_discord.channel_texts())
    await tally(any_app, clock, on_discord.adapter.deliver)  # must not raise

    new = on_discord.channel_texts()[posted:]
    assert len(new) == 1 and "tallied" in new[0]  # the crew's post went out all the same
    assert on_discord.dm_texts(D_BOB) == []
    await on_discord.adapter.deliver()  # the next tick tries the note again
    (note,) = on_discord.dm_texts(D_BOB)
    assert note.startswith("We missed you")
    assert await any_app.game.pending_posts("discord") == []


async def test_discord_unresolved_repair_notes_are_a_dm_and_an_ephemeral_reply(
        on_discord, dc, any_app):
    await on_discord.slash(D_BOB, "join")
    await on_discord.slash(D_ALICE, "conflict", member=D_BOB)
    await on_discord.slash(D_BOB, "conflict", action="accept")
    followups = len(dc.calls_of("followup"))
    answer = await on_discord.slash(D_BOB, "conflict", action="unresolved")

    assert answer["data"]["content"] == ("A repair (conflict 1) was declared unresolved. It "
                                         "still matters; you can always talk again.")
    assert not answer["data"].get("flags", 0) & EPHEMERAL
    # the other party hears it by DM; the one acting sees it only for themselves
    (alice_note,) = on_discord.dm_texts(D_ALICE)
    assert "costs each of you 20 points" in alice_note
    (own,) = [c.body for c in dc.calls_of("followup")[followups:]]
    assert own["flags"] & EPHEMERAL and "costs each of you 20 points" in own["content"]
    assert on_discord.dm_texts(D_BOB) == []
    assert not any("20 points" in text for text in on_discord.channel_texts())
    assert await points(any_app) == {"alice": -20, "bob": -20}


async def test_discord_pass_is_ephemeral_and_records_nothing(on_discord, dc, any_app):
    answer = await on_discord.slash(D_ALICE, "money")
    rows = answer["data"]["components"]
    custom_id = next(c["custom_id"] for row in rows for c in row["components"]
                     if c["label"] == "Pass")
    content = answer["data"]["content"]
    message = next(int(mid) for mid, m in reversed(list(dc.messages.items()))
                   if m.get("content") == content)
    before, calls = await dump(any_app), len(dc.calls_of("callback"))
    done = on_discord.adapter.handled
    await dc.dispatch("INTERACTION_CREATE", dc.interaction_button(
        GUILD, GENERAL, D_CAROL, message, custom_id))
    await on_discord.adapter.wait_handled(done + 1)

    (reply,) = [c.body for c in dc.calls_of("callback")[calls:]]
    assert reply["data"]["flags"] & EPHEMERAL
    assert reply["data"]["content"] == ("You passed; nothing is recorded. Join in whenever you "
                                        "like.")
    assert await dump(any_app) == before  # carol did not even join
    assert await points(any_app) == {"alice": 0}

