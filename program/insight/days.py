"""The date filters of the insight pages: whole local days, as UTC instants."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from program.timeutil import UTC


def day_bounds(day_from: date | None, day_to: date | None, tz: str) -> tuple[datetime | None, datetime | None]:
    """Whole local days [from 00:00, the day after ``to`` 00:00) in ``tz``, as UTC instants."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day_from, time(0), zone).astimezone(UTC) if day_from else None
    end = datetime.combine(day_to + timedelta(days=1), time(0), zone).astimezone(UTC) if day_to else None
    return start, end
