"""Level 1 rules: when a feelings circle is complete, and who is still waiting to be heard."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def missing_confirmations(
    authors: Mapping[int, int], confirmations: Iterable[tuple[int, int]]
) -> dict[int, set[int]]:
    """For each participant, the other participants who have not yet confirmed their check-in.

    `authors` maps check-in id to its author; `confirmations` are (check-in id, listener) pairs.
    """
    participants = set(authors.values())
    heard: dict[int, set[int]] = {author: set() for author in participants}
    for checkin_id, listener in confirmations:
        author = authors.get(checkin_id)
        if author is not None and listener != author:
            heard[author].add(listener)
    return {
        author: (participants - {author}) - listeners
        for author, listeners in heard.items()
        if (participants - {author}) - listeners
    }


def is_complete(authors: Mapping[int, int], confirmations: Iterable[tuple[int, int]]) -> bool:
    """At least two participants, and every one confirmed every other one's check-in."""
    return len(set(authors.values())) >= 2 and not missing_confirmations(authors, confirmations)


def closes_early(
    roster: set[int], authors: Mapping[int, int], confirmations: Iterable[tuple[int, int]]
) -> bool:
    """The circle closes at once when the whole roster checked in and it is complete."""
    return bool(roster) and roster <= set(authors.values()) and is_complete(authors, confirmations)
