"""`crewbot check`, run as a real process against a real database and the loopback fakes of
Telegram and Discord: what it reports, its exit code, and that it prints no secret."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest
from sqlalchemy.engine import make_url

from bot.app import open_app
from bot.clock import SimClock
from bot.commands.events import Actor, Chat, CommandReceived
from tests.conftest import PG_URL, START
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.telegram_api import FakeTelegram
from tests.processes import clean_env, crewbot

TG_TOKEN = "7000000001:SECRET-telegram-token-7f3a9-c04d"
DC_TOKEN = "MTMwMDAwMDAwMDAwMDAwMDAwMQ.SECRET.discord-token-b81c4e-5d2a"
ADMIN_CHAT, MEMBER_CHAT, LEFT_CHAT = -1001000000001, -1001000000002, -1001000000003
GUILD, GOOD, MUTED = 900000000000000001, 900000000000000101, 900000000000000102
OWNER = 800000000000000001


async def crews_in(database: str, *chats: tuple[str, str]) -> None:
    """A migrated database in which each (platform, chat id) is a crew with one member."""
    app = await open_app(database, SimClock(START))
    try:
        for platform, chat_id in chats:
            await app.game.handle(CommandReceived(Chat(platform, chat_id, f"crew {chat_id}"),
                                                  Actor("1", "alice"), "/join"))
    finally:
        await app.close()


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(bot_username="crewbot", token=TG_TOKEN) as fake:
        for chat in (ADMIN_CHAT, MEMBER_CHAT, LEFT_CHAT):
            fake.add_chat(chat, title=f"crew {chat}")
        fake.set_bot_admin(ADMIN_CHAT)
        fake.push(fake.my_chat_member(LEFT_CHAT, "member", "left", {"id": 5, "is_bot": False,
                                                                    "first_name": "Ann"}))
        yield fake


@pytest.fixture
async def dc() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(token=DC_TOKEN) as fake:
        fake.add_guild(GUILD, "Crew", OWNER)
        fake.add_channel(GUILD, GOOD, "garden")
        everyone_cannot_send = fake.overwrite(GUILD, deny=discord.Permissions(
            send_messages=True, add_reactions=True))
        fake.add_channel(GUILD, MUTED, "announcements", overwrites=[everyone_cannot_send])
        yield fake


def settings(tg: FakeTelegram | None = None, dc: FakeDiscord | None = None,
             **more: str) -> dict[str, str]:
    env: dict[str, str] = {}
    if tg is not None:
        env |= {"CREWBOT_TELEGRAM_TOKEN": TG_TOKEN,
                "CREWBOT_TELEGRAM_API_URL": tg.base_url.removesuffix("/bot")}
    if dc is not None:
        env |= {"CREWBOT_DISCORD_TOKEN": DC_TOKEN,
                "CREWBOT_DISCORD_API_URL": f"http://127.0.0.1:{dc.port}"}
    return clean_env(**env, **more)


def line_about(out: str, *words: str) -> str:
    found = [line for line in out.splitlines() if all(w in line for w in words)]
    assert len(found) == 1, (words, out)
    return found[0]


async def test_check_reports_identity_and_rights_in_every_crew(tg, dc, tmp_path):
    db = str(tmp_path / "crew.sqlite3")
    await crews_in(db, ("telegram", str(ADMIN_CHAT)), ("telegram", str(MEMBER_CHAT)),
                   ("telegram", str(LEFT_CHAT)), ("discord", str(GOOD)),
                   ("discord", str(MUTED)), ("console", "crew"))
    code, out, err = await crewbot("check", env=settings(tg, dc, CREWBOT_DATABASE_URL=db),
                                   cwd=tmp_path)
    assert code == 1, (out, err)  # two crews have a problem
    assert err == ""
    assert line_about(out, "database").startswith("ok: ")
    assert "(the latest); 6 crew(s)" in line_about(out, "database")
    assert line_about(out, "telegram: connected").startswith(
        "ok: telegram: connected as @crewbot (id 7000000001)")
    assert line_about(out, str(ADMIN_CHAT)).startswith("ok: ")
    assert "is an admin" in line_about(out, str(ADMIN_CHAT))
    not_admin = line_about(out, str(MEMBER_CHAT))
    assert not_admin.startswith("note: ") and "make it an admin" in not_admin
    gone = line_about(out, str(LEFT_CHAT))
    assert gone.startswith("PROBLEM: ") and "add it to the group again" in gone
    assert line_about(out, "discord: connected").startswith("ok: discord: connected as crewbot")
    assert line_about(out, "shard").startswith(
        "ok: discord: 1 gateway shard(s), Discord recommends 1; this process runs all 1")
    assert line_about(out, str(GOOD)).startswith("ok: ")
    muted = line_about(out, str(MUTED))
    assert muted.startswith("PROBLEM: ")
    assert "lacks Send Messages, Add Reactions" in muted and "View Channel" not in muted
    assert "1 console crew(s)" in out
    # It only looked: no message was sent anywhere, no update was consumed.
    assert tg.sent == [] and tg.calls["getUpdates"] == 0
    assert dc.calls_of("message") == [] and dc.calls_of("identify") == []
    for secret in (TG_TOKEN, DC_TOKEN, "SECRET"):
        assert secret not in out + err


async def test_check_exits_0_when_all_is_well(tg, tmp_path):
    db = str(tmp_path / "crew.sqlite3")
    await crews_in(db, ("telegram", str(ADMIN_CHAT)))
    code, out, err = await crewbot("check", env=settings(tg, CREWBOT_DATABASE_URL=db),
                                   cwd=tmp_path)
    assert (code, err) == (0, ""), out
    assert "PROBLEM" not in out
    assert line_about(out, "discord").startswith("note: discord: not configured")


async def test_a_refused_token_is_a_problem_and_is_not_printed(tg, tmp_path):
    db = str(tmp_path / "crew.sqlite3")
    await crews_in(db)
    wrong = "7000000001:SECRET-but-wrong-token-11-8e6f"
    env = settings(tg, CREWBOT_DATABASE_URL=db) | {"CREWBOT_TELEGRAM_TOKEN": wrong}
    code, out, err = await crewbot("check", env=env, cwd=tmp_path)
    assert code == 1
    assert line_about(out, "telegram").startswith("PROBLEM: telegram: the token is refused")
    assert wrong not in out + err and "SECRET" not in out + err


async def test_a_platform_that_does_not_answer_is_a_problem(tmp_path):
    db = str(tmp_path / "crew.sqlite3")
    await crews_in(db, ("discord", str(GOOD)))
    env = clean_env(CREWBOT_DATABASE_URL=db, CREWBOT_DISCORD_TOKEN=DC_TOKEN,
                    CREWBOT_DISCORD_API_URL="http://127.0.0.1:1")
    code, out, err = await crewbot("check", env=env, cwd=tmp_path)
    assert code == 1, out
    assert line_about(out, "discord").startswith("PROBLEM: discord: cannot reach the API")
    assert DC_TOKEN not in out + err


async def test_a_bot_api_that_does_not_answer_is_a_problem(tmp_path):
    db = str(tmp_path / "crew.sqlite3")
    await crews_in(db, ("telegram", str(ADMIN_CHAT)))
    env = clean_env(CREWBOT_DATABASE_URL=db, CREWBOT_TELEGRAM_TOKEN=TG_TOKEN,
                    CREWBOT_TELEGRAM_API_URL="http://127.0.0.1:1")
    code, out, err = await crewbot("check", env=env, cwd=tmp_path)
    assert code == 1, out
    line = line_about(out, "telegram")
    # through the adapter's own HTTP client, named without the token
    assert line.startswith("PROBLEM: telegram: cannot reach the Bot API (aiohttp."), line
    assert TG_TOKEN not in out + err and TG_TOKEN.split(":")[1] not in out + err


async def test_no_platform_and_a_missing_database_file(tmp_path):
    code, out, err = await crewbot("check", "--db", str(tmp_path / "none.sqlite3"),
                                   env=clean_env(), cwd=tmp_path)
    assert code == 1 and err == ""
    assert "the file does not exist yet: run `crewbot db upgrade`" in line_about(out, "database")
    assert "no platform is configured" in out
    assert not (tmp_path / "none.sqlite3").exists()  # checking created nothing


async def test_an_unmigrated_database_says_to_upgrade(tmp_path):
    db = tmp_path / "old.sqlite3"
    db.touch()
    code, out, _ = await crewbot("check", env=clean_env(CREWBOT_DATABASE_URL=str(db)),
                                 cwd=tmp_path)
    assert code == 1
    assert "reachable but empty: run `crewbot db upgrade`" in line_about(out, "database")


async def test_a_typo_in_a_variable_name_is_pointed_out(tmp_path):
    db = str(tmp_path / "crew.sqlite3")
    await crews_in(db)
    env = clean_env(CREWBOT_DATABASE_URL=db, CREWBOT_TELEGRAM_TOKN="x")
    code, out, _ = await crewbot("check", env=env, cwd=tmp_path)
    assert code == 1  # no platform is configured: the typo left Telegram without a token
    assert ("note: CREWBOT_TELEGRAM_TOKN is not a Crewbot setting and is ignored (did you mean "
            "CREWBOT_TELEGRAM_TOKEN?)") in out.splitlines()


async def test_an_unreachable_database_is_named_without_its_password(tmp_path):
    url = "postgresql://crewbot:SECRET-db-password@127.0.0.1:1/crew"
    code, out, err = await crewbot("check", env=clean_env(CREWBOT_DATABASE_URL=url),
                                   cwd=tmp_path)
    assert code == 1
    line = line_about(out, "database")
    assert line.startswith("PROBLEM: database postgresql+asyncpg://crewbot:***@127.0.0.1:1/crew: "
                           "cannot connect")
    assert "SECRET" not in out + err


@pytest.mark.skipif(not PG_URL, reason="CREWBOT_TEST_DATABASE_URL is not set")
async def test_check_on_postgresql(db_url, tg, tmp_path):
    if db_url != PG_URL:
        pytest.skip("SQLite is covered by the tests above; the postgres parameter runs this")
    await crews_in(db_url, ("telegram", str(ADMIN_CHAT)))
    with_password = make_url(PG_URL).set(password="SECRET-pg-pw").render_as_string(
        hide_password=False)  # trust auth ignores it; it must still never be printed
    code, out, err = await crewbot("check", env=settings(tg, CREWBOT_DATABASE_URL=with_password),
                                   cwd=Path(tmp_path))
    assert (code, err) == (0, ""), out
    assert "(the latest); 1 crew(s)" in line_about(out, "database")
    assert "SECRET" not in out + err


async def test_channel_permissions_agree_with_discords_rules():
    """The bot's rights as `crewbot check` computes them, against the fake's own computation
    of Discord's documented rules, for roles, @everyone, role and member overwrites."""
    from bot.check import channel_permissions

    async with FakeDiscord() as fake:
        guild = fake.add_guild(GUILD, "Crew", OWNER, bot_permissions=discord.Permissions(
            view_channel=True, send_messages=True))
        helper = fake.add_role(GUILD, 700, "Helpers", discord.Permissions(add_reactions=True))
        admin = fake.add_role(GUILD, 701, "Admins", discord.Permissions(administrator=True))
        bot = guild.members[fake.bot.id]
        cases = [
            [],
            [fake.overwrite(GUILD, deny=discord.Permissions(view_channel=True))],
            [fake.overwrite(GUILD, deny=discord.Permissions(view_channel=True)),
             fake.overwrite(helper, allow=discord.Permissions(view_channel=True))],
            [fake.overwrite(helper, deny=discord.Permissions(add_reactions=True)),
             fake.overwrite(fake.bot.id, allow=discord.Permissions(add_reactions=True),
                            member=True)],
            [fake.overwrite(fake.bot.id, deny=discord.Permissions(send_messages=True),
                            member=True)],
        ]
        for roles in ([], [helper.id], [helper.id, admin.id]):
            bot.roles = [r for r in bot.roles if r not in (helper.id, admin.id)] + roles
            for number, overwrites in enumerate(cases):
                channel = fake.add_channel(GUILD, 600 + number, f"c{number}",
                                           overwrites=overwrites)
                expected = fake.permissions_for(GUILD, fake.bot.id, channel).value
                got = channel_permissions(
                    fake.bot.id, GUILD, bot.roles, [r.payload() for r in guild.roles.values()],
                    [o.payload() for o in overwrites])
                if not expected & discord.Permissions(view_channel=True).value:
                    assert not got & discord.Permissions(view_channel=True).value
                else:
                    assert got == expected, (roles, number)


