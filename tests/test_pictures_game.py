"""Pictures and the export in the game: /leaderboard and /score picture, /graph, /export, the
tally's recap, crew modes, privacy and bad input, through the console and the core."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from bot.adapters.console_adapter import pictures_dir
from bot.commands.board import drawn_now
from bot.commands.events import Actor, Attachment, Chat, CommandReceived, Message, say
from bot.config import from_env
from bot.export import as_csv
from tests.conftest import Transcript

SAVED = "# picture saved to "
CREW = """
    alice: /checkin excited about the garden
    bob: /checkin a bit tired
    bob reacts 👂 #1
    alice reacts 👂 #3
    carol: /join
    carol: /ask a lift on Friday
    bob replies ^carol: /offer I can drive
    carol presses "Thank you" ^bot
    carol: /checkin nervous
    bob reacts 🙏 ^carol
"""


def saved(lines: list[str], prefix: str = SAVED) -> Path:
    (line,) = [line for line in lines if line.startswith(prefix)]
    path = Path(line.removeprefix(prefix))
    assert path.is_file()
    return path


def said(lines: list[str]) -> list[str]:
    return [line.split(" bot: ", 1)[1] for line in lines if " bot: " in line]


async def test_leaderboard_picture_is_saved_and_printed_after_the_text(play: Transcript):
    await play(CREW)
    text = await play("alice: /leaderboard")
    lines = await play("alice: /leaderboard picture")
    # the text answer is the default and stays the same, now as the picture's caption
    assert not any(line.startswith("#") and "saved" in line for line in text)
    assert said(lines)[0] == said(text)[0]
    assert lines[-1].startswith(SAVED) and lines[-1].endswith("-leaderboard.png")
    path = saved(lines)
    assert path.parent == play.console.pictures
    image = Image.open(path)
    assert image.format == "PNG" and image.width == 640 and image.height > 300


async def test_score_and_graph_pictures(play: Transcript):
    await play(CREW)
    score = await play("bob: /score @carol picture")
    assert said(score)[0].startswith("carol: 6 points.")
    Image.open(saved(score)).verify()
    graph = await play("alice: /graph")
    assert said(graph)[0] == (
        "Who listened to and helped whom, this month (2026-11): 3 members, 1 mutual tie (solid "
        "lines), 2 one-way (dashed orange). One-way so far: bob helped carol; bob listened to "
        "carol.")
    assert Image.open(saved(graph)).size == (720, 700)


async def test_graph_periods_and_bad_input(play: Transcript, clock):
    await play(CREW)
    await play(":advance 40d")
    assert "nothing yet among 3 members" in said(await play("alice: /graph"))[0]
    assert "1 mutual tie" in said(await play("alice: /graph 3months"))[0]
    assert "1 mutual tie" in said(await play("alice: /graph 45d"))[0]
    assert "nothing yet" in said(await play("alice: /graph 7d"))[0]
    assert "1 mutual tie" in said(await play("alice: /graph all"))[0]
    for bad in ("banana", "0d", "99999d", "month all"):
        lines = await play(f"alice: /graph {bad}")
        assert len(lines) == 2, lines  # the command and one short reply; no picture
        assert "Usage: /graph [month|3months|year|all|<days>d]" in lines[1]
    assert "'banana' is not a period: give month, 3months, year, all or a number of days" in (
        said(await play("alice: /graph banana"))[0])


async def test_picture_options_refuse_bad_words(play: Transcript):
    await play(CREW)
    for line, problem in (("alice: /leaderboard hide picture", "takes no picture"),
                          ("alice: /leaderboard month all", "give one period"),
                          ("alice: /leaderboard pictures", "'pictures' is not a leaderboard"),
                          ("alice: /score picture please", "Name at most one member")):
        lines = await play(line)
        assert len(lines) == 2 and problem in lines[1], lines
    # hide still works, and the picture then leaves the member out of the ranking
    await play("carol: /leaderboard hide")
    lines = await play("alice: /leaderboard month picture")
    assert lines[2].startswith("   1. bob") and not any("carol" in line for line in lines)
    assert "carol" not in await labels_of(play.app, "alice", "/leaderboard picture")


async def test_export_sends_the_ledger_as_csv_to_admins_only(play: Transcript):
    await play(CREW)
    refused = await play("bob: /export")
    assert said(refused) == ["Only a crew admin can use /export. Ask an admin of this chat to "
                             "do it."]
    lines = await play("alice: /export")
    assert said(lines) == ["(privately to alice) For you alone: the crew's ledger as CSV, 3 "
                           "members and 6 ledger entries, one row each (record=member or "
                           "record=entry). It shows every member's entries, missed meetings "
                           "included, so please keep it to yourself."]
    path = saved(lines, "# file saved to ")
    assert path.name.endswith("-crewbot-ledger-2026-11-02.csv")
    rows = list(csv.DictReader(io.StringIO(path.read_text(), newline="")))
    (crew,) = await play.app.game.export()
    assert path.read_text() == as_csv([crew])  # exactly `crewbot export --format csv`
    entries = [r for r in rows if r["record"] == "entry"]
    names = {m.id: m.name for m in crew.members}
    assert sorted((r["name"], int(r["points"]), r["reason"]) for r in entries) == sorted(
        (names[e.member_id], e.points, e.reason) for e in crew.ledger)
    # people read `what`; programs read `reason`
    assert sorted((r["what"], r["reason"]) for r in entries) == [
        ("asked for help", "ask"), ("listened in a circle", "listening_circle"),
        ("listened in a circle", "listening_circle"), ("offered help", "offer"),
        ("thanked for an offer", "mutual_regard"), ("thanked for an offer", "mutual_regard")]
    members = {r["name"]: int(r["points"]) for r in rows if r["record"] == "member"}
    assert members == await play.points()
    assert said(await play("alice: /export now")) == [
        "/export takes no words; it sends the whole ledger. Usage: /export"]


async def test_the_tally_carries_a_recap_picture(play: Transcript):
    await play(CREW)
    lines = await play("""
        alice: /meeting now
        bob: /here
        :advance 3h
    """)
    tally = [line for line in said(lines) if "tallied" in line]
    assert tally == ["Meeting of Mon 2 Nov 2026 09:00 UTC tallied. Present: bob (+1). 2 members "
                     "could not make it this time."]
    image = Image.open(saved(lines))
    assert image.size[0] == 480
    assert lines[-1].startswith(SAVED)  # right after the tally post it belongs to


async def test_a_queued_recap_is_drawn_when_sent_and_a_broken_one_still_sends_its_words(
        play: Transcript, app):
    """The tally queues the recap as a recipe (cheap for a tick that tallies many crews); the
    picture is drawn on its way out. A recipe that cannot be drawn drops only the picture."""
    await play(CREW)
    lines = await play("alice: /meeting now\nbob: /here\n:advance 3h")
    async with app.game.uow() as store:
        crew = await store.crews.crew("console", "crew")
        posts = await store.outbox.crew_posts(crew.id)
    queued = Message.from_json(posts[-1][1])
    assert "tallied" in queued.plain() and queued.attachment is not None
    assert queued.attachment.data == b"" and queued.attachment.recipe["draw"] == "recap"
    sent = Image.open(saved(lines))  # what the console delivered was drawn on the way out
    drawn = drawn_now(queued).attachment
    assert Image.open(io.BytesIO(drawn.data)).size == sent.size == (480, sent.size[1])
    assert drawn.labels[0] == "bob" and "Meeting of Mon 2 Nov 2026 09:00 UTC" in drawn.labels

    broken = replace(queued, attachment=replace(queued.attachment,
                                                recipe={"draw": "recap", "args": {}}))
    assert app.game._drawn(1, broken) == replace(broken, attachment=None)


@pytest.mark.parametrize("mode", ["gentle", "rhythm"])
async def test_crew_modes_in_pictures(play: Transcript, app, mode):
    await play(CREW + f"alice: /settings mode {mode}")
    lines = await play("alice: /meeting now\nbob: /here\n:advance 3h")
    labels = await labels_of(app, "alice", "/leaderboard picture")
    score = await labels_of(app, "bob", "/score picture")
    recap = (await last_post(app)).attachment
    assert recap is not None and recap.labels[0] == "bob"
    if mode == "rhythm":  # no points at all: what the crew did, no ranking, no member names
        for drawn in (labels, score, recap.labels):
            assert not any("point" in t and "without points" not in t for t in drawn), drawn
        assert "Thank-yous" in labels and not any(t.startswith("1.") for t in labels)
        assert not any(name in labels for name in ("alice", "1. alice"))
        assert "What we did together in 2026-11" in recap.labels
    else:  # gentle: points as the text board shows them, and a missed meeting costs nothing
        total = sum((await play.points()).values())
        assert f"Crew total: {total} points. The game is won together." in labels
        assert not any(label.startswith("-") for label in (*labels, *recap.labels))
        # consistency this month: bob's +1; the two who missed it lost nothing
        assert recap.labels[recap.labels.index("Consistency") + 1] == "1"
    assert "tallied" in said(lines)[-1]


async def labels_of(app, who: str, text: str) -> tuple[str, ...]:
    """The labels of the picture a command answers with (the public reply; a /score for
    yourself also sends your entries privately, as words)."""
    replies = await app.game.handle(CommandReceived(Chat("console", "crew", "crew"),
                                                    Actor(who, who), text))
    (reply,) = [r for r in replies if r.dm_to is None]
    assert all(r.attachment is None for r in replies if r.dm_to is not None)
    assert reply.attachment is not None and reply.attachment.kind == "photo"
    Image.open(io.BytesIO(reply.attachment.data)).verify()
    return reply.attachment.labels


async def last_post(app) -> Message:
    """The crew's last queued or sent post, its picture drawn as it is when sent."""
    async with app.game.uow() as store:
        crew = await store.crews.crew("console", "crew")
        posts = await store.outbox.crew_posts(crew.id)
    return drawn_now(Message.from_json(posts[-1][1]))


