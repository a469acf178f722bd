"""The fake Discord REST API and gateway, driven by the real discord.py Client and CommandTree."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.fakes.discord_api import (
    EPHEMERAL,
    FakeDiscord,
    patched,
    run_client,
)

APP = 1300000000000000001
GUILD = 900000000000000001
GENERAL = 900000000000000101
LOCKED = 900000000000000102
ORGANISERS = 900000000000000201
OWNER = 800000000000000001
ALICE = 800000000000000002
BOB = 800000000000000003


class _Collect(logging.Handler):
    """Keeps discord.py's ERROR log records: errors it only logs (views, dynamic items, tasks)."""

    def __init__(self, found: list[BaseException | str]) -> None:
        super().__init__(logging.ERROR)
        self.found = found

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        self.found.append(error or record.getMessage())


@pytest.fixture
def errors() -> Iterator[list[BaseException | str]]:
    """Exceptions from the bot's handlers; the test fails on any it did not expect."""
    found: list[BaseException | str] = []
    handler = _Collect(found)
    logger = logging.getLogger("discord")
    logger.addHandler(handler)
    yield found
    logger.removeHandler(handler)
    assert not found, f"errors in discord.py handlers: {found!r}"


@pytest.fixture
async def dc() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(application_id=APP) as fake:
        fake.add_guild(GUILD, "Crew", OWNER)
        organisers = fake.add_role(
            GUILD, ORGANISERS, "Organisers",
            discord.Permissions(manage_channels=True, manage_guild=True),
        )
        fake.add_channel(GUILD, GENERAL, "general")
        fake.add_channel(GUILD, LOCKED, "announcements", overwrites=[
            fake.overwrite(GUILD, deny=discord.Permissions(send_messages=True)),
        ])
        fake.add_member(GUILD, OWNER, "olga")
        fake.add_member(GUILD, ALICE, "alice", roles=[organisers])
        fake.add_member(GUILD, BOB, "bob")
        yield fake


