"""Congregations through the real discord.py client against the fake: a knock's invitation is a
one-use channel invite sent by direct message; a decline; a person who takes no direct messages;
the refusals in a lobby channel."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import discord
import pytest

from tests.fakes.discord_api import EPHEMERAL, FakeDiscord
from tests.test_discord import ALICE as D_ALICE
from tests.test_discord import (
    APP,
    GENERAL,
    GUILD,
    OWNER,
    discord_roots,  # noqa: F401 - autouse: discord.py's roots put back
    running,
)
from tests.test_discord import BOB as D_BOB

HALL = 900000000000000102  # the lobby channel
D_BEA = 800000000000000004
D_CAROL = 800000000000000005


@pytest.fixture
async def dc() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(application_id=APP) as fake:
        fake.add_guild(GUILD, "Crew", OWNER)
        organisers = fake.add_role(GUILD, 900000000000000201, "Organisers",
                                   discord.Permissions(manage_channels=True))
        fake.add_channel(GUILD, GENERAL, "general")
        fake.add_channel(GUILD, HALL, "lakeside-lobby")
        fake.add_member(GUILD, OWNER, "olga")
        fake.add_member(GUILD, D_ALICE, "alice", roles=[organisers])
        fake.add_member(GUILD, D_BOB, "bob")
        fake.add_member(GUILD, D_BEA, "bea")
        fake.add_member(GUILD, D_CAROL, "carol")
        yield fake


async def slash_in(dc: FakeDiscord, bot, channel: int, who: int, command: str,
                   **options: str) -> str:
    """A slash command in a channel; the text of the bot's answer."""
    before, done = len(dc.calls_of("callback")), bot.handled
    await dc.dispatch("INTERACTION_CREATE", dc.interaction_command(GUILD, channel, who, command, [
        {"name": k, "type": 3, "value": v} for k, v in options.items()]))
    await bot.wait_handled(done + 1)
    return dc.calls_of("callback")[before].body


async def press(dc: FakeDiscord, bot, message: dict, who: int, label: str) -> dict:
    before, done = len(dc.calls_of("callback")), bot.handled
    rows = message["components"]
    action = next(c["custom_id"] for row in rows for c in row["components"]
                  if c["label"] == label)
    await dc.dispatch("INTERACTION_CREATE", dc.interaction_button(
        GUILD, GENERAL, who, int(message["id"]), action))
    await bot.wait_handled(done + 1)
    return dc.calls_of("callback")[before].body


def dm_text(dc: FakeDiscord, user: int) -> list[str]:
    channel = dc.dm_channels.get(user)
    return [m["content"] for m in dc.channel_messages(channel)] if channel else []


async def discord_knock(dc: FakeDiscord, bot, who: int) -> dict:
    followups = len(dc.calls_of("followup"))
    made = await slash_in(dc, bot, GENERAL, D_ALICE, "congregation", action="create",
                          value="Lakeside")
    assert "started the congregation Lakeside" in made["data"]["content"]
    [code_answer] = [c.body for c in dc.calls_of("followup")[followups:]]
    assert code_answer["flags"] & EPHEMERAL  # the code, to Alice alone
    code = re.search(r"join code of Lakeside is (\w+)", code_answer["content"]).group(1)
    await slash_in(dc, bot, GENERAL, D_ALICE, "settings", name="open", value="yes")
    lobby = await slash_in(dc, bot, HALL, D_ALICE, "congregation", action="lobby", value=code)
    assert "now the lobby of Lakeside" in lobby["data"]["content"]
    await slash_in(dc, bot, HALL, who, "looking", words="New here, I like long walks")
    knocked = await slash_in(dc, bot, HALL, who, "knock", crew="general")
    assert knocked["data"]["flags"] & EPHEMERAL and "I asked general" in knocked["data"][
        "content"]
    await bot.deliver()
    [knock] = [m for m in dc.channel_messages(GENERAL) if "knocks" in m["content"]]
    return knock


async def test_discord_channel_invite_by_direct_message(dc, app):
    async with running(dc, app) as bot:
        knock = await discord_knock(dc, bot, D_BEA)
        refused = await press(dc, bot, knock, D_BOB, "Invite")
        assert refused["data"]["flags"] & EPHEMERAL
        assert "Only a crew admin can answer a knock" in refused["data"]["content"]
        assert dc.invites == []
        done = await press(dc, bot, knock, D_ALICE, "Invite")
        assert "An invitation to this crew went to bea, privately" in done["data"]["content"]
        [invite] = dc.invites
        assert invite["channel"]["id"] == str(GENERAL) and invite["max_uses"] == 1
        [dm] = dm_text(dc, D_BEA)
        assert "general would like to meet you" in dm
        assert f"https://discord.gg/{invite['code']}" in dm
        # her first command in the crew's channel makes her a member and ends her looking
        await slash_in(dc, bot, GENERAL, D_BEA, "join")
        hall = await slash_in(dc, bot, HALL, D_ALICE, "looking")
        assert "Nobody is looking for a crew in Lakeside" in hall["data"]["content"]


async def test_discord_decline_and_a_person_who_takes_no_direct_messages(dc, app):
    async with running(dc, app) as bot:
        knock = await discord_knock(dc, bot, D_CAROL)
        dc.close_dms(D_CAROL)
        await press(dc, bot, knock, D_ALICE, "Invite")
        assert any("I could not reach carol by direct message" in m["content"]
                   for m in dc.channel_messages(GENERAL))
        dc.close_dms(D_CAROL, closed=False)
        await slash_in(dc, bot, HALL, D_CAROL, "knock", crew="general")
        await bot.deliver()
        again = [m for m in dc.channel_messages(GENERAL) if "knocks" in m["content"]][-1]
        await press(dc, bot, again, D_ALICE, "Decline")
        assert dm_text(dc, D_CAROL)[-1] == ("general cannot take you in right now. /crews in "
                                            "the lobby lists other open crews.")
        # a lobby is no crew: game commands there are refused with what to do instead
        refused = await slash_in(dc, bot, HALL, D_BOB, "checkin", text="hello")
        assert "This chat is the lobby of Lakeside" in refused["data"]["content"]


async def test_a_crew_of_the_same_server_joins_without_the_code(dc, app):
    second = 900000000000000103
    dc.add_channel(GUILD, second, "allotment")
    async with running(dc, app) as bot:
        await slash_in(dc, bot, GENERAL, D_ALICE, "congregation", action="create",
                       value="Lakeside")
        joined = await slash_in(dc, bot, second, D_ALICE, "congregation", action="join")
        assert ("allotment joined the congregation Lakeside, beside 1 crew"
                in joined["data"]["content"])
        refused = await slash_in(dc, bot, second, D_BOB, "congregation", action="leave")
        assert refused["data"]["flags"] & EPHEMERAL
        assert "Only a crew admin can take the crew out of its congregation" in refused[
            "data"]["content"]
