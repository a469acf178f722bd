"""Clocks: the real one, and a simulated one the console and tests move by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utc_now() -> datetime:
    return datetime.now(UTC)


class SimClock:
    """Real time shifted by an offset, or, when started at a fixed instant, frozen until moved."""

    def __init__(self, start: datetime | None = None) -> None:
        self.frozen = start is not None
        self._at = start.astimezone(UTC) if start else utc_now()
        self._offset = timedelta()

    def __call__(self) -> datetime:
        return self._at if self.frozen else utc_now() + self._offset

    def move_to(self, instant: datetime) -> None:
        if self.frozen:
            self._at = instant
        else:
            self._offset = instant - utc_now()
