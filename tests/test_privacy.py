"""Your data: /mydata shows a member everything stored about them; /forgetme erases their words
and their name and keeps only anonymous ledger rows, so the crew's totals stay true."""

from __future__ import annotations

from sqlalchemy import select, text

from bot.commands.events import Actor, Chat, CommandReceived, Mention, Message
from storage.models import Base

# Two members who have played every level, with words that tell whose they are.
PLAYED = """
    alice: /checkin alice-checkin-one
    bob: /checkin bob-checkin-one
    :advance 25h
    alice: /checkin alice-checkin-two
    bob: /checkin bob-checkin-two
    bob presses "I listened" #7
    alice: /ask alice-ask
    bob: /ask bob-ask
    alice: /offer @bob alice-offer
    bob: /offer @alice bob-offer
    bob: /thanks 1
    alice: /reflect alice-reflection
    bob: /reflect bob-reflection
    alice: /conflict @bob
    bob: /conflict accept
    alice: /apologise alice-apology
    bob: /forgive
    alice: /coown Bakery @bob
    bob: /coown confirm
"""
ALICE_WORDS = ("alice-checkin-one", "alice-checkin-two", "alice-ask", "alice-offer",
               "alice-reflection", "alice-apology")
BOB_WORDS = ("bob-checkin-one", "bob-checkin-two", "bob-ask", "bob-offer", "bob-reflection")


async def dump(play, counts: bool = True) -> dict[str, list[tuple]]:
    """Every row of every table of the game; `counts` False: but the members' rate-limit
    minutes, which every command counts in, refused or not."""
    async with play.app.engine.connect() as conn:
        return {table.name: sorted((tuple(row) for row in await conn.execute(select(table))),
                                   key=repr)
                for table in Base.metadata.sorted_tables
                if counts or table.name != "member_windows"}


async def column(play, sql: str, **params: object) -> list:
    async with play.app.engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).scalars())


async def handle(play, who: str, line: str) -> list:
    """The core's answer to one command, with its private flags (the console prints them all)."""
    return await play.app.game.handle(CommandReceived(Chat("console", "crew", "crew"),
                                                      Actor(who, who), line))


def crew_total(board: str) -> str:
    """The crew-total line of a /leaderboard reply, without the console's numbering."""
    line = next(line for line in board.splitlines() if "Crew total" in line)
    return line[line.index("Crew total"):]


async def test_mydata_shows_your_own_words_and_entries_to_you_alone(play):
    await play(PLAYED)
    reply = await handle(play, "alice", "/mydata")
    assert len(reply) == 1 and reply[0].private
    assert reply[0].dm_to == Mention("alice", "alice")  # never into the group
    shown = reply[0].plain()
    lines = shown.splitlines()
    assert lines[0].startswith("Everything stored about you in this crew, for you alone. Name: "
                               "alice; handle: none; joined Mon 2 Nov 2026 09:00 UTC; on the "
                               "roster; shown in the ranking; 121 points.")
    for line in ("- Mon 2 Nov 2026 09:00 UTC: alice-checkin-one",
                 "- Tue 3 Nov 2026 10:00 UTC: alice-checkin-two",
                 "- ask 1, Tue 3 Nov 2026 10:00 UTC, scored: alice-ask",
                 "- offer 1 to bob, Tue 3 Nov 2026 10:00 UTC, scored, thanked: alice-offer",
                 "- offer 2 from bob, Tue 3 Nov 2026 10:00 UTC",
                 "- Tue 3 Nov 2026 10:00 UTC: alice-reflection",
                 "- conflict 1 with bob, resolved; you apologised: \u201calice-apology\u201d",
                 "- venture 1 \u201cBakery\u201d, co-owned, proposed by you; co-owners: you "
                 "(confirmed), bob (confirmed)",
                 "Ledger entries (5):",  # in words, never codes or entry numbers
                 "- asked for help: +5 (Tue 3 Nov 2026 10:00 UTC)",
                 "- offered help: +5 (Tue 3 Nov 2026 10:00 UTC)",
                 "- thanked for an offer: +1 (Tue 3 Nov 2026 10:00 UTC)",
                 "- repaired a conflict: +10 (Tue 3 Nov 2026 10:00 UTC)",
                 "- co-owned a venture: +100 (Tue 3 Nov 2026 10:00 UTC)"):
        assert line in lines, line
    assert lines[lines.index("Ledger entries (5):") + 6].startswith("To erase")  # only hers
    assert "Check-ins you confirmed listening to: none." in lines  # alice listened to nobody
    for word in BOB_WORDS:
        assert word not in shown  # not even the text of bob's offer to alice
    for code in ("mutual_regard", "conflict_resolved", "coowners", "entry "):
        assert code not in shown

    bob = (await handle(play, "bob", "/mydata"))[0].plain()
    assert "- alice's check-in" in bob.splitlines()
    assert "- conflict 1 with alice, resolved; alice apologised" in bob.splitlines()
    assert "alice-apology" not in bob and "alice-offer" not in bob


