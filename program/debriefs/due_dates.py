"""When a debrief is due: N working days (Mon–Fri) or N days after the activity, per kind, at the end of the
writer's local day. Pure date arithmetic (the rules come from DEBRIEF_DUE)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

from program.activities.models import Activity, ActivityKind

# How long after the activity a debrief is due, per kind: ("working_days" | "days", n).
DUE_RULES: dict[str, tuple[str, int]] = {
    ActivityKind.RIDE_ALONG.value: ("working_days", 2),
    ActivityKind.SHADOW_DAY.value: ("days", 7),
    ActivityKind.REVIEW_MEETING.value: ("working_days", 2),
}


def add_working_days(day: date, n: int) -> date:
    """n working days (Mon–Fri) after ``day``."""
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def parse_due_rules(text: str) -> dict[str, tuple[str, int]]:
    """ "ride_along=2 working_days,shadow_day=7 days" → {"ride_along": ("working_days", 2), ...}."""
    rules = dict(DUE_RULES)
    for item in (text or "").split(","):
        if "=" not in item:
            continue
        kind, _, spec = item.partition("=")
        number, _, unit = spec.strip().partition(" ")
        if number.isdigit() and unit.strip() in ("working_days", "days"):
            rules[kind.strip()] = (unit.strip(), int(number))
    return rules


def due_at_for(
    activity: Activity,
    rules: dict[str, tuple[str, int]] | None = None,
    marked_at: datetime | None = None,
    tz: str | None = None,
) -> datetime:
    """The end of the due day (its last second, 23:59:59 in the writer's timezone ``tz``, else the activity's),
    counted from the activity's local date — or from when attendance was marked, if later, so a correction never
    starts overdue.

    Per kind, from DEBRIEF_DUE (default: ride-alongs and meetings 2 working days, shadow days 7 days).
    """
    if rules is None:
        rules = parse_due_rules(current_app.config.get("DEBRIEF_DUE", "")) if has_app_context() else DUE_RULES
    unit, n = rules.get(activity.kind, ("working_days", 2))
    zone = ZoneInfo(tz or activity.timezone)
    last_moment = activity.ends_at - timedelta(microseconds=1)  # an all-day event ends at the next midnight
    base = max(last_moment, marked_at) if marked_at else last_moment
    local_day = base.astimezone(zone).date()
    due_day = add_working_days(local_day, n) if unit == "working_days" else local_day + timedelta(days=n)
    # The last second before the next local day starts: 23:59:59 on the wall clock, and the second one when the
    # clocks go back at midnight and 23:00–24:00 happens twice (America/Santiago).
    next_day = datetime.combine(due_day + timedelta(days=1), time(0), zone)
    return next_day.astimezone(ZoneInfo("UTC")) - timedelta(seconds=1)
