"""Level 2, money: asks, offers, thanks and the daily caps, played through the console."""

from __future__ import annotations

from tests.conftest import last_bot


async def reasons(play, room: str = "crew") -> list[tuple[str, str, int]]:
    """(member, reason, points) of every ledger entry, in order."""
    for crew in await play.app.game.export():
        if crew.crew.chat_id == room:
            names = {m.id: m.name for m in crew.members}
            return [(names[e.member_id], e.reason, e.points) for e in crew.ledger]
    return []


async def roster(play, room: str = "crew") -> list[str]:
    async with play.app.game.uow() as store:
        crew = await store.crews.crew("console", room)
        assert crew is not None
        return [m.name for m in await store.crews.roster(crew.id)]


async def test_ask_scores_five(play):
    lines = await play("bob: /ask an intro to a bookkeeper")
    assert lines == ["#1 bob: /ask an intro to a bookkeeper",
                     "#2 bot: bob asks (ask 1). +5 points for asking for what you need. "
                     "Anyone can reply to this with /offer."]
    assert await play.points() == {"bob": 5}
    assert await reasons(play) == [("bob", "ask", 5)]


async def test_ask_without_text_or_too_long_is_refused_and_scores_nothing(play):
    lines = await play("""
        bob: /join
        bob: /ask
        bob: /ask@crewbot
    """)
    assert lines[3] == ("#4 bot: Say what you need, e.g. /ask an intro to a bookkeeper. "
                        "Usage: /ask <what you need>")
    assert lines[5] == lines[3].replace("#4", "#6")
    lines = await play("bob: /ask " + "x" * 2001)
    assert "2001 characters; the limit is 2000" in last_bot(lines)
    assert await play.points() == {"bob": 0}
    # none of the refused asks took a place under the cap
    lines = await play("""
        bob: /ask one
        bob: /ask two
        bob: /ask three
    """)
    assert all("+5 points" in line for line in lines if " bot: " in line)
    assert await play.points() == {"bob": 15}


async def test_offer_to_a_member_scores_five_for_the_offerer(play):
    lines = await play("""
        bob: /join
        alice: /offer @bob a lift to the station
    """)
    assert lines[3] == ("#4 bot: alice offers something to @bob (offer 1). +5 points for "
                        "offering. bob, press Thank you or reply /thanks to acknowledge it: "
                        "+1 each. [Thank you]")
    assert await play.points() == {"alice": 5, "bob": 0}


async def test_offer_as_a_reply_to_an_ask_goes_to_the_asker(play):
    lines = await play("""
        alice: /join
        bob: /ask help moving a sofa
        carol replies #4: /offer my van on Saturday
        alice replies #3: /offer two strong arms
    """)
    # offers are numbered apart from asks: the crew's first offer is offer 1
    assert lines[5].startswith("#6 bot: carol offers something to @bob (offer 1). +5 points")
    assert lines[7].startswith("#8 bot: alice offers something to @bob (offer 2). +5 points")
    assert await play.points() == {"alice": 5, "bob": 5, "carol": 5}


async def test_offer_as_a_reply_to_a_money_talk_goes_to_its_author(play):
    lines = await play("""
        alice: /money I code for money and paint for meaning
        bob replies #2: /offer an intro to a gallery
    """)
    assert lines[3].startswith("#4 bot: bob offers something to @alice (offer 1). +5 points")
    assert await play.points() == {"alice": 0, "bob": 5}


async def test_an_at_sign_inside_the_offer_text_is_not_a_second_recipient(play):
    # GAME.md: /offer @member <what you offer>. An e-mail address in the text is not a mention,
    # and the text is kept whole.
    lines = await play("""
        bob: /join
        alice: /offer @bob a lift; mail me at alice@example.com
    """)
    assert lines[3].startswith("#4 bot: alice offers something to @bob (offer 1). +5 points")
    assert await play.points() == {"alice": 5, "bob": 0}
    async with play.app.game.uow() as store:
        offer = await store.favours.favour(1)
    assert offer is not None and offer.text == "a lift; mail me at alice@example.com"