async def test_mydata_takes_no_words(play):
    lines = await play("alice: /mydata everything please")
    assert lines[1] == ("#2 bot: /mydata takes no words; it shows everything stored about you. "
                        "Usage: /mydata")


async def test_forgetme_without_confirm_explains_and_changes_nothing(play):
    await play(PLAYED)
    before = await dump(play, counts=False)
    reply = await handle(play, "alice", "/forgetme")
    assert len(reply) == 1 and reply[0].private
    assert "To go ahead, send /forgetme confirm." in reply[0].plain()
    lines = await play("""
        alice: /forgetme now
        alice: /forgetme confirmed
    """)
    assert lines[1] == ("#38 bot: 'now' is not a /forgetme option. Send /forgetme to read what "
                        "it erases, then /forgetme confirm to erase it. Usage: /forgetme "
                        "[confirm]")
    assert lines[3].startswith("#40 bot: 'confirmed' is not a /forgetme option.")
    assert await dump(play, counts=False) == before
    assert await play.points() == {"alice": 121, "bob": 121}


async def test_forgetme_confirm_erases_words_and_name_and_keeps_the_totals(play):
    await play(PLAYED)
    board = "\n".join(await play("bob: /leaderboard"))
    assert "alice 121" in board
    words = await column(play, "SELECT text FROM checkins UNION ALL SELECT text FROM favours "
                               "UNION ALL SELECT text FROM reflections UNION ALL "
                               "SELECT apology FROM conflicts")
    assert set(ALICE_WORDS + BOB_WORDS) <= set(words)
    outbox = repr(await column(play, "SELECT payload FROM outbox"))
    assert "alice (1 confirmation missing)" in outbox  # the first circle's closing post

    reply = await handle(play, "alice", "/forgetme confirm")
    assert [(m.plain(), m.private) for m in reply] == [
        ("A member left the game and their words were erased; the crew's totals stay.", False)]

    # her words are gone from the database, bob's stay; her name is nowhere, not even in the
    # bot's posts or as the author of her messages
    everything = repr(await dump(play))
    assert "alice" not in everything
    for word in BOB_WORDS:
        assert word in everything
    assert await column(play, "SELECT text FROM checkins WHERE member_id = 1") == ["", ""]
    assert await column(play, "SELECT text FROM favours WHERE member_id = 1") == ["", ""]
    assert await column(play, "SELECT text FROM reflections WHERE member_id = 1") == [""]
    assert await column(play, "SELECT apology FROM conflicts") == [""]
    assert "former member (1 confirmation missing)" in repr(
        await column(play, "SELECT payload FROM outbox"))
    async with play.app.game.uow() as store:
        former = await store.crews.member_by_id(1)
    assert (former.name, former.handle, former.user_id, former.hidden, former.active) == (
        "former member", None, "forgotten:1", True, False)
    assert await column(play, "SELECT DISTINCT author FROM message_links ORDER BY author") == [
        "bob", "bot", "forgotten:1"]

    # the ledger keeps her rows, now anonymous: every sum and the crew's total are unchanged
    assert await play.points() == {"former member": 121, "bob": 121}
    after = "\n".join(await play("bob: /leaderboard"))
    assert crew_total(after) == crew_total(board) == (
        "Crew total, all time: 242 points. The game is won together.")
    assert "alice" not in after and "former member" not in after

    # the same person playing again is a new member with nothing of the old one
    lines = await play("""
        alice: /mydata
        alice: /score
        bob: /leaderboard
    """)
    assert "; 0 points." in lines[1] and "   Ledger entries: none." in lines
    assert not any(word in "\n".join(lines) for word in ALICE_WORDS)
    assert lines[-6].startswith("#44 bot: alice: 0 points.")
    assert crew_total("\n".join(lines)) == crew_total(board)
    assert lines[-1] == "   2. alice 0"
    assert await play.points() == {"former member": 121, "bob": 121, "alice": 0}


