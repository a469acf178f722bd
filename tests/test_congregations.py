"""Congregations in the console: crews of several platforms side by side, the board, the lobby,
knocks that end in an invitation or a decline, and a lobby person who asks to be forgotten."""

from __future__ import annotations

import json
import re

from tests.conftest import Transcript


def said(lines: list[str], start: str) -> str:
    """The whole text of the last bot message containing `start` (its lines joined)."""
    found = ""
    for i, line in enumerate(lines):
        if " bot: " in line and start in line:
            text = [line.split(" bot: ", 1)[1]]
            j = i + 1
            while j < len(lines) and lines[j].startswith("   "):
                text.append(lines[j][3:])
                j += 1
            found = "\n".join(text)
    assert found, f"no bot message with {start!r} in:\n" + "\n".join(lines)
    return found


def number(lines: list[str], start: str) -> str:
    """#N of the last bot message containing `start`."""
    hits = [line for line in lines if " bot: " in line and start in line]
    assert hits, f"no bot message with {start!r}"
    return hits[-1].split(" ", 1)[0]


async def stored_posts(play: Transcript) -> str:
    """Every post the bot keeps in its outbox, of every crew, as one text."""
    async with play.app.game.uow() as store:
        crews = await store.crews.all_crews()
        return json.dumps([payload for crew in crews
                           for _, payload, _ in await store.outbox.crew_posts(crew.id)],
                          ensure_ascii=False)


async def congregation_of_three(play: Transcript) -> str:
    """Two Telegram crews and a Discord one in one congregation; its join code."""
    lines = await play("""
        :room alpha telegram
        ann: /join
        amy: /join
        ann: /ask a lift to the station
        ann: /congregation create Lakeside
    """)
    code = re.search(r"The join code of Lakeside is (\w+)\.", "\n".join(lines)).group(1)
    lines = await play(f"""
        :room beta telegram
        ben: /join
        bo: /join
        bo: /congregation join {code}
        ben: /congregation join {code.lower()}
        :room gamma discord server-1
        gil: /join
        gil: /congregation join
        gil: /congregation join WRONG-CODE
        gil: /congregation join {code}
    """)
    assert "Only a crew admin can join a congregation" in said(lines, "Only a crew admin")
    assert "beta joined the congregation Lakeside, beside 1 crew" in said(lines, "beta joined")
    assert "No crew of this server is in a congregation yet" in said(lines, "No crew of this")
    assert "No congregation has the code WRONG-CODE" in said(lines, "No congregation has")
    assert "gamma joined the congregation Lakeside, beside 2 crews" in said(lines,
                                                                           "gamma joined the")
    # the crews already in hear of it, in their own chats
    assert "News of Lakeside: the crew gamma is in the congregation now too" in said(
        lines + await play(":room alpha"), "News of Lakeside: the crew gamma")
    return code


async def test_three_crews_of_two_platforms_side_by_side_on_the_board(play_any):
    play = play_any
    await congregation_of_three(play)
    lines = await play("""
        :room beta telegram
        ben: /settings practice feelz
        bo: /congregation
    """)
    board = said(lines, "Congregation Lakeside")
    assert board.splitlines()[0] == (
        "Congregation Lakeside: 3 crews side by side. Together this month: 5 points; all time: "
        "5 points. The congregation is won together.")
    assert board.splitlines()[1:] == [
        "1. alpha (Telegram): 2 members, no extra practice, no meeting rhythm set; this month 5 "
        "(Money 5), all time 5 (Money 5); 0 circles completed, 0 meetings held.",
        "2. beta (Telegram): 2 members, practice feelz, no meeting rhythm set; this month 0, "
        "all time 0; 0 circles completed, 0 meetings held.",
        "3. gamma (Discord): 1 member, no extra practice, no meeting rhythm set; this month 0, "
        "all time 0; 0 circles completed, 0 meetings held."]
    for person in ("ann", "amy", "ben", "bo", "gil"):  # crews only, never a member
        assert not re.search(rf"\b{person}\b", board), person
    # a crew may leave the board; the picture draws it too
    lines = await play("""
        :room gamma
        gil: /settings congregation_board no
        gil: /congregation picture
    """)
    board = said(lines, "Congregation Lakeside")
    assert "gamma" not in board and "1 crew chose to stay off the board" in board
    assert any(line.startswith("# picture saved to") for line in lines)