async def test_a_forgotten_member_is_in_no_picture(play: Transcript, app):
    await play(CREW)
    await play("carol: /forgetme confirm")
    for who, text in (("alice", "/graph"), ("alice", "/graph all"),
                      ("alice", "/leaderboard picture"), ("bob", "/score picture")):
        labels = await labels_of(app, who, text)
        assert not any("carol" in label for label in labels), (text, labels)
        assert not any("former member" in label for label in labels), (text, labels)
    (graph,) = await app.game.handle(CommandReceived(Chat("console", "crew", "crew"),
                                                     Actor("alice", "alice"), "/graph"))
    assert graph.plain().startswith("Who listened to and helped whom, this month (2026-11): "
                                    "2 members, 1 mutual tie")


async def test_forgetme_drops_a_queued_picture_that_shows_the_member(play: Transcript, app):
    await play(CREW)
    chat = Chat("console", "crew", "crew")
    shows_carol = Attachment("recap.png", b"\x89PNG...", "photo", "carol came", ("carol",))
    shows_others = Attachment("board.png", b"\x89PNG carol", "photo", "alice and carol",
                              ("alice", "bob"))
    await app.game.say_in(chat, Message(("Recap",), attachment=shows_carol))
    await app.game.say_in(chat, Message(("Board",), attachment=shows_others))
    await app.game.handle(CommandReceived(chat, Actor("carol", "carol"), "/forgetme confirm"))
    async with app.game.uow() as store:
        crew = await store.crews.crew("console", "crew")
        posts = [Message.from_json(p) for _, p, _ in await store.outbox.crew_posts(crew.id)][-2:]
    assert posts[0].plain() == "Recap" and posts[0].attachment is None
    # a file that does not show them keeps its bytes untouched; its description is scrubbed
    assert posts[1].attachment == Attachment("board.png", b"\x89PNG carol", "photo",
                                             "alice and former member", ("alice", "bob"))


