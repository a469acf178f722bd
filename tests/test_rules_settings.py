"""Crew settings: GAME.md's defaults, range checks, time zones, emoji lists and practices."""

from __future__ import annotations

from typing import Any

import pytest

from bot.rules.settings import (
    PRACTICES,
    SETTINGS,
    SettingError,
    effective,
    parse_setting,
    show,
)

# GAME.md's defaults
GAME_DEFAULTS: dict[str, Any] = {
    "circle_hours": 24,
    "ask_cap": 3,
    "offer_cap": 5,
    "reflect_days": 3,
    "attendance_hours": 3,
    "conflict_days": 30,
    "listening_emoji": [],  # any emoji confirms listening
}

RANGES = [
    ("circle_hours", 1, 168),
    ("ask_cap", 0, 50),
    ("offer_cap", 0, 50),
    ("reflect_days", 0, 14),
    ("attendance_hours", 1, 24),
    ("conflict_days", 2, 365),
    ("rate_limit", 0, 600),
]


@pytest.mark.parametrize(("name", "default"), GAME_DEFAULTS.items(), ids=list(GAME_DEFAULTS))
def test_a_new_crew_plays_with_game_md_defaults(name: str, default: Any) -> None:
    assert effective({})[name] == default


def test_a_new_crew_has_no_extra_practice_and_a_valid_time_zone() -> None:
    settings = effective({})
    assert settings["practice"] == "none"
    assert parse_setting("timezone", settings["timezone"]) == ("timezone", settings["timezone"])


def test_overrides_replace_only_their_own_setting() -> None:
    settings = effective({"ask_cap": 7, "timezone": "Europe/Berlin"})
    assert settings["ask_cap"] == 7
    assert settings["timezone"] == "Europe/Berlin"
    assert settings["offer_cap"] == GAME_DEFAULTS["offer_cap"]
    assert set(settings) == set(SETTINGS)


@pytest.mark.parametrize(("name", "low", "high"), RANGES, ids=[r[0] for r in RANGES])
def test_range_boundaries_are_accepted(name: str, low: int, high: int) -> None:
    assert parse_setting(name, str(low)) == (name, low)
    assert parse_setting(name, str(high)) == (name, high)


@pytest.mark.parametrize(("name", "low", "high"), RANGES, ids=[r[0] for r in RANGES])
def test_values_outside_the_range_are_refused_naming_the_range(
    name: str, low: int, high: int
) -> None:
    for bad in (low - 1, high + 1):
        with pytest.raises(SettingError, match=f"{name} must be from {low} to {high}, not {bad}"):
            parse_setting(name, str(bad))


@pytest.mark.parametrize("text", ["abc", "2.5", "", "ten", "1e2"])
def test_a_number_setting_refuses_words_with_the_range(text: str) -> None:
    with pytest.raises(SettingError, match="circle_hours takes a whole number from 1 to 168"):
        parse_setting("circle_hours", text)


def test_setting_names_are_case_insensitive_and_values_trimmed() -> None:
    assert parse_setting("Circle_Hours", "  48 ") == ("circle_hours", 48)


def test_an_unknown_setting_is_refused_listing_the_real_ones() -> None:
    with pytest.raises(SettingError) as caught:
        parse_setting("circlehours", "24")
    message = str(caught.value)
    assert "There is no setting 'circlehours'" in message
    assert all(name in message for name in SETTINGS)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "UTC", "Asia/Kolkata"])
def test_iana_time_zones_are_accepted(zone: str) -> None:
    assert parse_setting("timezone", zone) == ("timezone", zone)


@pytest.mark.parametrize(
    "text",
    ["Mars/Olympus_Mons", "Berlin", "CEST+2", "../../etc/passwd", "/etc/localtime", "Europe/"],
)
def test_an_unknown_time_zone_is_refused_with_an_example(text: str) -> None:
    with pytest.raises(SettingError, match="Europe/Berlin"):
        parse_setting("timezone", text)


@pytest.mark.parametrize(
    "text", ["Europe", "America/Argentina", "Etc", "x" * 300],
    ids=["Europe", "America-Argentina", "Etc", "300-chars"],
)
def test_a_time_zone_folder_or_overlong_name_is_refused_as_a_setting_error(text: str) -> None:
    # 'Europe' is a folder of zones, not a zone: /settings must explain, not fail with an OSError
    with pytest.raises(SettingError, match="not a time zone I know"):
        parse_setting("timezone", text)


@pytest.mark.parametrize("text", ["any", "ANY", " Any "])
def test_listening_emoji_any_means_every_emoji(text: str) -> None:
    assert parse_setting("listening_emoji", text) == ("listening_emoji", [])
    assert show([]) == "any"


def test_listening_emoji_list_keeps_the_crews_choice_in_order() -> None:
    key, value = parse_setting("listening_emoji", "👍 ❤️ 🙏")
    assert (key, value) == ("listening_emoji", ["👍", "❤️", "🙏"])
    assert show(value) == "👍 ❤️ 🙏"
    assert parse_setting("listening_emoji", show(value))[1] == value


@pytest.mark.parametrize("text", ["", "   ", " ".join(["👍"] * 21), "x" * 17])
def test_listening_emoji_refuses_empty_overlong_or_too_many(text: str) -> None:
    with pytest.raises(SettingError, match="'any' or up to 20 emoji"):
        parse_setting("listening_emoji", text)


def test_listening_emoji_accepts_twenty() -> None:
    assert len(parse_setting("listening_emoji", " ".join(["👍"] * 20))[1]) == 20


@pytest.mark.parametrize("practice", list(PRACTICES))
def test_every_practice_can_be_chosen_in_any_case(practice: str) -> None:
    assert parse_setting("practice", practice.upper()) == ("practice", practice)


def test_an_unknown_practice_is_refused_listing_the_choices() -> None:
    with pytest.raises(SettingError) as caught:
        parse_setting("practice", "yoga")
    assert all(name in str(caught.value) for name in PRACTICES)


@pytest.mark.parametrize(("value", "shown"), [(24, "24"), ("Europe/Berlin", "Europe/Berlin")])
def test_show_prints_plain_values(value: Any, shown: str) -> None:
    assert show(value) == shown