async def test_offer_to_oneself_is_refused(play):
    lines = await play("""
        alice: /join
        alice: /offer @alice a nap
        bob: /ask a nap
        bob replies #6: /offer myself a nap
    """)
    assert lines[3] == ("#4 bot: You can't make an offer to yourself; offer it to another "
                        "member.")
    assert lines[7] == lines[3].replace("#4", "#8")
    assert await play.points() == {"alice": 0, "bob": 5}
    assert await reasons(play) == [("bob", "ask", 5)]


async def test_offer_to_someone_unknown_is_refused_and_enrols_nobody(play):
    lines = await play("""
        alice: /join
        bob: /join
        alice: /offer @zed a coffee
    """)
    assert lines[5].startswith("#6 bot: I don't know @zed in this crew.")
    assert await play.points() == {"alice": 0, "bob": 0}
    assert await roster(play) == ["alice", "bob"]


async def test_offer_to_a_member_who_left_is_refused(play):
    lines = await play("""
        alice: /join
        bob: /ask a ladder
        :leave bob
        alice: /offer @bob my ladder
        alice replies #4: /offer my ladder
    """)
    left = "bob has left this crew. Name someone still in it, or ask bob to come back with /join."
    assert lines[5] == f"#6 bot: {left}"
    assert lines[7] == f"#8 bot: {left}"
    assert await play.points() == {"alice": 0, "bob": 5}


async def test_offer_without_recipient_or_text_is_refused(play):
    lines = await play("""
        alice: /join
        bob: /join
        alice: /offer a lift
        alice: /offer @bob
        alice: /offer @bob @alice a lift
    """)
    assert lines[5].startswith("#6 bot: Say who the offer is for:")
    assert lines[7].startswith("#8 bot: Say what you offer.")
    assert lines[9].startswith("#10 bot: Offer to one member at a time.")
    assert await play.points() == {"alice": 0, "bob": 0}


async def test_thank_you_button_gives_one_to_both(play):
    lines = await play("""
        bob: /join
        alice: /offer @bob a lift
        bob presses "Thank you" #4
    """)
    assert lines[-1] == ("#5 bot: bob thanks alice for offer 1: +1 each for talking and "
                         "listening with mutual regard.")
    assert await play.points() == {"alice": 6, "bob": 1}
    assert await reasons(play) == [("alice", "offer", 5), ("alice", "mutual_regard", 1),
                                   ("bob", "mutual_regard", 1)]


async def test_thanks_with_an_id(play):
    lines = await play("""
        bob: /join
        alice: /offer @bob a lift
        alice: /offer @bob a meal
        bob: /thanks 2
    """)
    assert lines[-1].startswith("#8 bot: bob thanks alice for offer 2: +1 each")
    assert await play.points() == {"alice": 11, "bob": 1}


async def test_thanks_as_a_reply_to_the_offer(play):
    lines = await play("""
        bob: /join
        alice: /offer @bob a lift
        alice: /offer @bob a meal
        bob replies #4: /thanks
        bob replies #5: /thanks
    """)
    assert lines[-3].startswith("#8 bot: bob thanks alice for offer 1: +1 each")
    # a reply to the person's own /offer message names the offer too
    assert lines[-1].startswith("#10 bot: bob thanks alice for offer 2: +1 each")
    assert await play.points() == {"alice": 12, "bob": 2}


async def test_thanks_without_id_when_exactly_one_offer_waits(play):
    lines = await play("""
        bob: /join
        bob: /thanks
        alice: /offer @bob a lift
        alice: /offer @bob a meal
        bob: /thanks
    """)
    assert lines[3] == ("#4 bot: No offer to you is waiting for thanks. /thanks acknowledges an "
                        "offer someone made to you.")
    assert lines[-1] == ("#10 bot: Several offers are waiting for your thanks (1, 2); say which. "
                         "Usage: /thanks [offer number] (or reply to the offer)")
    assert await play.points() == {"alice": 10, "bob": 0}

    lines = await play("""
        bob: /thanks 1
        bob: /thanks
    """)
    assert lines[-1].startswith("#14 bot: bob thanks alice for offer 2: +1 each")
    assert await play.points() == {"alice": 12, "bob": 2}


