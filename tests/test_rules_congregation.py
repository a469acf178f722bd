"""The congregation's pure rules: join codes people can read aloud, when a crew is open or full,
and the knock limit."""

from __future__ import annotations

from bot.rules import congregation as rules
from bot.rules.settings import SettingError, parse_setting


def test_codes_are_eight_unmistakable_characters_and_typed_any_way():
    codes = {rules.new_code() for _ in range(200)}
    assert len(codes) == 200  # no repeats in a few hundred
    for code in codes:
        assert len(code) == 8 and not set(code) & set("01OIL")
    assert rules.typed_code(" ab-cd 23 xy ") == "ABCD23XY"


def test_a_crew_is_open_only_when_its_admins_say_so_and_it_has_a_free_place():
    assert not rules.is_open(3, {})  # closed unless opened
    assert rules.is_open(3, {"open": "yes"})
    assert rules.free_places(7, {"open": "yes"}) == 1
    assert not rules.is_open(8, {"open": "yes"})  # the essay's crew of 8 is full
    assert rules.free_places(9, {}) == 0  # never negative
    partnership = {"open": "yes", "max_size": 2}
    assert rules.is_open(1, partnership) and not rules.is_open(2, partnership)
    assert rules.capacity({"max_size": 12}) == 12


def test_knocks_are_limited_to_three_a_day():
    assert [rules.may_knock(n) for n in range(5)] == [True, True, True, False, False]


def test_the_settings_refuse_what_they_cannot_take_and_say_what_to_write():
    assert parse_setting("open", "YES") == ("open", "yes")
    assert parse_setting("max_size", "2") == ("max_size", 2)
    for name, value, hint in (("open", "maybe", "/settings open yes"),
                              ("max_size", "1", "/settings max_size 8"),
                              ("congregation_board", "hidden", "/settings congregation_board")):
        try:
            parse_setting(name, value)
        except SettingError as error:
            assert hint in str(error)
        else:
            raise AssertionError(f"{name} {value} was taken")