@pytest.mark.parametrize(("more", "level", "says"), [
    ({}, "ok", "discord: 4 gateway shard(s), Discord recommends 4; this process runs all 4"),
    ({"CREWBOT_DISCORD_SHARD_COUNT": "8", "CREWBOT_DISCORD_SHARD_IDS": "4-7"}, "ok",
     "discord: 8 gateway shard(s), Discord recommends 4; this process runs shards 4,5,6,7 of 8"),
    ({"CREWBOT_DISCORD_SHARD_COUNT": "2", "CREWBOT_DISCORD_SHARD_IDS": "1"}, "note",
     "discord: CREWBOT_DISCORD_SHARD_COUNT is 2 but Discord recommends 4; fine until a shard "
     "holds 2,500 servers"),
])
async def test_check_reports_the_gateway_shards(tmp_path, more, level, says):
    """A count below Discord's recommendation is a note, not a problem."""
    db = str(tmp_path / "c.sqlite3")
    await crews_in(db)
    async with FakeDiscord(token=DC_TOKEN, recommended_shards=4) as fake:
        code, out, err = await crewbot("check", env=settings(
            dc=fake, CREWBOT_DATABASE_URL=db, **more), cwd=tmp_path)
    assert (code, err) == (0, "")  # a note is no problem
    assert line_about(out, "shard").startswith(f"{level}: {says}"), out
    assert fake.calls_of("identify") == []  # asked over REST only: a running bot is undisturbed


async def test_too_few_session_starts_left_is_a_problem(tmp_path):
    db = str(tmp_path / "c.sqlite3")
    await crews_in(db)
    async with FakeDiscord(token=DC_TOKEN, recommended_shards=4) as fake:
        fake.session_starts_left = 3
        code, out, _ = await crewbot("check", env=settings(dc=fake, CREWBOT_DATABASE_URL=db),
                                     cwd=tmp_path)
    assert code == 1
    assert line_about(out, "shard").startswith(
        "PROBLEM: discord: only 3 gateway session start(s) left (Discord resets them in 4.0 h), "
        "fewer than the 4 shard(s) this process starts: wait before restarting")
