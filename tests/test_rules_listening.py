"""Level 1 rules: who is still waiting to be heard, when a circle is complete or closes early."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.rules.listening import closes_early, is_complete, missing_confirmations

# check-in id -> author member id: alice (1) wrote check-in 10, bob (2) 20, carol (3) 30
ALICE, BOB, CAROL, DAN = 1, 2, 3, 4
TWO = {10: ALICE, 20: BOB}
THREE = {10: ALICE, 20: BOB, 30: CAROL}
ALL_HEARD_THREE = [(10, BOB), (10, CAROL), (20, ALICE), (20, CAROL), (30, ALICE), (30, BOB)]


def test_two_who_heard_each_other_complete_the_circle() -> None:
    confirmations = [(10, BOB), (20, ALICE)]
    assert missing_confirmations(TWO, confirmations) == {}
    assert is_complete(TWO, confirmations)


def test_one_sided_listening_names_whose_check_in_waits() -> None:
    confirmations = [(10, BOB)]
    assert missing_confirmations(TWO, confirmations) == {BOB: {ALICE}}
    assert not is_complete(TWO, confirmations)


def test_nobody_listened_yet_everyone_waits_for_everyone_else() -> None:
    assert missing_confirmations(THREE, []) == {
        ALICE: {BOB, CAROL},
        BOB: {ALICE, CAROL},
        CAROL: {ALICE, BOB},
    }


def test_three_participants_one_missing_pair_is_named_exactly() -> None:
    confirmations = [c for c in ALL_HEARD_THREE if c != (30, BOB)]
    assert missing_confirmations(THREE, confirmations) == {CAROL: {BOB}}
    assert not is_complete(THREE, confirmations)
    assert is_complete(THREE, ALL_HEARD_THREE)


def test_confirming_your_own_check_in_does_not_count() -> None:
    confirmations = [(10, ALICE), (20, BOB), (20, ALICE)]
    assert missing_confirmations(TWO, confirmations) == {ALICE: {BOB}}
    assert not is_complete(TWO, confirmations)


def test_a_member_who_did_not_check_in_cannot_stand_in_for_a_participant() -> None:
    # dan listened to both, but bob never confirmed alice's check-in
    confirmations = [(10, DAN), (20, DAN), (20, ALICE)]
    assert missing_confirmations(TWO, confirmations) == {ALICE: {BOB}}
    assert not is_complete(TWO, confirmations)


def test_confirmations_of_unknown_check_ins_are_ignored() -> None:
    confirmations = [(99, ALICE), (98, BOB), (20, ALICE)]
    assert missing_confirmations(TWO, confirmations) == {ALICE: {BOB}}


def test_repeated_confirmations_count_once_and_do_not_break_completion() -> None:
    confirmations = [(10, BOB), (10, BOB), (20, ALICE), (20, ALICE)]
    assert is_complete(TWO, confirmations)


@pytest.mark.parametrize(
    ("authors", "confirmations"),
    [
        ({}, []),
        ({10: ALICE}, []),
        ({10: ALICE}, [(10, BOB)]),
        ({10: ALICE, 11: ALICE}, [(10, BOB), (11, BOB)]),
    ],
    ids=["empty", "alone", "alone-but-heard", "same-author-twice"],
)
def test_a_circle_needs_at_least_two_participants(
    authors: dict[int, int], confirmations: list[tuple[int, int]]
) -> None:
    assert not is_complete(authors, confirmations)


def test_confirmations_may_be_a_one_shot_iterator() -> None:
    def stream() -> Iterator[tuple[int, int]]:
        yield from ALL_HEARD_THREE

    assert is_complete(THREE, stream())
    assert closes_early({ALICE, BOB, CAROL}, THREE, stream())


def test_closes_early_when_the_whole_roster_checked_in_and_was_heard() -> None:
    assert closes_early({ALICE, BOB, CAROL}, THREE, ALL_HEARD_THREE)


def test_does_not_close_early_while_a_roster_member_has_not_checked_in() -> None:
    assert not closes_early({ALICE, BOB, CAROL, DAN}, THREE, ALL_HEARD_THREE)


def test_does_not_close_early_when_everyone_checked_in_but_someone_is_unheard() -> None:
    confirmations = [c for c in ALL_HEARD_THREE if c != (10, CAROL)]
    assert not closes_early({ALICE, BOB, CAROL}, THREE, confirmations)


@pytest.mark.parametrize(
    ("roster", "authors", "confirmations"),
    [
        (set(), {}, []),
        ({ALICE}, {10: ALICE}, []),
        ({ALICE}, {10: ALICE}, [(10, BOB)]),
    ],
    ids=["empty-roster", "roster-of-one", "roster-of-one-heard-by-outsider"],
)
def test_never_closes_early_without_a_real_circle(
    roster: set[int], authors: dict[int, int], confirmations: list[tuple[int, int]]
) -> None:
    assert not closes_early(roster, authors, confirmations)


def test_a_participant_who_left_the_roster_does_not_block_closing_early() -> None:
    # carol checked in and was heard, then left the chat: the remaining roster is all in
    assert closes_early({ALICE, BOB}, THREE, ALL_HEARD_THREE)
