"""Strategies shared by the property tests: instants across 2000–2100 in a spread of timezones, with the
awkward edges always in the mix — every DST transition (± a second and an hour) of the sampled years,
New Year's Eve into New Year's Day, and 28/29 February into 1 March, as seen in each zone.

Besides the zones the issue names, three with unusual clocks: America/Santiago and America/Havana change
at local midnight (so a day can start at 01:00, or its first or last hour repeats), and Australia/Lord_Howe
moves by half an hour.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

ZONES = (
    "Europe/London",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "UTC",
    "America/Santiago",
    "America/Havana",
    "Australia/Lord_Howe",
)
YEARS_WITH_EDGES = (2000, 2004, 2011, 2023, 2024, 2026, 2027, 2037, 2038, 2052, 2099, 2100)
FIRST = datetime(2000, 1, 1, tzinfo=UTC)
LAST = datetime(2100, 12, 31, 23, 59, 59, tzinfo=UTC)


def _offset(zone: ZoneInfo, ts: float) -> timedelta:
    return datetime.fromtimestamp(ts, zone).utcoffset()


@cache
def transitions(tz: str) -> tuple[datetime, ...]:
    """The instants (UTC, to the second) at which ``tz`` changes its offset in YEARS_WITH_EDGES."""
    zone = ZoneInfo(tz)
    found: list[datetime] = []
    for year in YEARS_WITH_EDGES:
        ts = datetime(year, 1, 1, tzinfo=UTC).timestamp()
        end = datetime(year + 1, 1, 1, tzinfo=UTC).timestamp()
        while ts < end:
            nxt = ts + 86400
            if _offset(zone, ts) != _offset(zone, nxt):
                lo, hi = int(ts), int(nxt)  # offset(lo) is the old one, offset(hi) the new one
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    if _offset(zone, mid) == _offset(zone, lo):
                        lo = mid
                    else:
                        hi = mid
                found.append(datetime.fromtimestamp(hi, UTC))
            ts = nxt
    return tuple(found)


def _local_instant(day: date, at: time, tz: str) -> datetime:
    return datetime.combine(day, at, ZoneInfo(tz)).astimezone(UTC)


@cache
def edge_instants(tz: str) -> tuple[datetime, ...]:
    """Instants (UTC) near the edges that break date code, as seen in ``tz``."""
    out: set[datetime] = set()
    for t in transitions(tz):
        for delta in (
            timedelta(0),
            timedelta(seconds=1),
            timedelta(hours=1),
            timedelta(hours=-1),
            timedelta(seconds=-1),
        ):
            out.add(t + delta)
    for year in YEARS_WITH_EDGES:
        for day, at in (
            (date(year, 12, 31), time(23, 59, 59)),
            (date(year, 12, 31), time(12, 0)),
            (date(year, 1, 1), time(0, 0)),
            (date(year, 2, 28), time(23, 59, 59)),
            (date(year, 3, 1), time(0, 0)),
            (date(year, 3, 1), time(0, 0, 1)),
        ):
            out.add(_local_instant(day, at, tz))
        if year % 4 == 0 and (year % 100 or year % 400 == 0):
            out.add(_local_instant(date(year, 2, 29), time(0, 0), tz))
            out.add(_local_instant(date(year, 2, 29), time(23, 59, 59), tz))
    return tuple(sorted(t for t in out if FIRST <= t <= LAST))


@cache
def edge_days(tz: str) -> tuple[date, ...]:
    """Local dates worth trying in ``tz``: DST change days (and the days either side), year and February ends."""
    days: set[date] = set()
    for t in transitions(tz):
        local = t.astimezone(ZoneInfo(tz)).date()
        days.update({local - timedelta(days=1), local, local + timedelta(days=1)})
    for year in YEARS_WITH_EDGES:
        days.update({date(year, 12, 31), date(year, 1, 1), date(year, 2, 28), date(year, 3, 1)})
        if year % 4 == 0 and (year % 100 or year % 400 == 0):
            days.add(date(year, 2, 29))
    return tuple(sorted(d for d in days if date(2000, 1, 1) <= d <= date(2100, 12, 31)))


zones = st.sampled_from(ZONES)
any_instant = st.datetimes(
    min_value=FIRST.replace(tzinfo=None), max_value=LAST.replace(tzinfo=None), timezones=st.just(UTC)
)
any_day = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))


def days_between(first: date, last: date, tz: str):
    """Local dates in [first, last], half the time an edge day of ``tz``."""
    edges = [d for d in edge_days(tz) if first <= d <= last]
    return st.one_of(st.sampled_from(edges), st.dates(min_value=first, max_value=last))


@st.composite
def zoned_instants(draw) -> tuple[str, datetime]:
    """(timezone name, aware UTC instant): half the time an edge of that zone, else anywhere in 2000–2100."""
    tz = draw(zones)
    instant = draw(st.one_of(st.sampled_from(edge_instants(tz)), any_instant))
    return tz, instant


@st.composite
def zoned_days(draw) -> tuple[str, date]:
    """(timezone name, local date): half the time an edge day of that zone."""
    tz = draw(zones)
    return tz, draw(st.one_of(st.sampled_from(edge_days(tz)), any_day))


def local(instant: datetime, tz: str) -> datetime:
    return instant.astimezone(ZoneInfo(tz))


def start_of_day(day: date, tz: str) -> datetime:
    """The first instant of the local day (UTC), found by search rather than by combine(): midnight may be
    skipped (the day starts at 01:00) or repeated (the day starts at the first 00:00)."""
    zone = ZoneInfo(tz)
    guess = datetime.combine(day, time(12), zone).astimezone(UTC) - timedelta(hours=40)
    lo, hi = guess, guess + timedelta(hours=60)
    assert lo.astimezone(zone).date() < day <= hi.astimezone(zone).date()
    while hi - lo > timedelta(seconds=1):  # invariant: lo is before the day, hi is on or after it
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid.astimezone(zone).date() < day:
            lo = mid
        else:
            hi = mid
    return hi


# --- properties that need the database -------------------------------------------------------------

# The per-test ``app``/``make`` fixtures are shared by every example of a test, so each example works inside
# a savepoint that is rolled back (``rolled_back``); fewer examples keep the run short.
DB_SETTINGS = settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])


@contextmanager
def rolled_back(*, mail: bool = True):
    """Run one example inside a savepoint and undo it, whatever happens, so examples can't see each other.
    ``mail=False`` skips rendering mail (the slowest part) in examples that don't read it."""
    from program.extensions import db

    savepoint = db.session.begin_nested()
    if not mail:
        db.session.info["suppress_mail"] = True
    try:
        yield
    finally:
        db.session.info.pop("suppress_mail", None)
        if savepoint.is_active:
            savepoint.rollback()
        db.session.expire_all()
