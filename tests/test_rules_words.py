"""The one table of ledger words: every reason has plain words, meetings are named by their day
in the crew's time zone, a correction says what it cancels."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.rules import points
from bot.rules.model import LedgerEntry
from bot.rules.words import COUNTED, REASONS, Lookup, corrected_ids, entry_words

TUESDAY = datetime(2027, 1, 5, 23, 30, tzinfo=UTC)  # already Wednesday in Berlin


def entry(entry_id: int, reason: str, source: str, pts: int = 0) -> LedgerEntry:
    return LedgerEntry(entry_id, 1, 1, pts, 3, reason, source, TUESDAY)


def test_every_reason_of_the_ledger_has_plain_words():
    reasons = {a.reason for a in vars(points).values() if isinstance(a, points.Award)}
    reasons |= {points.meeting_attended(1).reason, points.REVOKED}
    assert reasons == set(REASONS)
    lookup = Lookup({7: TUESDAY}, {}, "UTC")
    for reason in reasons:
        words = entry_words(entry(1, reason, "meeting:7"), lookup)
        assert "_" not in words and "{" not in words and words[0].islower(), words
    # a board without points counts what the crew did, never a penalty or a correction
    assert [reason for reason, _, _ in COUNTED] == [
        "listening_circle", "ask", "offer", "mutual_regard", "meeting_attended",
        "conflict_resolved", "coowners"]


def test_a_meeting_is_named_by_its_day_in_the_crews_time_zone():
    missed = entry(3, "meeting_missed", "meeting:7", -5)
    assert entry_words(missed, Lookup({7: TUESDAY}, {}, "UTC")) == (
        "missed the meeting of Tue 5 Jan")
    assert entry_words(missed, Lookup({7: TUESDAY}, {}, "Europe/Berlin")) == (
        "missed the meeting of Wed 6 Jan")
    came = entry(4, "meeting_attended", "meeting:8", 5)
    assert entry_words(came, Lookup({}, {}, "UTC")) == "came to a meeting"  # not found


def test_a_correction_says_what_it_cancels():
    missed = entry(3, "meeting_missed", "meeting:7", -5)
    correction = entry(9, "revoked", "ledger:3", 5)
    lookup = Lookup({7: TUESDAY}, {3: missed}, "UTC")
    assert entry_words(correction, lookup) == (
        "correction of \u201cmissed the meeting of Tue 5 Jan\u201d")
    assert entry_words(correction, Lookup({}, {}, "UTC")) == "correction of an earlier entry"
    assert corrected_ids([missed, correction]) == {3}
    assert entry_words(entry(5, "something_new", "x:1"), lookup) == "other entry"