async def test_forgetme_lets_the_open_circle_close_without_them(play):
    # carol checked in but nobody heard her yet; once she is forgotten the circle is complete
    lines = await play("""
        alice: /checkin a
        bob: /checkin b
        carol: /checkin c
        bob presses "I listened" #2
        alice presses "I listened" #4
        carol: /forgetme confirm
    """)
    assert lines[-2:] == [
        "#10 bot: A member left the game and their words were erased; the crew's totals stay.",
        "#11 bot: The circle is complete: everyone listened to everyone. +1 point each for alice "
        "and bob. Thank you all."]
    assert await play.points() == {"alice": 1, "bob": 1, "former member": 0}


async def test_forgetme_on_every_database(play_any):
    play = play_any
    await play("""
        alice: /checkin alice-checkin
        bob: /ask bob-ask
        alice: /offer @bob alice-offer
        bob presses "Thank you" ^bot
        alice: /reflect alice-reflection
    """)
    board = "\n".join(await play("bob: /leaderboard"))
    assert await play.points() == {"alice": 6, "bob": 6}
    lines = await play("alice: /forgetme CONFIRM")
    assert lines[1].endswith("A member left the game and their words were erased; the crew's "
                             "totals stay.")
    assert await column(play, "SELECT text FROM checkins UNION ALL SELECT text FROM favours "
                               "WHERE member_id = 1 UNION ALL SELECT text FROM reflections") == [
        "", "", ""]
    assert await column(play, "SELECT text FROM favours WHERE member_id = 2") == ["bob-ask"]
    assert "alice" not in repr(await dump(play))
    assert await play.points() == {"former member": 6, "bob": 6}
    after = "\n".join(await play("bob: /leaderboard"))
    assert crew_total(after) == crew_total(board) and "alice" not in after
    lines = await play("alice: /mydata")
    assert "; 0 points." in lines[1] and "alice-" not in "\n".join(lines)
    assert await play.points() == {"former member": 6, "bob": 6, "alice": 0}


async def test_forgetme_takes_them_out_of_posts_not_yet_sent(play):
    await play("""
        alice: /join
        bob: /join
    """)
    async with play.app.game.uow() as store:
        crew = await store.crews.crew("console", "crew")
        assert crew is not None
        now = play.app.game.clock()
        for message in (
                Message(("We missed you, bob.",), dm_to=Mention("bob", "bob")),
                Message((Mention("alice", "alice"), " and ", Mention("bob", "bob"),
                         ": bob and alice, half the time has passed.")),
                Message(("alice and bobby stay; bob's name goes.",))):
            await store.outbox.add_post(crew.id, "console", message.to_json(), now)
        await store.commit()
    await handle(play, "bob", "/forgetme confirm")
    pending = [p.message for p in await play.app.game.pending_posts("console")]
    # the note to bob alone is not sent any more; the others no longer name him
    assert [(m.plain(), m.dm_to) for m in pending] == [
        ("@alice and @former member: former member and alice, half the time has passed.", None),
        ("alice and bobby stay; former member's name goes.", None)]
    assert pending[0].parts[2] == Mention("forgotten:2", "former member")
    assert "bob" not in repr(await column(play, "SELECT payload FROM outbox WHERE id = 1"))


async def test_forgetting_ends_open_repairs_and_ventures_without_points(play):
    await play("""
        alice: /join
        bob: /join
        carol: /join
        alice: /conflict @bob
        bob: /conflict accept 1
        carol: /coown Bread Coop @bob
        bob: /forgetme confirm
        :advance 40d
    """)
    lines = await play("alice: /conflict unresolved 1")
    assert "Conflict 1 is over, as it lapsed" in lines[-1]
    lines = await play("carol: /coown confirm 1")
    assert "You already confirmed venture 1" in lines[-1]
    assert await play.points() == {"alice": 0, "former member": 0, "carol": 0}