async def test_only_the_recipient_can_thank_and_only_once(play):
    lines = await play("""
        bob: /join
        carol: /join
        alice: /offer @bob a lift
        alice presses "Thank you" #6
        carol presses "Thank you" #6
        alice: /thanks 1
        carol replies #6: /thanks
    """)
    refusals = [line for line in lines[6:] if " bot: " in line]
    assert refusals == [f"#{n} bot: Only bob, who received offer 1, can thank it. /thanks is "
                        "for offers made to you." for n in (7, 8, 10, 12)]
    assert await play.points() == {"alice": 5, "bob": 0, "carol": 0}

    lines = await play("""
        bob presses "Thank you" #6
        bob presses "Thank you" #6
        bob: /thanks 1
        bob replies #6: /thanks
    """)
    assert lines[0].startswith("#13 bot: bob thanks alice for offer 1")
    again = "You already thanked offer 1; a thank-you counts once, so nothing more is needed."
    assert lines[1:] == [f"#14 bot: {again}", "#15 bob: /thanks 1", f"#16 bot: {again}",
                         "#17 bob: /thanks", f"#18 bot: {again}"]
    assert await play.points() == {"alice": 6, "bob": 1, "carol": 0}


async def test_thanks_for_an_unknown_id_or_not_an_offer_is_refused(play):
    lines = await play("""
        bob: /ask a hand
        bob: /thanks 1
        bob: /thanks 99
        bob: /thanks soon
    """)
    assert lines[3] == ("#4 bot: There is no such offer in this crew. /thanks takes the id of an "
                        "offer made to you.")
    assert lines[5] == lines[3].replace("#4", "#6")
    assert lines[7].startswith("#8 bot: 'soon' is not a")
    assert await play.points() == {"bob": 5}


async def test_a_fourth_ask_of_the_local_day_is_recorded_without_score(play):
    # New York is UTC-5 in November: Mon 09:00 UTC is 04:00 there, and its Monday runs until
    # Tue 05:00 UTC
    lines = await play("""
        alice: /settings timezone America/New_York
        bob: /ask one
        bob: /ask two
        bob: /ask three
        bob: /ask four
    """)
    assert lines[-1] == ("#10 bot: bob asks (ask 4). Recorded, thank you; it did not score, as "
                         "only 3 asks a day score. Tomorrow's will. Anyone can reply to this "
                         "with /offer.")
    assert await play.points() == {"alice": 0, "bob": 15}

    # Tue 03:00 UTC is a new day in UTC but still Monday evening in New York
    lines = await play("""
        :at 2026-11-03T03:00
        bob: /ask five
    """)
    assert "did not score" in last_bot(lines)
    assert await play.points() == {"alice": 0, "bob": 15}

    # Tue 05:30 UTC is 00:30 on Tuesday in New York
    lines = await play("""
        :at 2026-11-03T05:30
        bob: /ask six
    """)
    assert last_bot(lines).startswith("#14 bot: bob asks (ask 6). +5 points")
    assert await play.points() == {"alice": 0, "bob": 20}

    # the unscored asks are real asks: an offer in reply to one scores and can be thanked
    lines = await play("""
        alice replies #10: /offer a hand with four
        bob presses "Thank you" ^bot
    """)
    assert "bob thanks alice for offer 1" in last_bot(lines)
    assert await play.points() == {"alice": 6, "bob": 21}
    async with play.app.game.uow() as store:
        asks = [await store.favours.favour(i) for i in range(1, 7)]
    assert [(f.kind, f.scored) for f in asks if f] == [
        ("ask", True), ("ask", True), ("ask", True), ("ask", False), ("ask", False),
        ("ask", True)]


async def test_the_ask_cap_follows_the_local_day_not_the_utc_day(play):
    # Mon 23:00 and Tue 01:00 UTC are both Monday evening in New York; Tue 04:00 in UTC is
    # still Monday there, and Tue 06:00 UTC is Tuesday
    await play("""
        alice: /settings timezone America/New_York
        :at 2026-11-02T23:00
        bob: /ask one
        bob: /ask two
        :at 2026-11-03T01:00
        bob: /ask three
        bob: /ask four
    """)
    assert await play.points() == {"alice": 0, "bob": 15}
    lines = await play("""
        :at 2026-11-03T06:00
        bob: /ask five
        bob: /ask six
        bob: /ask seven
        bob: /ask eight
    """)
    assert await play.points() == {"alice": 0, "bob": 30}
    assert "did not score" in last_bot(lines)