async def test_lobby_knock_invite_join_full_decline_and_forget(play_any):
    play = play_any
    code = await congregation_of_three(play)
    lines = await play(f"""
        :room lobby telegram
        bea: /looking hello
        bea: /congregation lobby {code}
        ann: /congregation lobby {code}
        bea: /checkin how are you all
        bea: /knock beta
        bea: /looking New in town, I hope for a crew that meets on Sundays
        bea: /crews
    """)
    assert "This is a crew's chat, not a congregation's lobby" in said(lines, "not a congr")
    assert "Only a steward of Lakeside can use /congregation lobby. Ask ann" in said(
        lines, "Only a steward")
    assert "This chat is now the lobby of Lakeside" in said(lines, "now the lobby")
    assert "This chat is the lobby of Lakeside" in said(lines, "This chat is the lobby")
    assert "Say a few words first with /looking" in said(lines, "Say a few words first")
    assert "No crew of Lakeside is open right now" in said(lines, "is open right now")

    lines = await play("""
        :room beta
        ben: /settings open yes
        bo: /settings max_size 3
        ben: /settings max_size 3
        :room lobby
        bea: /crews
        bea: /knock gamma
        bea: /knock bet
        bea: /knock beta
    """)
    assert said(lines, "Open crews") == (
        "Open crews of Lakeside:\n- beta (Telegram): no extra practice, no meeting rhythm set, "
        "2 of 3, 1 free place.\nIn the lobby, /knock <crew title> asks one to meet you.")
    assert "gamma plays on Discord, and this lobby is on Telegram" in said(lines, "gamma plays")
    assert "I asked beta to meet you" in said(lines, "I asked beta")
    assert "You already knocked on beta" in said(lines, "You already knocked")
    knock = said(lines, "bea knocks")
    assert "New in town, I hope for a crew that meets on Sundays" in knock
    assert "[Invite] [Decline]" in knock
    assert "# in room beta" in lines
    ref = number(lines, "bea knocks")

    lines = await play(f"""
        :room beta
        bo presses "Invite" {ref}
        ben presses "Invite" {ref}
        ben presses "Invite" {ref}
    """)
    assert "Only a crew admin can answer a knock" in said(lines, "Only a crew admin")
    assert "An invitation to this crew went to bea, privately" in said(lines, "An invitation")
    assert said(lines, "(privately to bea)") == (
        "(privately to bea) beta would like to meet you. Here is your invitation to its chat; it "
        "works once. Joining is your choice. [invitation to room beta]")
    assert "already answered (they were invited)" in said(lines, "already answered")

    lines = await play("""
        bea: /join
        :room lobby
        bea: /looking
        bea: /crews
    """)
    assert "The crew has 3 members" in said(lines, "Welcome, bea")
    # her words lived only while she looked: the bot's copy of her knock no longer has them
    assert "New in town" not in await stored_posts(play)
    assert "Nobody is looking for a crew in Lakeside" in said(lines, "Nobody is looking")
    assert "No crew of Lakeside is open right now" in said(lines, "is open right now")  # full

    # a decline: the person hears that the crew cannot take them in, not who decided
    lines = await play("""
        :room alpha
        ann: /settings open yes
        :room lobby
        cy: /looking Gardener, curious about the game
        cy: /knock alpha
        :room alpha
    """)
    ref = number(lines, "cy knocks")
    lines = await play(f"""
        ann presses "Decline" {ref}
        :room lobby
        cy: /knock alpha
    """)
    assert "The request of cy was declined" in said(lines, "was declined")
    told = said(lines, "(privately to cy)")
    assert told == ("(privately to cy) alpha cannot take you in right now. /crews in the lobby "
                    "lists other open crews.")
    assert not re.search(r"\bann\b", told)
    assert "alpha cannot take anyone in right now" in said(lines, "cannot take anyone")

    # /mydata and /forgetme of a lobby person
    assert "Gardener, curious" in await stored_posts(play)
    data = said(await play("cy: /mydata"), "(privately to cy) What the lobby keeps")
    assert "Gardener, curious about the game" in data and "knocked on alpha" in data
    lines = await play("""
        cy: /forgetme
        cy: /forgetme confirm
        cy: /mydata
        dee: /looking
    """)
    assert "Done: your words and knocks are erased" in said(lines, "Done:")
    assert said(lines, "What the lobby keeps").endswith(
        "- you are not looking (no words kept)\n/looking off erases your words; /forgetme "
        "erases all of it.")
    assert "Nobody is looking" in said(lines, "Nobody is looking")
    assert "Gardener, curious" not in await stored_posts(play)


async def test_knocks_are_limited_a_day(play):
    lines = await play("""
        :room c1 telegram
        a1: /join
        a1: /congregation create Hill
    """)
    code = re.search(r"The join code of Hill is (\w+)\.", "\n".join(lines)).group(1)
    script = [":room c1", "a1: /settings open yes"]
    for n in range(2, 6):
        script += [f":room c{n} telegram", f"a{n}: /join", f"a{n}: /congregation join {code}",
                   f"a{n}: /settings open yes"]
    script += [":room hall telegram", f"a1: /congregation lobby {code}",
               "pat: /looking Looking for company",
               "pat: /knock c1", "pat: /knock c2", "pat: /knock c3", "pat: /knock c4"]
    lines = await play("\n".join(script))
    assert "You knocked 3 times today; that is the limit" in said(lines, "the limit")
    lines = await play(":advance 1d\npat: /knock c4")
    assert "I asked c4 to meet you" in said(lines, "I asked c4")


