"""Nothing the crew can read itemizes anyone's entries: /score, /revoke and /export through the
real PTB and discord.py clients against the fakes. Entries go to one person only, by direct
message on Telegram (or a pointer saying how to open one), as an ephemeral answer on Discord."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator

import pytest

from bot.adapters.discord_adapter import ANSWERED_PRIVATELY, DiscordAdapter
from tests import test_care_platforms as care
from tests.fakes.discord_api import EPHEMERAL, FakeDiscord, patched
from tests.test_care_platforms import (
    ALICE,
    BOB,
    D_ALICE,
    D_BOB,
    GENERAL,
    GUILD,
    Discord,
    Telegram,
    points,
    tally,
)

# the fixtures of the care tests: the fakes, and the adapters running against them
tg, telegram, dc, on_discord = care.tg, care.telegram, care.dc, care.on_discord

# words that would itemize an entry; none may reach the group
ENTRY_WORDS = re.compile(r"missed the meeting|asked for help|came to the meeting|/revoke \d|"
                         r"correction of|meeting_missed|entry \d")


def itemized(texts: list[str]) -> list[str]:
    return [t for t in texts if ENTRY_WORDS.search(t)]


async def bob_misses_a_meeting_on_telegram(telegram: Telegram, app, clock) -> None:
    await telegram.say(ALICE, "/join")
    await telegram.say(BOB, "/ask a lift")
    await telegram.say(ALICE, "/meeting now")
    await telegram.say(ALICE, "/here")
    await tally(app, clock, telegram.adapter.deliver)


# Telegram


async def test_telegram_score_shows_entries_only_in_the_private_chat(telegram, tg, any_app,
                                                                     clock):
    await telegram.start_private_chat(ALICE)
    await telegram.start_private_chat(BOB)
    await bob_misses_a_meeting_on_telegram(telegram, any_app, clock)

    # the crew sees what the board shows; nobody's entries
    before = len(tg.sent)
    await telegram.say(BOB, "/score @alice")
    assert telegram.group_texts(before) == [
        "Alice: 1 point. Listening 0 · Money 0 · Consistency 1 · Conflict 0 · Co-owners 0"]
    assert telegram.dms(BOB, before) == [] and telegram.dms(ALICE, before) == []

    # bob's own entries reach his private chat only
    before = len(tg.sent)
    await telegram.say(BOB, "/score")
    assert telegram.group_texts(before) == [
        "Bob: 0 points. Listening 0 · Money 5 · Consistency -5 · Conflict 0 · Co-owners 0"]
    (own,) = telegram.dms(BOB, before)
    assert own.splitlines() == [
        "Your latest entries, for you alone:",
        "- missed the meeting of Mon 2 Nov: -5 (Mon 2 Nov 2026 12:00 UTC)",
        "- asked for help: +5 (Mon 2 Nov 2026 09:00 UTC)"]

    # the admin gets bob's entries with the numbers /revoke takes, privately
    before = len(tg.sent)
    await telegram.say(ALICE, "/score @bob")
    (for_admin,) = telegram.dms(ALICE, before)
    assert "- missed the meeting of Mon 2 Nov: -5 (Mon 2 Nov 2026 12:00 UTC; /revoke " in (
        for_admin)
    assert itemized(telegram.group_texts()) == []


async def test_telegram_score_without_a_private_chat_points_the_way_and_shows_nothing(
        telegram, tg, any_app, clock):
    await bob_misses_a_meeting_on_telegram(telegram, any_app, clock)
    before = len(tg.sent)
    await telegram.say(BOB, "/score")
    assert len(telegram.refused_dms(BOB)) == 2  # the tally's note, then the entries
    total, pointer = telegram.group_texts(before)
    assert total.startswith("Bob: 0 points.")
    assert pointer == ("I can't message you privately yet: open a chat with me (@crewbot) and "
                       "press Start, then send /score again.")
    # an admin asking for bob's entries without a private chat is told the same way
    before = len(tg.sent)
    await telegram.say(ALICE, "/score @bob")
    assert telegram.group_texts(before)[1:] == [
        "I can't message you privately yet: open a chat with me (@crewbot) and press Start, "
        "then send /score @bob again."]
    assert itemized(telegram.group_texts()) == []

    # once bob has opened the chat, asking again works
    await telegram.start_private_chat(BOB)
    before = len(tg.sent)
    await telegram.say(BOB, "/score")
    assert "missed the meeting of Mon 2 Nov" in telegram.dms(BOB, before)[0]


async def test_telegram_revoke_tells_the_admin_and_the_member_alone(telegram, tg, any_app,
                                                                    clock):
    await telegram.start_private_chat(ALICE)
    await telegram.start_private_chat(BOB)
    await bob_misses_a_meeting_on_telegram(telegram, any_app, clock)
    await telegram.say(ALICE, "/score @bob")
    number = tg.sent[-1]["text"].split("/revoke ")[1].split()[0]
    before = len(tg.sent)
    await telegram.say(ALICE, f"/revoke {number}")

    assert telegram.group_texts(before) == ["An admin corrected an entry in the ledger."]
    (admin,) = telegram.dms(ALICE, before)
    assert admin.startswith("Corrected: Bob's entry \u201cmissed the meeting of Mon 2 Nov\u201d "
                            "(-5, Mon 2 Nov 2026 12:00 UTC) is cancelled: +5 recorded")
    (member,) = telegram.dms(BOB, before)
    assert member.startswith("An admin corrected an entry of yours: \u201cmissed the meeting of "
                             "Mon 2 Nov\u201d (-5, ")
    assert member.endswith("Your total is now 5 points.")
    assert itemized(telegram.group_texts()) == []
    assert await points(any_app) == {"Alice": 1, "Bob": 5}


async def test_telegram_export_is_a_direct_message_to_the_admin(telegram, tg, any_app, clock):
    await bob_misses_a_meeting_on_telegram(telegram, any_app, clock)
    # never opened a private chat: the group gets how to, never the file
    before, uploads = len(tg.sent), len(tg.uploads)  # the tally's recap picture is one
    await telegram.say(ALICE, "/export")
    assert len(tg.uploads) == uploads
    assert telegram.group_texts(before) == [
        "I can't message you privately yet: open a chat with me (@crewbot) and press Start, "
        "then send /export again."]

    await telegram.start_private_chat(ALICE)
    before = len(tg.sent)
    await telegram.say(ALICE, "/export")
    (document,) = tg.uploads[uploads:]
    assert document["method"] == "sendDocument" and document["chat_id"] == ALICE["id"]
    assert document["params"]["caption"].startswith("For you alone: the crew's ledger as CSV")
    rows = list(csv.DictReader(io.StringIO(document["content"].decode("utf-8"))))
    assert ("Bob", "missed the meeting of Mon 2 Nov", "meeting_missed", "-5") in [
        (r["name"], r["what"], r["reason"], r["points"]) for r in rows]
    assert telegram.group_texts(before) == []


# Discord


async def test_discord_score_entries_are_ephemeral(on_discord, dc, any_app, clock):
    await on_discord.slash(D_BOB, "ask", text="a lift")
    await on_discord.slash(D_ALICE, "meeting", action="now")
    await on_discord.slash(D_ALICE, "here")
    await tally(any_app, clock, on_discord.adapter.deliver)

    public = await on_discord.slash(D_BOB, "score", member=D_ALICE)
    assert public["data"]["content"].startswith("alice: 1 point.")
    followups = len(dc.calls_of("followup"))
    answer = await on_discord.slash(D_BOB, "score")
    assert answer["data"]["content"].startswith("bob: 0 points.")
    assert not answer["data"].get("flags", 0) & EPHEMERAL
    (own,) = [c.body for c in dc.calls_of("followup")[followups:]]
    assert own["flags"] & EPHEMERAL
    assert own["content"].splitlines()[1] == (
        "- missed the meeting of Mon 2 Nov: -5 (Mon 2 Nov 2026 12:00 UTC)")

    followups = len(dc.calls_of("followup"))
    await on_discord.slash(D_ALICE, "score", member=D_BOB)
    (admin,) = [c.body for c in dc.calls_of("followup")[followups:]]
    assert admin["flags"] & EPHEMERAL and "/revoke " in admin["content"]
    number = admin["content"].split("/revoke ")[1].split()[0]

    revoked = await on_discord.slash(D_ALICE, "revoke", entry=number)
    assert revoked["data"]["content"] == "An admin corrected an entry in the ledger."
    (note,) = on_discord.dm_texts(D_BOB)[-1:]
    assert note.startswith("An admin corrected an entry of yours: \u201cmissed the meeting")
    assert itemized(on_discord.channel_texts()) == []
    assert await points(any_app) == {"alice": 1, "bob": 5}


async def test_discord_export_is_an_ephemeral_attachment(on_discord, dc, any_app):
    await on_discord.slash(D_BOB, "ask", text="a lift")
    answer = await on_discord.slash(D_ALICE, "export")
    assert answer["data"]["flags"] & EPHEMERAL
    (upload,) = dc.uploads()
    assert upload["kind"] == "callback" and upload["filename"].endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(upload["content"].decode("utf-8"))))
    assert [(r["name"], r["what"]) for r in rows if r["record"] == "entry"] == [
        ("bob", "asked for help")]
    assert not any(m.get("attachments") for m in dc.channel_messages(GENERAL))


@pytest.fixture
async def slow_discord(dc, any_app) -> AsyncIterator[Discord]:
    """The adapter as if the database were slow: every answer is deferred first."""
    adapter = DiscordAdapter(any_app.game, dc.token, guild_ids=[GUILD], guild_ready_timeout=0.05,
                             answer_within=0)
    with patched(dc):
        await adapter.start()
        await adapter.client.wait_until_ready()
        try:
            yield Discord(dc, adapter)
        finally:
            await adapter.stop()
    assert adapter.errors == []


async def test_a_deferred_private_answer_stays_private(slow_discord, dc: FakeDiscord):
    await slow_discord.slash(D_BOB, "ask", text="a lift")
    first = await slow_discord.slash(D_ALICE, "export")
    assert first["type"] == 5  # "thinking", shown to the channel
    # the thinking message takes the first follow-up's place whatever its flags: a neutral
    # line fills it, and the file follows for the admin alone
    assert slow_discord.channel_texts()[-1] == ANSWERED_PRIVATELY
    (upload,) = dc.uploads()
    assert upload["kind"] == "followup"
    assert not any(m.get("attachments") for m in dc.channel_messages(GENERAL))
    assert itemized(slow_discord.channel_texts()) == []
