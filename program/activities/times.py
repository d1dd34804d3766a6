"""Times of an activity as its host enters them: a local date with start and end times in a timezone, checked and
turned into UTC instants. Used by the kinds' forms (ride-along calls, review meetings)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from program.timeutil import UTC, is_valid_timezone


def local_to_utc(day, at, tz: str) -> datetime:
    """A wall-clock time in a zone → aware UTC; refuses times that don't exist (DST gap)."""
    zone = ZoneInfo(tz)
    local = datetime.combine(day, at).replace(tzinfo=zone)
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise ValueError("That time doesn't exist on this day (the clocks change); pick another.")
    return local.astimezone(UTC)


def validate_time_window(
    day, start, end, tz: str, now: datetime, *, noun: str, max_hours: int, current_start: datetime | None = None
) -> tuple[dict[str, str], datetime | None, datetime | None]:
    """Check a date with start and end times in ``tz`` (the form fields day/start/end/timezone): both exist,
    it ends after it starts, lasts at most ``max_hours``, and starts in the future unless the start is
    unchanged (``current_start``, when editing). Returns (errors by field, starts_at, ends_at)."""
    errors: dict[str, str] = {}
    if not is_valid_timezone(tz or ""):
        errors["timezone"] = "Choose a timezone."
    if day is None:
        errors["day"] = f"Give the date of the {noun}."
    if start is None:
        errors["start"] = "Give the start time."
    if end is None:
        errors["end"] = "Give the end time."
    if errors:
        return errors, None, None
    try:
        starts = local_to_utc(day, start, tz)
    except ValueError as exc:
        return {"start": str(exc)}, None, None
    try:
        ends = local_to_utc(day, end, tz)
    except ValueError as exc:
        return {"end": str(exc)}, None, None
    if ends <= starts:
        errors["end"] = f"The {noun} must end after it starts."
    elif ends - starts > timedelta(hours=max_hours):
        errors["end"] = f"A {noun} can last at most {max_hours} hours."
    if starts != current_start and starts <= now:
        errors["start"] = f"The {noun} must start in the future."
    return errors, starts, ends