def make_client(
    errors: list[BaseException | str], intents: discord.Intents | None = None,
) -> tuple[discord.Client, app_commands.CommandTree[discord.Client]]:
    """A real client and command tree whose error hooks record instead of only logging."""
    client = discord.Client(
        intents=intents or discord.Intents.default(), guild_ready_timeout=0.05,
    )
    tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)

    async def on_tree_error(
        interaction: discord.Interaction[discord.Client], error: app_commands.AppCommandError,
    ) -> None:
        errors.append(error)

    async def on_error(event: str, *args: Any, **kwargs: Any) -> None:
        errors.append(sys.exc_info()[1] or event)

    async def identify_at_once(shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py waits 5 s before every IDENTIFY but the first (a fresh session after
        INVALID_SESSION or a failed RESUME); tests need not."""

    tree.on_error = on_tree_error  # type: ignore[method-assign]
    client.on_error = on_error  # type: ignore[method-assign]
    client.before_identify_hook = identify_at_once  # type: ignore[method-assign]
    return client, tree


def text_channel(client: discord.Client, channel_id: int = GENERAL) -> discord.TextChannel:
    channel = client.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_responses_carry_exactly_the_headers_discord_py_checks(dc: FakeDiscord) -> None:
    dc.fail_next("GET", "/users/@me", retry_after=0.5)
    async with aiohttp.ClientSession() as session:
        auth = {"Authorization": f"Bot {dc.token}"}
        async with session.get(dc.api_base + "/users/@me", headers=auth) as limited:
            assert limited.status == 429 and limited.headers["Via"]
            assert limited.headers["Content-Type"] == "application/json"
            assert limited.headers["X-RateLimit-Remaining"] == "0"
            assert await limited.json() == {
                "message": "You are being rate limited.", "retry_after": 0.5, "global": False}
        async with session.get(dc.api_base + "/users/@me", headers=auth) as me:
            assert me.headers["Content-Type"] == "application/json"  # no "; charset=utf-8"
            assert (await me.json())["id"] == str(APP)
        async with session.get(dc.api_base + "/users/@me") as anonymous:
            assert anonymous.status == 401


async def test_login_gateway_and_guild_cache(dc: FakeDiscord, errors: list[Any]) -> None:
    client, _ = make_client(errors)
    async with run_client(dc, client):
        assert client.user is not None and client.user.id == APP
        assert client.application_id == APP
        guild = client.get_guild(GUILD)
        assert guild is not None and guild.name == "Crew" and guild.owner_id == OWNER
        assert guild.me.guild_permissions.send_messages
        # default intents have no GUILD_MEMBERS: only the bot's own member is cached
        assert guild.get_member(ALICE) is None and guild.member_count == 4
        member = await guild.fetch_member(ALICE)
        assert member.guild_permissions.manage_guild and member.joined_at is not None
        [identify] = dc.calls_of("identify")
        assert identify.body["intents"] == discord.Intents.default().value
        assert identify.query["encoding"] == "json"
    assert all(c.authorization == f"Bot {dc.token}" for c in dc.calls if c.method != "WS")
    assert not any(c.ok for c in dc.calls if c.kind == "unknown")


async def test_slash_command_synced_and_answered_ephemerally(
    dc: FakeDiscord, errors: list[Any],
) -> None:
    client, tree = make_client(errors)

    @tree.command(name="checkin", description="Check in", guild=discord.Object(GUILD))
    @app_commands.describe(note="What you did")
    async def checkin(interaction: discord.Interaction[discord.Client], note: str) -> None:
        may = interaction.permissions.manage_guild and interaction.permissions.manage_channels
        await interaction.response.send_message(f"{note} organiser={may}", ephemeral=True)

    async with run_client(dc, client):
        synced = await tree.sync(guild=discord.Object(GUILD))
        assert [c.name for c in synced] == ["checkin"]
        [sync] = dc.calls_of("command_sync")
        assert sync.path == f"/applications/{APP}/guilds/{GUILD}/commands"
        [stored] = dc.guild_commands[GUILD]
        assert stored["options"][0]["name"] == "note" and stored["id"] == str(synced[0].id)
        assert [c.name for c in await tree.fetch_commands(guild=discord.Object(GUILD))] == [
            "checkin"]

        for who in (ALICE, BOB, OWNER):
            await dc.dispatch("INTERACTION_CREATE", dc.interaction_command(
                GUILD, GENERAL, who, "checkin", options=[{"name": "note", "type": 3,
                                                          "value": "walked"}],
            ))
        calls = await dc.wait_for("callback", count=3)
        assert [c.body["type"] for c in calls] == [4, 4, 4]
        assert all(c.data["flags"] == EPHEMERAL for c in calls)
        assert [c.data["content"] for c in calls] == [
            "walked organiser=True", "walked organiser=False", "walked organiser=True"]
        assert all(c.authorization is None for c in calls)  # interaction routes carry none
        # ephemeral replies are not channel messages, and not echoed over the gateway
        assert dc.channel_messages(GENERAL) == []


async def test_persistent_dynamic_button_survives_a_restart(
    dc: FakeDiscord, errors: list[Any],
) -> None:
    class Vote(discord.ui.DynamicItem[discord.ui.Button[Any]],
               template=r"vote:(?P<poll>\d+):(?P<choice>\w+)"):
        def __init__(self, poll: int, choice: str) -> None:
            super().__init__(discord.ui.Button(label=choice, custom_id=f"vote:{poll}:{choice}"))
            self.poll = poll
            self.choice = choice

        @classmethod
        async def from_custom_id(
            cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any],
            match: re.Match[str], /,
        ) -> Vote:
            return cls(int(match["poll"]), match["choice"])

        async def callback(self, interaction: discord.Interaction[Any]) -> None:
            await interaction.response.send_message(
                f"poll {self.poll}: {self.choice}", ephemeral=True)

    first, _ = make_client(errors)
    async with run_client(dc, first):
        view = discord.ui.View(timeout=None)
        view.add_item(Vote(7, "yes"))
        view.add_item(Vote(7, "no"))
        sent = await text_channel(first).send("Vote!", view=view)
    [call] = dc.calls_of("message")
    assert [b["custom_id"] for b in call.body["components"][0]["components"]] == [
        "vote:7:yes", "vote:7:no"]

    second, _ = make_client(errors)
    second.add_dynamic_items(Vote)
    async with run_client(dc, second):
        assert len(dc.calls_of("identify")) == 2
        await dc.dispatch("INTERACTION_CREATE",
                          dc.interaction_button(GUILD, GENERAL, BOB, sent.id, "vote:7:no"))
        [answer] = await dc.wait_for("callback")
        assert answer.body["type"] == 4
        assert answer.data == {"content": "poll 7: no", "flags": EPHEMERAL, "tts": False}


async def test_raw_reaction_events_and_own_reaction_echo(
    dc: FakeDiscord, errors: list[Any],
) -> None:
    client, _ = make_client(errors)
    events: asyncio.Queue[tuple[str, discord.RawReactionActionEvent]] = asyncio.Queue()

    async def on_raw_reaction_add(payload: discord.RawReactionActionEvent) -> None:
        await events.put(("add", payload))

    async def on_raw_reaction_remove(payload: discord.RawReactionActionEvent) -> None:
        await events.put(("remove", payload))

    client.event(on_raw_reaction_add)
    client.event(on_raw_reaction_remove)
    async with run_client(dc, client):
        message = await text_channel(client).send("How did it go?")
        await dc.dispatch("MESSAGE_REACTION_ADD",
                          dc.reaction_add(GUILD, GENERAL, message.id, ALICE, "👍"))
        kind, added = await asyncio.wait_for(events.get(), 2)
        assert kind == "add" and added.user_id == ALICE and added.message_id == message.id
        assert added.emoji.name == "👍" and added.guild_id == GUILD
        assert added.member is not None and added.member.id == ALICE
        assert added.message_author_id == APP and added.type == discord.ReactionType.normal

        await dc.dispatch("MESSAGE_REACTION_REMOVE",
                          dc.reaction_remove(GUILD, GENERAL, message.id, ALICE, "👍"))
        kind, removed = await asyncio.wait_for(events.get(), 2)
        assert kind == "remove" and removed.user_id == ALICE and removed.member is None

        await message.add_reaction("✅")  # Discord echoes the bot's own reactions
        kind, own = await asyncio.wait_for(events.get(), 2)
        assert kind == "add" and own.user_id == APP and own.emoji.name == "✅"
        fetched = await text_channel(client).fetch_message(message.id)
        assert [(str(r.emoji), r.count, r.me) for r in fetched.reactions] == [("✅", 1, True)]


async def test_allowed_mentions_none_pings_nobody(dc: FakeDiscord, errors: list[Any]) -> None:
    client, _ = make_client(errors)
    async with run_client(dc, client):
        channel = text_channel(client)
        quiet = await channel.send(f"<@{BOB}> @everyone hi",
                                   allowed_mentions=discord.AllowedMentions.none())
        loud = await channel.send(f"<@{BOB}> @everyone hi")
    first, second = dc.calls_of("message")
    assert first.body["allowed_mentions"] == {"parse": []}
    assert first.response["mentions"] == [] and first.response["mention_everyone"] is False
    assert quiet.mentions == [] and not quiet.mention_everyone
    # without allowed_mentions (and none set on the Client) Discord parses everything
    assert "allowed_mentions" not in second.body
    assert [u.id for u in loud.mentions] == [BOB] and loud.mention_everyone
    assert quiet.guild is not None and quiet.guild.id == GUILD and quiet.author.id == APP


async def test_rate_limit_then_success(dc: FakeDiscord, errors: list[Any]) -> None:
    client, _ = make_client(errors)
    async with run_client(dc, client):
        dc.fail_next("POST", r"/channels/\d+/messages", retry_after=0.1)
        sent = await text_channel(client).send("after a 429")
    attempts = dc.calls_of("message", failed=True)
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[0].response == {"message": "You are being rate limited.",
                                    "retry_after": 0.1, "global": False}
    assert sent.content == "after a 429"


async def test_refusals_surface_as_discord_errors(dc: FakeDiscord, errors: list[Any]) -> None:
    client, _ = make_client(errors)
    async with run_client(dc, client):
        with pytest.raises(discord.Forbidden) as denied:
            await text_channel(client, LOCKED).send("no")
        assert denied.value.code == 50013
        with pytest.raises(discord.HTTPException) as empty:
            await text_channel(client).send("")
        assert empty.value.code == 50006
        with pytest.raises(discord.HTTPException) as long:
            await text_channel(client).send("x" * 2001)
        assert long.value.code == 50035 and "content" in long.value.text
        dc.fail_next("POST", r"/channels/\d+/messages", status=429, retry_after=0.05,
                     body={"message": "banned", "retry_after": 0.05, "global": True})
        assert (await text_channel(client).send("global 429 retried")).id
        bob = await client.fetch_user(BOB)
        await bob.send("psst")
        [dm] = dc.calls_of("dm_channel")
        assert dm.body == {"recipient_id": BOB}
        dc.close_dms(BOB)
        with pytest.raises(discord.Forbidden) as closed:
            await bob.send("again")
        assert closed.value.code == 50007


async def test_defer_then_followup_and_late_answers(dc: FakeDiscord, errors: list[Any]) -> None:
    client, tree = make_client(errors)

    @tree.command(name="slow", description="Thinks first")
    async def slow(interaction: discord.Interaction[discord.Client]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send("done thinking")
        await interaction.followup.send("and one more", ephemeral=True)

    @tree.command(name="late", description="Answers after the deadline")
    async def late(interaction: discord.Interaction[discord.Client]) -> None:
        await asyncio.sleep(0.15)
        await interaction.response.send_message("too late")

    failures: asyncio.Queue[app_commands.AppCommandError] = asyncio.Queue()

    @tree.error
    async def record(
        interaction: discord.Interaction[discord.Client], error: app_commands.AppCommandError,
    ) -> None:
        await failures.put(error)

    async with run_client(dc, client):
        await tree.sync()
        await dc.dispatch("INTERACTION_CREATE",
                          dc.interaction_command(GUILD, GENERAL, ALICE, "slow"))
        [defer] = await dc.wait_for("callback")
        assert defer.body == {"type": 5, "data": {"flags": EPHEMERAL}}
        first, second = await dc.wait_for("followup", count=2)
        # the first follow-up after a thinking defer replaces the loading message
        assert first.response["id"] == defer.response["interaction"]["response_message_id"]
        assert first.response["flags"] == EPHEMERAL and first.response["content"] == (
            "done thinking")
        assert second.response["id"] != first.response["id"]

        dc.interaction_deadline = 0.1
        await dc.dispatch("INTERACTION_CREATE",
                          dc.interaction_command(GUILD, GENERAL, ALICE, "late"))
        [refused] = await dc.wait_for("callback", lambda c: c.status == 404, failed=True)
        assert refused.response == {"message": "Unknown interaction", "code": 10062}
        error = await asyncio.wait_for(failures.get(), 2)
        assert isinstance(error, app_commands.CommandInvokeError)
        assert isinstance(error.original, discord.NotFound) and error.original.code == 10062


async def test_resume_after_disconnect_replays_missed_events(
    dc: FakeDiscord, errors: list[Any],
) -> None:
    client, _ = make_client(errors)
    seen: asyncio.Queue[discord.RawReactionActionEvent] = asyncio.Queue()
    resumed = asyncio.Event()

    async def on_raw_reaction_add(payload: discord.RawReactionActionEvent) -> None:
        await seen.put(payload)

    async def on_resumed() -> None:
        resumed.set()

    client.event(on_raw_reaction_add)
    client.event(on_resumed)
    async with run_client(dc, client):
        message = await text_channel(client).send("still here?")
        assert await dc.disconnect_clients() == 1
        # dispatched while disconnected: kept for the session, replayed on RESUME
        await dc.dispatch("MESSAGE_REACTION_ADD",
                          dc.reaction_add(GUILD, GENERAL, message.id, BOB, "🎉"))
        [resume] = await dc.wait_for("resume")
        assert resume.path == "/resume-gateway"
        await asyncio.wait_for(resumed.wait(), 2)
        assert (await asyncio.wait_for(seen.get(), 2)).user_id == BOB

        await dc.disconnect_clients(resumable=False)
        await dc.wait_for("identify", count=2)
        await dc.wait_ready()
    assert len(dc.calls_of("resume")) == 2  # the second got INVALID_SESSION, then IDENTIFY


async def test_member_events_need_the_members_intent(dc: FakeDiscord, errors: list[Any]) -> None:
    plain, _ = make_client(errors)
    async with run_client(dc, plain):
        assert await dc.dispatch("GUILD_MEMBER_REMOVE", dc.member_remove(GUILD, BOB)) == 0

    intents = discord.Intents.default()
    intents.members = True
    client, _ = make_client(errors, intents)
    left: asyncio.Queue[discord.RawMemberRemoveEvent] = asyncio.Queue()

    async def on_raw_member_remove(payload: discord.RawMemberRemoveEvent) -> None:
        await left.put(payload)

    client.event(on_raw_member_remove)
    async with run_client(dc, client):
        guild = client.get_guild(GUILD)
        assert guild is not None and guild.get_member(ALICE) is not None
        assert await dc.dispatch("GUILD_MEMBER_REMOVE", dc.member_remove(GUILD, ALICE)) == 1
        payload = await asyncio.wait_for(left.get(), 2)
        assert payload.user.id == ALICE and guild.get_member(ALICE) is None


async def test_disallowed_privileged_intent_ends_the_client(errors: list[Any]) -> None:
    async with FakeDiscord(privileged_intents=0) as fake:
        fake.add_guild(GUILD, "Crew", OWNER)
        intents = discord.Intents.default()
        intents.message_content = True
        client, _ = make_client(errors, intents)
        with patched(fake), pytest.raises(discord.PrivilegedIntentsRequired):
            await asyncio.wait_for(client.start(fake.token), 5)
        await client.close()


async def test_component_update_edits_and_deletes(dc: FakeDiscord, errors: list[Any]) -> None:
    client, tree = make_client(errors)

    class Toggle(discord.ui.View):
        def __init__(self) -> None:
            super().__init__(timeout=None)

        @discord.ui.button(label="Toggle", custom_id="toggle")
        async def toggle(
            self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any],
        ) -> None:
            await interaction.response.edit_message(content="on", view=self)

    @tree.command(name="later", description="Defers, then edits the original response")
    async def later(interaction: discord.Interaction[discord.Client]) -> None:
        await interaction.response.defer()
        await interaction.edit_original_response(content=f"<@{BOB}> done")

    async def setup_hook() -> None:
        client.add_view(Toggle())

    client.setup_hook = setup_hook  # type: ignore[method-assign]
    async with run_client(dc, client):
        await tree.sync()
        message = await text_channel(client).send("off", view=Toggle())
        await dc.dispatch("INTERACTION_CREATE",
                          dc.interaction_button(GUILD, GENERAL, BOB, message.id, "toggle"))
        [update] = await dc.wait_for("callback")
        assert update.body["type"] == 7 and dc.messages[message.id]["content"] == "on"

        await dc.dispatch("INTERACTION_CREATE",
                          dc.interaction_command(GUILD, GENERAL, ALICE, "later"))
        [edit] = await dc.wait_for("original_edit")
        assert edit.response["content"] == f"<@{BOB}> done"
        assert [u["id"] for u in edit.response["mentions"]] == [str(BOB)]

        edited = await message.edit(content="edited")
        assert edited.content == "edited" and edited.edited_at is not None
        await message.delete()
        assert [m["content"] for m in dc.channel_messages(GENERAL)] == [f"<@{BOB}> done"]
        with pytest.raises(discord.NotFound):
            await text_channel(client).fetch_message(message.id)


async def test_message_content_needs_the_intent_or_a_mention(
    dc: FakeDiscord, errors: list[Any],
) -> None:
    client, _ = make_client(errors)
    seen: asyncio.Queue[discord.Message] = asyncio.Queue()

    async def on_message(message: discord.Message) -> None:
        if message.author.id != APP:  # Discord echoes the bot's own messages too
            await seen.put(message)

    client.event(on_message)
    async with run_client(dc, client):
        await dc.dispatch("MESSAGE_CREATE", dc.message_create(GUILD, GENERAL, ALICE, "secret"))
        await dc.dispatch("MESSAGE_CREATE",
                          dc.message_create(GUILD, GENERAL, ALICE, f"<@{APP}> hello"))
        plain = await asyncio.wait_for(seen.get(), 2)
        mentioned = await asyncio.wait_for(seen.get(), 2)
        assert plain.content == "" and mentioned.content == f"<@{APP}> hello"
        assert isinstance(plain.author, discord.Member) and plain.author.id == ALICE
