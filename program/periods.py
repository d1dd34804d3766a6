"""Calendar periods (month, quarter, half-year, year of local days) and goal pro-rating, as pure date arithmetic.

Rules kept here:
- a period is a calendar month, quarter, half-year or year of LOCAL days in a timezone (the viewer's);
  ``Period.bounds(tz)`` turns its first and after-last local midnights into UTC instants;
- a person is available on a day unless it is before the day they joined or inside a leave they took
  (leave ranges include both ends);
- the target expected over a date range is, summed over each goal period P that overlaps the range,
  ``target × available days of P inside the range ÷ days of P``. So a person who joined half-way
  through a month owes half the month's target, and a monthly target asked of a quarter is three
  months' worth;
- a goal is only judged over a stretch made of whole periods of its own: a quarterly goal is not asked
  of one month (``longer_than``), because a share of it (1 × 30/92 rounds to 0) would read as "met"
  and one done in October would not show in November. Reports show such a goal as "n/a" and point at
  the goal's own period;
- a target is a whole number of activities: the expected value rounded half up (1.5 → 2, 1.49 → 1).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from math import floor
from zoneinfo import ZoneInfo

from program.timeutil import UTC


class PeriodType(enum.StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    HALF = "half"
    YEAR = "year"

    @property
    def label(self) -> str:
        return {"month": "Month", "quarter": "Quarter", "half": "Half-year", "year": "Year"}[self.value]

    @property
    def per(self) -> str:
        return {"month": "per month", "quarter": "per quarter", "half": "per half-year", "year": "per year"}[self.value]


MONTHS_IN = {PeriodType.MONTH: 1, PeriodType.QUARTER: 3, PeriodType.HALF: 6, PeriodType.YEAR: 12}
MONTH_NAMES = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip
_KEY = re.compile(r"^(\d{4})(?:-(?:(\d{2})|Q([1-4])|H([12])))?$")


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def longer_than(goal_period: PeriodType | str, report_period: PeriodType | str) -> bool:
    """True when a goal's period is longer than the stretch being reported (a quarter in a month report).
    Periods are calendar-aligned, so the report period then lies inside exactly one of the goal's."""
    return MONTHS_IN[PeriodType(goal_period)] > MONTHS_IN[PeriodType(report_period)]


@dataclass(frozen=True, order=True)
class Period:
    """One calendar period: ``index`` is the month (1–12), quarter (1–4) or half (1–2); 1 for a year."""

    start: date
    type: PeriodType
    index: int

    @classmethod
    def of(cls, type: PeriodType | str, year: int, index: int = 1) -> Period:
        type = PeriodType(type)
        months = MONTHS_IN[type]
        if not 1 <= index <= 12 // months:
            raise ValueError(f"no {type.value} {index} in a year")
        return cls(date(year, (index - 1) * months + 1, 1), type, index)

    @classmethod
    def containing(cls, type: PeriodType | str, day: date) -> Period:
        type = PeriodType(type)
        return cls.of(type, day.year, (day.month - 1) // MONTHS_IN[type] + 1)

    @classmethod
    def parse(cls, key: str) -> Period | None:
        """ "2026" (year), "2026-H2", "2026-Q4", "2026-11" (month); None when it is none of these."""
        match = _KEY.match((key or "").strip())
        if not match:
            return None
        year, month, quarter, half = match.groups()
        try:
            if month:
                return cls.of(PeriodType.MONTH, int(year), int(month))
            if quarter:
                return cls.of(PeriodType.QUARTER, int(year), int(quarter))
            if half:
                return cls.of(PeriodType.HALF, int(year), int(half))
            return cls.of(PeriodType.YEAR, int(year))
        except ValueError:
            return None

    @property
    def year(self) -> int:
        return self.start.year

    @property
    def end(self) -> date:
        """The first day after the period."""
        return _add_months(self.start, MONTHS_IN[self.type])

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def key(self) -> str:
        return {
            PeriodType.MONTH: f"{self.year}-{self.index:02d}",
            PeriodType.QUARTER: f"{self.year}-Q{self.index}",
            PeriodType.HALF: f"{self.year}-H{self.index}",
            PeriodType.YEAR: f"{self.year}",
        }[self.type]

    @property
    def label(self) -> str:
        return {
            PeriodType.MONTH: f"{MONTH_NAMES[self.start.month - 1]} {self.year}",
            PeriodType.QUARTER: f"Q{self.index} {self.year}",
            PeriodType.HALF: f"H{self.index} {self.year}",
            PeriodType.YEAR: f"{self.year}",
        }[self.type]

    def shifted(self, n: int) -> Period:
        """The period ``n`` periods later (earlier when negative)."""
        return Period.containing(self.type, _add_months(self.start, n * MONTHS_IN[self.type]))

    def bounds(self, tz: str) -> tuple[datetime, datetime]:
        return local_bounds(self.start, self.end, tz)

    def __str__(self) -> str:
        return self.label


def local_today(now: datetime, tz: str) -> date:
    return now.astimezone(ZoneInfo(tz)).date()


def local_bounds(start: date, end: date, tz: str) -> tuple[datetime, datetime]:
    """Local midnight of ``start`` and of ``end`` in ``tz``, as UTC instants ([start, end) in local days)."""
    zone = ZoneInfo(tz)
    return (
        datetime.combine(start, time(0), zone).astimezone(UTC),
        datetime.combine(end, time(0), zone).astimezone(UTC),
    )


def periods_between(type: PeriodType | str, start: date, end: date) -> list[Period]:
    """Every period of ``type`` that overlaps the local days [start, end)."""
    found: list[Period] = []
    if end <= start:
        return found
    period = Period.containing(type, start)
    while period.start < end:
        found.append(period)
        period = period.shifted(1)
    return found


# --- availability and pro-rating ---------------------------------------------------------------

Span = tuple[date, date]  # [first day, day after the last)


def unavailable_spans(joined: date | None, leaves: Iterable[tuple[date, date]]) -> list[Span]:
    """Merged spans of days someone was not there: before ``joined``, and each leave (both ends included)."""
    spans = [(date.min, joined)] if joined else []
    spans += [(first, last + timedelta(days=1)) for first, last in leaves if last >= first]
    spans.sort()
    merged: list[Span] = []
    for first, after in spans:
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], after))
        else:
            merged.append((first, after))
    return merged


def available_days(start: date, end: date, away: Sequence[Span] = ()) -> int:
    """Days in [start, end) that are not in any of the (merged) ``away`` spans."""
    if end <= start:
        return 0
    total = (end - start).days
    for first, after in away:
        lo, hi = max(first, start), min(after, end)
        if hi > lo:
            total -= (hi - lo).days
    return total


def expected_target(target: int, type: PeriodType | str, start: date, end: date, away: Sequence[Span] = ()) -> Fraction:
    """What a goal of ``target`` per ``type`` asks of someone over the local days [start, end), exactly."""
    owed = Fraction(0)
    for period in periods_between(type, start, end):
        days = available_days(max(period.start, start), min(period.end, end), away)
        owed += Fraction(target * days, period.days)
    return owed


def round_half_up(value: Fraction) -> int:
    return floor(value + Fraction(1, 2))