async def test_the_ask_cap_is_per_member(play):
    await play("""
        bob: /ask one
        bob: /ask two
        bob: /ask three
        carol: /ask one
        bob: /ask four
    """)
    assert await play.points() == {"bob": 15, "carol": 5}


async def test_a_sixth_offer_of_the_local_day_is_recorded_without_score(play):
    await play("""
        alice: /settings timezone America/New_York
        bob: /join
        carol: /join
        alice: /offer @bob one
        alice: /offer @carol two
        alice: /offer @bob three
        alice: /offer @carol four
        alice: /offer @bob five
    """)
    assert await play.points() == {"alice": 25, "bob": 0, "carol": 0}
    lines = await play("alice: /offer @carol six")
    assert lines[1] == ("#18 bot: alice offers something to @carol (offer 6). Recorded, thank "
                        "you; it did not score, as only 5 offers a day score. carol, press Thank "
                        "you or reply /thanks to acknowledge it: +1 each. [Thank you]")
    assert await play.points() == {"alice": 25, "bob": 0, "carol": 0}
    # it is still an offer: carol's thanks is +1 mutual_regard to both (GAME.md caps only the
    # asks and offers themselves)
    lines = await play('carol presses "Thank you" #18')
    assert lines == ["#19 bot: carol thanks alice for offer 6: +1 each for talking and "
                     "listening with mutual regard."]
    assert await play.points() == {"alice": 26, "bob": 0, "carol": 1}

    lines = await play("""
        :at 2026-11-03T04:59
        alice: /offer @bob seven
    """)
    assert "did not score" in last_bot(lines)
    lines = await play("""
        :at 2026-11-03T05:00
        alice: /offer @bob eight
    """)
    assert "+5 points for offering" in last_bot(lines)
    assert await play.points() == {"alice": 31, "bob": 0, "carol": 1}


async def test_the_caps_follow_the_crew_settings(play):
    lines = await play("""
        alice: /settings ask_cap 1
        alice: /settings offer_cap 0
        bob: /ask one
        bob: /ask two
        alice: /offer @bob one
    """)
    assert lines[7] == ("#8 bot: bob asks (ask 2). Recorded, thank you; it did not score, as "
                        "only 1 ask a day scores. Tomorrow's will. Anyone can reply to this "
                        "with /offer.")
    # with a cap of 0 no day scores, so the reply must not promise one
    assert lines[9].startswith("#10 bot: alice offers something to @bob (offer 1). Recorded, "
                               "thank you; it did not score, as offers do not score in this "
                               "crew (offer_cap is 0).")
    assert await play.points() == {"alice": 0, "bob": 5}
    lines = await play("""
        :advance 1d
        alice: /settings ask_cap 0
        bob: /ask three
    """)
    assert "Tomorrow" not in last_bot(lines)
    assert "asks do not score in this crew (ask_cap is 0)" in last_bot(lines)
    assert await play.points() == {"alice": 0, "bob": 5}


async def test_money_replies_with_the_essays_questions_and_scores_nothing(play):
    lines = await play("""
        alice: /money
        bob: /money I write code for money; I teach kids chess for meaning
    """)
    for reply in (lines[1], lines[3]):
        assert "(A) the work you do for money and (B) the work most meaningful to you" in reply
        for question in ("Where does your income come from, and does it support you",
                         "What lifestyle would support you",
                         "which creative new tactics could you try?",
                         "less compromise, more freedom or more impact?",
                         "If you have a surplus"):
            assert question in reply
        assert "How much" not in reply  # the money talk never asks for figures
    assert lines[1].startswith("#2 bot: alice opens a money talk")
    assert lines[3].startswith("#4 bot: bob opens a money talk")
    assert await play.points() == {"alice": 0, "bob": 0}
    assert await reasons(play) == []


async def test_money_text_over_2000_characters_is_refused(play):
    lines = await play("alice: /money " + "m" * 2001)
    assert "2001 characters; the limit is 2000" in last_bot(lines)
    async with play.app.game.uow() as store:
        assert await store.favours.favour(1) is None