def test_a_message_with_a_picture_survives_the_outbox_json():
    picture = Attachment("a.png", bytes(range(256)), "photo", "alt text", ("alice",))
    message = say("Crew total", "!")
    message = Message(message.parts, attachment=picture)
    assert Message.from_json(message.to_json()) == message
    assert "attachment" not in say("plain").to_json()  # posts without one are unchanged


def test_where_the_console_saves_pictures(tmp_path):
    db = tmp_path / "games" / "crew.sqlite3"
    assert pictures_dir(str(db)) == db.parent.resolve() / "crewbot-pictures"
    assert pictures_dir(f"sqlite:///{db}") == db.parent.resolve() / "crewbot-pictures"
    assert pictures_dir("postgresql://crewbot@db.example/crewbot") == (
        Path(tempfile.gettempdir()) / "crewbot-pictures")
    assert pictures_dir(str(db), str(tmp_path / "mine")) == tmp_path / "mine"
    assert from_env({"CREWBOT_PICTURES_DIR": str(tmp_path / "mine")}).pictures_dir == str(
        tmp_path / "mine")


def test_the_crewbot_console_saves_pictures_next_to_its_database(tmp_path):
    db = tmp_path / "crew.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREWBOT_")}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "crewbot"), "console", "--db", str(db), "--start",
         "2026-11-02T09:00"], input="alice: /checkin hi\nalice: /graph\n", capture_output=True,
        text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[3].startswith("#4 bot: Who listened to and helped whom, this month (2026-11)")
    path = saved(lines)
    assert path.parent == tmp_path / "crewbot-pictures"
    assert Image.open(path).size == (720, 700)


async def test_graph_counts_ties_on_every_database(play_any: Transcript):
    play = play_any
    await play(CREW)
    # bob listened to carol twice (two circles), by reaction and by button; carol never back
    await play("""
        :advance 25h
        carol: /checkin still nervous
        bob presses "I listened" ^bot
        bob reacts 👂 ^carol
        alice: /ask help with the gate
        carol replies ^alice: /offer I'll bring tools
        alice presses "Thank you" ^bot
    """)
    async with play.app.game.uow() as store:
        crew = await store.crews.crew("console", "crew")
        ids = {m.name: m.id for m in await store.crews.all_members(crew.id)}
        rows = await store.favours.reciprocity(crew.id, None)
    assert sorted(rows) == sorted([
        ("listen", ids["alice"], ids["bob"], 1), ("listen", ids["bob"], ids["alice"], 1),
        ("listen", ids["bob"], ids["carol"], 2),
        ("help", ids["bob"], ids["carol"], 1), ("help", ids["carol"], ids["alice"], 1)])
    lines = await play("alice: /graph")
    assert said(lines)[0].endswith(
        "1 mutual tie (solid lines), 3 one-way (dashed orange). One-way so far: bob helped "
        "carol; bob listened to carol; carol helped alice.")
    # the last day holds only the second circle and the latest offer
    assert said(await play("alice: /graph 1d"))[0] == (
        "Who listened to and helped whom, the last 1 day: 3 members, 0 mutual ties (solid "
        "lines), 2 one-way (dashed orange). One-way so far: bob listened to carol; carol helped "
        "alice.")
