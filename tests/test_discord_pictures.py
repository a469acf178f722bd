"""Pictures and files on Discord: the real discord.py client sends them as attachments."""

from __future__ import annotations

import csv
import io

from PIL import Image

from bot.commands.events import Attachment, Chat, Message
from tests.fakes.discord_api import EPHEMERAL
from tests.test_discord import ALICE, BOB, GENERAL, GUILD, bot, dc, slash  # noqa: F401


async def test_picture_options_are_typed_choices(bot, dc):  # noqa: F811
    synced = {c["name"]: c for c in dc.guild_commands[GUILD]}
    for name in ("leaderboard", "score"):
        view = {o["name"]: o for o in synced[name]["options"]}["view"]
        assert [c["value"] for c in view["choices"]] == ["picture"] and not view["required"]
    period = synced["graph"]["options"][0]
    assert [c["value"] for c in period["choices"]] == ["month", "3months", "year", "all"]
    assert "export" in synced


async def test_leaderboard_picture_is_an_attachment_of_the_answer(bot, dc):  # noqa: F811
    await slash(dc, ALICE, "checkin", text="hello")
    answer = await slash(dc, ALICE, "leaderboard", view="picture")
    assert answer["data"]["content"].startswith("Crew total, all time: 0 points.")
    upload = dc.uploads()[-1]
    assert upload["kind"] == "callback" and upload["filename"] == "leaderboard.png"
    assert upload["description"].startswith("Crew total, all time")  # the alt text
    image = Image.open(io.BytesIO(upload["content"]))
    assert image.format == "PNG" and image.width == 640
    shown = dc.channel_messages(GENERAL)[-1]
    assert [a["filename"] for a in shown["attachments"]] == ["leaderboard.png"]


async def test_export_is_a_csv_file_for_admins_only(bot, dc):  # noqa: F811
    await slash(dc, BOB, "checkin", text="hello")
    refused = await slash(dc, BOB, "export")
    assert refused["data"]["content"] == ("Only a crew admin can use /export. Ask an admin of "
                                          "this chat to do it.")
    assert dc.uploads() == []
    answer = await slash(dc, ALICE, "export")
    assert answer["data"]["flags"] & EPHEMERAL  # to the admin alone
    upload = dc.uploads()[-1]
    assert upload["filename"] == "crewbot-ledger-2026-11-02.csv"
    rows = list(csv.DictReader(io.StringIO(upload["content"].decode("utf-8"))))
    assert sorted(r["name"] for r in rows if r["record"] == "member") == ["alice", "bob"]


async def test_a_queued_post_with_a_picture_goes_out_as_an_attachment(bot, dc, app):  # noqa: F811
    await slash(dc, ALICE, "checkin", text="hello")
    png = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(png, "PNG")
    await app.game.say_in(Chat("discord", str(GENERAL)), Message(
        ("Meeting tallied.",), attachment=Attachment("meeting-recap.png", png.getvalue(),
                                                     "photo", "recap")))
    await bot.deliver()
    upload = dc.uploads()[-1]
    assert upload["kind"] == "message" and upload["filename"] == "meeting-recap.png"
    assert Image.open(io.BytesIO(upload["content"])).getpixel((0, 0)) == (1, 2, 3)
    assert dc.channel_messages(GENERAL)[-1]["content"] == "Meeting tallied."
