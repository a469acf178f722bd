"""Pictures and files on Telegram: the real PTB client sends sendPhoto and sendDocument."""

from __future__ import annotations

import csv
import io

from PIL import Image

from bot.commands.events import Attachment, Chat, Message
from tests.test_telegram import ALICE, BOB, CREW, bot, tg  # noqa: F401 - fixtures


async def test_leaderboard_picture_is_a_photo_with_the_board_as_its_caption(bot, tg):  # noqa: F811
    await bot.say(ALICE, "/checkin glad to be here")
    before = len(tg.sent)
    command = await bot.say(ALICE, "/leaderboard picture")
    assert len(tg.sent) == before  # no separate text message
    photo = tg.uploads[-1]
    assert photo["method"] == "sendPhoto" and photo["chat_id"] == CREW
    assert photo["filename"] == "leaderboard.png"
    assert photo["params"]["caption"].startswith("Crew total, all time: 0 points.")
    assert photo["params"]["reply_parameters"]["message_id"] == command["message_id"]
    image = Image.open(io.BytesIO(photo["content"]))
    assert image.format == "PNG" and image.width == 640
    await bot.say(BOB, "/graph")
    graph = tg.uploads[-1]
    assert graph["filename"] == "graph.png" and graph["params"]["caption"].startswith(
        "Who listened to and helped whom, this month (2026-11): nothing yet among 2 members")
    Image.open(io.BytesIO(graph["content"])).verify()


async def test_export_is_a_csv_document_for_admins_only(bot, tg):  # noqa: F811
    await bot.say(ALICE, "/checkin hello")
    await bot.say(BOB, "/checkin hi")
    await bot.say(BOB, "/export")
    assert tg.sent[-1]["text"] == ("Only a crew admin can use /export. Ask an admin of this "
                                   "chat to do it.")
    assert tg.uploads == []
    tg.push(tg.private_message(ALICE, "/start"))  # the admin opens a private chat first
    await bot.settle()
    await bot.say(ALICE, "/export")
    document = tg.uploads[-1]
    # to the admin alone: it lists everyone's entries
    assert document["method"] == "sendDocument" and document["chat_id"] == ALICE["id"]
    assert document["filename"] == "crewbot-ledger-2026-11-02.csv"
    rows = list(csv.DictReader(io.StringIO(document["content"].decode("utf-8"))))
    assert [(r["record"], r["name"]) for r in rows] == [("member", "Alice"), ("member", "Bob")]
    assert document["params"]["caption"].startswith(
        "For you alone: the crew's ledger as CSV, 2 members")
    assert all(u["chat_id"] != CREW for u in tg.uploads)


async def test_a_caption_too_long_for_telegram_follows_the_photo(bot, tg):  # noqa: F811
    png = io.BytesIO()
    Image.new("RGB", (4, 4)).save(png, "PNG")
    picture = Attachment("x.png", png.getvalue(), "photo", "alt")
    await bot.adapter.send(Chat("telegram", str(CREW)), Message(("word " * 300,),
                                                                attachment=picture))
    assert tg.uploads[-1]["method"] == "sendPhoto" and "caption" not in tg.uploads[-1]["params"]
    assert tg.uploads[-1]["content"] == png.getvalue()
    assert tg.sent[-1]["text"].split() == ["word"] * 300
