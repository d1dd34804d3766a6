"""Calendar periods in the viewer's timezone: goal periods (``program.periods``: month, quarter, half,
year) and contest periods (``program.insight.contest``: month, quarter), and whole-day filters.

For any instant and zone the period containing it (by its local date) has UTC bounds that contain it; the
bounds are the first instants of the period's first local day and of the next period's, so consecutive
periods tile the timeline with no gap or overlap — also when local midnight is skipped or repeated.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from program.insight import contest
from program.insight.days import day_bounds
from program.periods import Period, PeriodType, local_bounds, local_today, periods_between
from tests.factories.strategies import local, start_of_day, zoned_days, zoned_instants

FIRST_MONTHS = {
    PeriodType.MONTH: set(range(1, 13)),
    PeriodType.QUARTER: {1, 4, 7, 10},
    PeriodType.HALF: {1, 7},
    PeriodType.YEAR: {1},
}
types = st.sampled_from(list(PeriodType))
EPSILON = timedelta(microseconds=1)


@given(case=zoned_instants(), type=types)
@example(case=("America/Santiago", datetime.fromisoformat("2026-09-06T04:00:00+00:00")), type=PeriodType.MONTH)
@example(case=("America/Havana", datetime.fromisoformat("2026-11-01T04:00:00+00:00")), type=PeriodType.QUARTER)
@example(case=("Pacific/Chatham", datetime.fromisoformat("2026-12-31T10:15:00+00:00")), type=PeriodType.YEAR)
@example(case=("Australia/Sydney", datetime.fromisoformat("2028-02-29T13:00:00+00:00")), type=PeriodType.MONTH)
def test_goal_periods_contain_the_instant_and_tile_the_timeline(case, type):
    tz, instant = case
    today = local_today(instant, tz)
    period = Period.containing(type, today)
    start, end = period.bounds(tz)

    assert period.start <= today < period.end
    assert start <= instant < end
    # It starts at the first instant of the local first day of a month that starts this kind of period.
    assert period.start.day == 1 and period.start.month in FIRST_MONTHS[type]
    assert start == start_of_day(period.start, tz)
    assert local(start, tz).date() == period.start and local(start - EPSILON, tz).date() < period.start
    if local(start, tz).utcoffset() == local(start - EPSILON, tz).utcoffset():
        assert local(start, tz).time().isoformat() == "00:00:00"  # no clock change: plain local midnight
    # Neighbours meet exactly: no gap, no overlap.
    after, before = period.shifted(1), period.shifted(-1)
    assert after.bounds(tz)[0] == end and before.bounds(tz)[1] == start
    assert before.end == period.start and period.end == after.start
    # A month is 28–31 days, and a longer period is its months end to end.
    months = {PeriodType.MONTH: 1, PeriodType.QUARTER: 3, PeriodType.HALF: 6, PeriodType.YEAR: 12}[type]
    assert 28 * months <= period.days <= 31 * months + 1
    assert Period.parse(period.key) == period
    assert period.shifted(5).shifted(-5) == period


@given(case=zoned_days(), type=types, length=st.integers(min_value=0, max_value=800))
def test_periods_between_cover_a_range_exactly_once(case, type, length):
    tz, first = case
    after = first + timedelta(days=length)
    found = periods_between(type, first, after)
    if length == 0:
        assert found == []
        return
    assert found[0].start <= first < found[0].end
    assert found[-1].start < after <= found[-1].end
    for a, b in zip(found, found[1:], strict=False):
        assert a.end == b.start and a.type == b.type == type
    assert sum((min(p.end, after) - max(p.start, first)).days for p in found) == length


@given(case=zoned_instants(), kind=st.sampled_from(contest.PERIOD_KINDS))
@example(case=("America/Santiago", datetime.fromisoformat("2026-09-06T03:59:59+00:00")), kind=contest.MONTH)
def test_contest_periods_contain_the_instant_and_tile_the_timeline(case, kind):
    tz, instant = case
    period = contest.period_containing(kind, instant, tz)
    start, end = period.bounds
    assert start <= instant < end
    assert start == start_of_day(period.first_day, tz)
    assert period.next().start == end and period.previous().end == start
    assert period.next().previous() == period
    assert contest.period_matching(start, end, tz) == period
    assert contest.parse_period(kind, period.token, tz) == period
    # The contest and the goals agree on what "this month" / "this quarter" is.
    goal_type = PeriodType.MONTH if kind == contest.MONTH else PeriodType.QUARTER
    assert Period.containing(goal_type, local_today(instant, tz)).bounds(tz) == (start, end)


@given(
    case=zoned_days(),
    length=st.integers(min_value=0, max_value=60),
    probe=st.integers(min_value=-2, max_value=62),
    at=st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=25, minutes=59)),
)
def test_day_filters_hold_exactly_the_instants_on_those_local_days(case, length, probe, at):
    """The learnings filter "from day A to day B" (both included) holds an instant iff its local date is
    between A and B."""
    tz, first = case
    last = first + timedelta(days=length)
    start, end = day_bounds(first, last, tz)
    assert (start, end) == local_bounds(first, last + timedelta(days=1), tz)
    instant = start_of_day(first + timedelta(days=probe), tz) + at
    inside = first <= local(instant, tz).date() <= last
    assert (start <= instant < end) == inside
