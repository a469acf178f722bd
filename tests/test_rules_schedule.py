"""Level 3 rules: reading meeting rules, their instants across daylight saving, and durations."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import pytest

from bot.rules.schedule import (
    MeetingRule,
    RuleError,
    month_key,
    occurrences_after,
    parse_duration,
    parse_rule,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
HELP = "first|second|third|fourth|last <weekday> HH:MM"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def next_ones(rule: str, after: datetime, tz: ZoneInfo, n: int) -> list[datetime]:
    return list(islice(occurrences_after(parse_rule(rule), after, tz), n))


# ---- parse_rule -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ordinal", "weekday", "day", "at", "canonical"),
    [
        ("first tuesday 19:00", 1, 1, None, time(19, 0), "first tuesday 19:00"),
        ("second monday 08:15", 2, 0, None, time(8, 15), "second monday 08:15"),
        ("third sunday 23:59", 3, 6, None, time(23, 59), "third sunday 23:59"),
        ("fourth thursday 00:00", 4, 3, None, time(0, 0), "fourth thursday 00:00"),
        ("last friday 7:30", -1, 4, None, time(7, 30), "last friday 07:30"),
        ("First TUESDAY 19:00", 1, 1, None, time(19, 0), "first tuesday 19:00"),
        ("last wed 18:00", -1, 2, None, time(18, 0), "last wednesday 18:00"),
        ("day 15 18:30", None, None, 15, time(18, 30), "day 15 18:30"),
        ("  day   1   00:00 ", None, None, 1, time(0, 0), "day 1 00:00"),
        ("DAY 31 9:05", None, None, 31, time(9, 5), "day 31 09:05"),
    ],
)
def test_parse_rule_reads_valid_rules(
    text: str, ordinal: int | None, weekday: int | None, day: int | None, at: time,
    canonical: str,
) -> None:
    rule = parse_rule(text)
    assert (rule.ordinal, rule.weekday, rule.day, rule.at) == (ordinal, weekday, day, at)
    assert str(rule) == canonical


@pytest.mark.parametrize(
    "text",
    ["first tuesday 19:00", "last sun 6:00", "day 31 23:59", "fourth sat 12:00", "day 7 7:07"],
)
def test_a_stored_rule_reads_back_as_the_same_rule(text: str) -> None:
    # the crew's schedule is stored as str(rule) and parsed again to plan each meeting
    rule = parse_rule(text)
    assert parse_rule(str(rule)) == rule


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", HELP),
        ("first tuesday", HELP),
        ("first tuesday 19:00 weekly", HELP),
        ("fifth tuesday 19:00", HELP),
        ("every tuesday 19:00", HELP),
        ("first funday 19:00", "'funday' is not a weekday"),
        ("first tuesdays 19:00", "'tuesdays' is not a weekday"),
        ("first 3 19:00", "'3' is not a weekday"),
        ("day 0 19:00", "from 1 to 31"),
        ("day 32 19:00", "from 1 to 31"),
        ("day -1 19:00", "from 1 to 31"),
        ("day x 19:00", "from 1 to 31"),
        ("day 15 24:00", "'24:00' is not a time of day like 19:00"),
        ("day 15 19:60", "'19:60' is not a time of day"),
        ("day 15 7pm", "'7pm' is not a time of day"),
        ("day 15 19.00", "'19.00' is not a time of day"),
        ("first tuesday 1900", "'1900' is not a time of day"),
        ("first tuesday 7:5", "'7:5' is not a time of day"),
    ],
)
def test_parse_rule_refuses_bad_rules_saying_how(text: str, hint: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule(text)
    assert hint in str(caught.value)
    assert HELP in str(caught.value)


def test_a_huge_bad_word_is_not_echoed_back_in_full() -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule("first " + "x" * 5000 + " 19:00")
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize("text", ["day ² 19:00", "day ³ 19:00"])
def test_a_digit_like_day_is_refused_as_a_rule_error(text: str) -> None:
    # '²'.isdigit() is True but int('²') fails: /meeting schedule must still explain, not crash
    with pytest.raises(RuleError, match="from 1 to 31"):
        parse_rule(text)


@pytest.mark.parametrize("text", ["first t 19:00", "first s 19:00"])
def test_an_ambiguous_weekday_abbreviation_is_refused(text: str) -> None:
    # 't' could be tuesday or thursday, 's' saturday or sunday: guessing schedules the wrong day
    with pytest.raises(RuleError, match="not a weekday"):
        parse_rule(text)


# ---- occurrences_after ----------------------------------------------------------------------


def test_first_tuesday_in_berlin_follows_the_wall_clock_across_the_autumn_change() -> None:
    assert next_ones("first tuesday 19:00", utc(2026, 9, 15), BERLIN, 2) == [
        utc(2026, 10, 6, 17, 0),  # CEST, UTC+2
        utc(2026, 11, 3, 18, 0),  # CET, UTC+1
    ]


def test_first_tuesday_in_new_york_crosses_midnight_utc_after_the_change() -> None:
    assert next_ones("first tuesday 19:00", utc(2026, 9, 15), NEW_YORK, 2) == [
        utc(2026, 10, 6, 23, 0),  # EDT, UTC-4
        utc(2026, 11, 4, 0, 0),  # EST, UTC-5
    ]


def test_first_tuesday_in_berlin_across_the_spring_change() -> None:
    assert next_ones("first tuesday 19:00", utc(2026, 2, 10), BERLIN, 2) == [
        utc(2026, 3, 3, 18, 0),  # CET
        utc(2026, 4, 7, 17, 0),  # CEST
    ]


@pytest.mark.parametrize("tz", [BERLIN, NEW_YORK], ids=["berlin", "new-york"])
def test_a_year_of_meetings_keeps_local_time_and_weekday(tz: ZoneInfo) -> None:
    starts = next_ones("first tuesday 19:00", utc(2026, 1, 1), tz, 12)
    local = [s.astimezone(tz) for s in starts]
    assert [(d.hour, d.minute, d.weekday()) for d in local] == [(19, 0, 1)] * 12
    assert all(d.day <= 7 for d in local)
    assert [d.month for d in local] == list(range(1, 13))


@pytest.mark.parametrize(
    ("rule", "tz", "after", "expected", "local_hhmm"),
    [
        # Berlin jumps 02:00 -> 03:00 on Sunday 29 March 2026
        ("last sunday 02:30", BERLIN, utc(2026, 3, 1), utc(2026, 3, 29, 1, 30), "03:30"),
        # New York jumps 02:00 -> 03:00 on Sunday 8 March 2026
        ("second sunday 02:30", NEW_YORK, utc(2026, 3, 1), utc(2026, 3, 8, 7, 30), "03:30"),
        ("second sunday 02:00", NEW_YORK, utc(2026, 3, 1), utc(2026, 3, 8, 7, 0), "03:00"),
    ],
)
def test_a_time_in_the_spring_forward_gap_moves_to_after_the_gap(
    rule: str, tz: ZoneInfo, after: datetime, expected: datetime, local_hhmm: str
) -> None:
    [start] = next_ones(rule, after, tz, 1)
    assert start == expected
    assert start.astimezone(tz).strftime("%H:%M") == local_hhmm


@pytest.mark.parametrize(
    ("rule", "tz", "after", "expected"),
    [
        # Berlin repeats 02:00-03:00 on Sunday 25 October 2026: the first 02:30 (CEST) is used
        ("last sunday 02:30", BERLIN, utc(2026, 10, 1), utc(2026, 10, 25, 0, 30)),
        # New York repeats 01:00-02:00 on Sunday 1 November 2026: the first 01:30 (EDT)
        ("first sunday 01:30", NEW_YORK, utc(2026, 10, 15), utc(2026, 11, 1, 5, 30)),
    ],
)
def test_a_time_repeated_by_the_autumn_change_meets_once_at_the_first(
    rule: str, tz: ZoneInfo, after: datetime, expected: datetime
) -> None:
    first, second = next_ones(rule, after, tz, 2)
    assert first == expected
    assert second - first > timedelta(days=27)


def test_occurrences_are_strictly_after_the_given_instant() -> None:
    meeting = utc(2026, 10, 6, 17, 0)
    assert next_ones("first tuesday 19:00", meeting, BERLIN, 1) == [utc(2026, 11, 3, 18, 0)]
    just_before = meeting - timedelta(seconds=1)
    assert next_ones("first tuesday 19:00", just_before, BERLIN, 1) == [meeting]


def test_the_month_is_the_crews_local_month_not_utcs() -> None:
    # 03:00 UTC on 1 Nov is still 31 Oct, 23:00 in New York: tonight's meeting is not skipped
    after = utc(2026, 11, 1, 3, 0)
    assert next_ones("last saturday 23:30", after, NEW_YORK, 1) == [utc(2026, 11, 1, 3, 30)]
    # 23:30 UTC on 31 Oct is already 1 Nov, 00:30 in Berlin: 00:15 that day has passed
    after = utc(2026, 10, 31, 23, 30)
    assert next_ones("day 1 00:15", after, BERLIN, 1) == [utc(2026, 11, 30, 23, 15)]
    assert next_ones("day 1 01:00", after, BERLIN, 1) == [utc(2026, 11, 1, 0, 0)]


def test_day_31_clamps_to_each_months_last_day() -> None:
    starts = next_ones("day 31 12:00", utc(2026, 1, 1), ZoneInfo("UTC"), 12)
    assert [s.day for s in starts] == [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def test_day_30_in_a_leap_february_is_the_29th() -> None:
    [start] = next_ones("day 30 12:00", utc(2028, 2, 1), BERLIN, 1)
    assert start.astimezone(BERLIN).date().isoformat() == "2028-02-29"


def test_fourth_and_last_differ_in_a_month_with_five_of_that_weekday() -> None:
    # October 2026 has Thursdays on the 1st, 8th, 15th, 22nd and 29th
    [fourth] = next_ones("fourth thursday 18:00", utc(2026, 10, 1), BERLIN, 1)
    [last] = next_ones("last thursday 18:00", utc(2026, 10, 1), BERLIN, 1)
    assert fourth.astimezone(BERLIN).day == 22
    assert last.astimezone(BERLIN).day == 29


def test_meetings_continue_from_december_into_january() -> None:
    starts = next_ones("day 15 18:30", utc(2026, 12, 1), BERLIN, 2)
    assert [month_key(s, BERLIN) for s in starts] == ["2026-12", "2027-01"]


def test_by_default_two_years_of_meetings_one_per_month_in_order() -> None:
    starts = list(occurrences_after(parse_rule("last friday 19:00"), utc(2026, 5, 20), BERLIN))
    assert len(starts) == 24
    assert starts == sorted(starts)
    assert len({month_key(s, BERLIN) for s in starts}) == 24


def test_count_limits_the_number_of_occurrences() -> None:
    rule = parse_rule("day 1 10:00")
    assert len(list(occurrences_after(rule, utc(2026, 1, 1), BERLIN, count=3))) == 3


def test_month_key_uses_the_crews_time_zone() -> None:
    instant = utc(2026, 10, 31, 23, 30)
    assert month_key(instant, BERLIN) == "2026-11"
    assert month_key(instant, NEW_YORK) == "2026-10"


def test_meeting_rule_local_date_for_last_weekday() -> None:
    rule = MeetingRule(at=time(19, 0), ordinal=-1, weekday=0)
    assert rule.local_date(2026, 8).isoformat() == "2026-08-31"


# ---- parse_duration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("90m", timedelta(minutes=90)),
        ("25h", timedelta(hours=25)),
        ("3d", timedelta(days=3)),
        ("2w", timedelta(weeks=2)),
        ("1d12h", timedelta(hours=36)),
        ("1w2d3h4m", timedelta(days=9, hours=3, minutes=4)),
        (" 2W ", timedelta(days=14)),
        ("3660d", timedelta(days=3660)),
    ],
)
def test_parse_duration_reads_spans(text: str, span: timedelta) -> None:
    assert parse_duration(text) == span


@pytest.mark.parametrize(
    "text",
    ["", "   ", "abc", "90", "m", "-5m", "1.5h", "90 m", "1d 12h", "90s", "1y", "h1", "1d12"],
)
def test_parse_duration_refuses_malformed_spans_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match="like 90m, 25h, 3d, 2w or 1d12h"):
        parse_duration(text)


def test_parse_duration_refuses_more_than_ten_years() -> None:
    with pytest.raises(ValueError, match="ten years"):
        parse_duration("3661d")


@pytest.mark.parametrize("text", ["99999999999999999999d", "9999999999999m"])
def test_parse_duration_refuses_an_enormous_number_as_a_value_error(text: str) -> None:
    # callers catch ValueError to explain the input; an OverflowError escapes them
    with pytest.raises(ValueError):
        parse_duration(text)