async def test_crews_of_one_discord_server_join_without_the_code(play):
    lines = await play("""
        :room d1 discord guild-7
        ida: /join
        ida: /congregation create Valley
        :room d2 discord guild-7
        jo: /join
        jo: /congregation join
        :room d3 discord guild-8
        kim: /join
        kim: /congregation join
        :room d2
        jo: /congregation leave
        jo: /congregation
    """)
    assert "d2 joined the congregation Valley, beside 1 crew" in said(lines, "d2 joined")
    assert "No crew of this server is in a congregation yet" in said(lines, "No crew of this")
    assert "d2 left the congregation Valley" in said(lines, "left the congregation")
    assert "This crew is in no congregation" in said(lines, "in no congregation")


async def test_stewards_rename_renew_the_code_and_remove_a_crew(play):
    code = await congregation_of_three(play)
    lines = await play(f"""
        :room beta
        ben: /congregation rename Shore
        :room alpha
        ann: /congregation steward @amy
        amy: /congregation rename Shore
        ann: /congregation code new
        ann: /congregation remove gam
        :room delta telegram
        dot: /join
        dot: /congregation join {code}
    """)
    assert "Only a steward of Lakeside can use /congregation rename. Ask ann" in said(
        lines, "Only a steward")
    assert "amy is now a steward of Lakeside" in said(lines, "now a steward")
    assert "The congregation Lakeside is now called Shore" in said(lines, "now called")
    assert "the old one no longer works" in said(lines, "The new join code")
    assert "gamma is no longer in the congregation Shore" in said(lines, "no longer in")
    assert f"No congregation has the code {code}" in said(lines, "No congregation has")
    lines += await play(":room gamma\ngil: /congregation")
    assert "A steward took this crew out of the congregation Shore" in "\n".join(lines)
    assert "This crew is in no congregation" in said(lines, "in no congregation")


def test_crewbot_export_includes_congregations_and_the_lobby(db_url, tmp_path):
    from tests.test_cli import run

    start = ["--start", "2026-11-02T09:00"]
    made = run("console", "--db", db_url, *start, cwd=tmp_path,
               stdin=":room alpha telegram\nann: /join\nann: /congregation create Lakeside\n")
    assert made.returncode == 0, made.stderr
    code = re.search(r"The join code of Lakeside is (\w+)\.", made.stdout).group(1)
    played = run("console", "--db", db_url, *start, cwd=tmp_path, stdin=(
        f":room gamma discord server-1\ngil: /join\ngil: /congregation join {code}\n"
        f":room lobby telegram\nann: /congregation lobby {code}\n"
        ":room alpha telegram\nann: /settings open yes\n"
        ":room lobby telegram\nbea: /looking New in town\nbea: /knock alpha\n"))
    assert played.returncode == 0, played.stderr
    exported = run("export", "--db", db_url, "--format", "json", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    assert [c["chat_id"] for c in data["crews"]] == ["alpha", "gamma"]  # the lobby is no crew
    [found] = data["congregations"]
    assert found["name"] == "Lakeside" and found["code"] == code
    assert found["crews"] == [
        {"platform": "telegram", "chat_id": "alpha", "title": "alpha"},
        {"platform": "discord", "chat_id": "gamma", "title": "gamma"}]
    assert found["stewards"] == [{"platform": "telegram", "user_id": "ann", "name": "ann"}]
    assert found["lobbies"] == [{"platform": "telegram", "chat_id": "lobby"}]
    assert [(p["user_id"], p["words"]) for p in found["looking"]] == [("bea", "New in town")]
    assert [(k["user_id"], k["crew_chat_id"], k["status"]) for k in found["knocks"]] == [
        ("bea", "alpha", "waiting")]


async def test_a_members_mydata_and_forgetme_in_a_crew_cover_their_lobby_words(play_any):
    play = play_any
    code = await congregation_of_three(play)
    lines = await play(f"""
        :room lobby telegram
        ann: /congregation lobby {code}
        amy: /looking Also curious about a second crew
        :room alpha
        amy: /mydata
    """)
    data = said(lines, "(privately to amy) Everything stored about you")
    assert "In a congregation's lobby (1):" in data
    assert "Also curious about a second crew" in data
    lines = await play("""
        amy: /forgetme confirm
        :room lobby
        ann: /looking
    """)
    assert "Nobody is looking for a crew in Lakeside" in said(lines, "Nobody is looking")


async def test_a_partnership_forms_the_same_way(play):
    lines = await play("""
        :room pair telegram
        pia: /join
        pia: /settings max_size 2
        pia: /settings open yes
        pia: /congregation create Duo
    """)
    code = re.search(r"The join code of Duo is (\w+)\.", "\n".join(lines)).group(1)
    lines = await play(f"""
        :room hall telegram
        pia: /congregation lobby {code}
        raj: /looking Looking for one partner for a small business idea
        raj: /crews
        raj: /knock pair
        :room pair
    """)
    assert "- pair (Telegram): no extra practice, no meeting rhythm set, 1 of 2, 1 free place." \
        in said(lines, "Open crews of Duo")
    ref = number(lines, "raj knocks")
    lines = await play(f"""
        pia presses "Invite" {ref}
        raj: /join
        :room hall
        raj: /crews
    """)
    assert "(privately to raj) pair would like to meet you" in said(lines, "privately to raj")
    assert "No crew of Duo is open right now" in said(lines, "is open right now")
