"""Pro-rated goal targets (``program.periods``) and the status rule (``program.goals.progress.classify``).

A person owes, per goal period, ``target × days present in the period ÷ days of the period``; they are absent
before the day they joined and on every day of a leave (both ends included). The owed amount is additive over
adjacent stretches, monotone in the days present, and between 0 and the full target; the whole-number
target is that amount rounded half up.
"""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction
from math import floor

from hypothesis import example, given
from hypothesis import strategies as st

from program.goals.status import Status, classify
from program.periods import (
    Period,
    PeriodType,
    available_days,
    expected_target,
    periods_between,
    round_half_up,
    unavailable_spans,
)
from tests.factories.strategies import edge_days

types = st.sampled_from(list(PeriodType))
targets = st.integers(min_value=0, max_value=40)
period_days = st.one_of(
    st.sampled_from(edge_days("Europe/London")),
    st.dates(min_value=date(2000, 3, 1), max_value=date(2100, 10, 1)),
)


@st.composite
def absences(draw, around: Period) -> tuple[date | None, list[tuple[date, date]]]:
    """A joining day (or None: joined long ago) and leaves near ``around`` (some overlapping, some empty)."""
    span = (around.end - around.start).days
    near = st.integers(min_value=-60, max_value=span + 60).map(lambda k: around.start + timedelta(days=k))
    joined = draw(st.one_of(st.none(), near))
    leaves = draw(st.lists(st.tuples(near, st.integers(min_value=-2, max_value=70)), max_size=4))
    return joined, [(first, first + timedelta(days=length)) for first, length in leaves]


def present_on(day: date, joined: date | None, leaves: list[tuple[date, date]]) -> bool:
    return not (joined is not None and day < joined) and not any(first <= day <= last for first, last in leaves)


@st.composite
def cases(draw):
    type = draw(types)
    period = Period.containing(type, draw(period_days))
    joined, leaves = draw(absences(period))
    return period, joined, leaves, draw(targets)


@given(case=cases())
@example(case=(Period.of("month", 2028, 2), date(2028, 2, 15), [(date(2028, 2, 20), date(2028, 2, 29))], 3))
@example(
    case=(
        Period.of("quarter", 2026, 4),
        None,
        [(date(2026, 9, 1), date(2026, 10, 1)), (date(2026, 10, 2), date(2026, 10, 2))],
        5,
    )
)
def test_available_days_count_the_days_present(case):
    period, joined, leaves, _ = case
    away = unavailable_spans(joined, leaves)
    # Merged spans are sorted, non-empty, and neither overlap nor touch.
    assert all(first < after for first, after in away)
    assert all(a[1] < b[0] for a, b in zip(away, away[1:], strict=False))
    days = [period.start + timedelta(days=k) for k in range(period.days)]
    assert available_days(period.start, period.end, away) == sum(present_on(d, joined, leaves) for d in days)


@given(case=cases())
def test_one_periods_target_is_its_share_of_the_days_present(case):
    period, joined, leaves, target = case
    away = unavailable_spans(joined, leaves)
    owed = expected_target(target, period.type, period.start, period.end, away)
    present = available_days(period.start, period.end, away)
    assert owed == Fraction(target * present, period.days)
    assert 0 <= owed <= target
    assert expected_target(target, period.type, period.start, period.end) == target  # there all along: all of it
    whole = round_half_up(owed)
    assert 0 <= whole <= target


@given(
    case=cases(),
    later=st.integers(min_value=0, max_value=120),
    extra=st.tuples(st.integers(min_value=-30, max_value=120), st.integers(min_value=0, max_value=40)),
)
def test_fewer_days_present_never_owe_more(case, later, extra):
    period, joined, leaves, target = case
    before = expected_target(target, period.type, period.start, period.end, unavailable_spans(joined, leaves))
    joined_later = (joined or period.start - timedelta(days=1)) + timedelta(days=later)
    more_leave = [
        *leaves,
        (period.start + timedelta(days=extra[0]), period.start + timedelta(days=extra[0] + extra[1])),
    ]
    for fewer in (unavailable_spans(joined_later, leaves), unavailable_spans(joined, more_leave)):
        after = expected_target(target, period.type, period.start, period.end, fewer)
        assert after <= before
        assert round_half_up(after) <= round_half_up(before)


@given(
    case=cases(),
    cuts=st.tuples(
        st.integers(min_value=-40, max_value=400),
        st.integers(min_value=-40, max_value=400),
        st.integers(min_value=-40, max_value=400),
    ),
)
def test_what_is_owed_adds_up_over_adjacent_stretches(case, cuts):
    """Owed over [a, b) plus owed over [b, c) is owed over [a, c), across period boundaries too; and a
    monthly goal asked over a quarter is three months' worth."""
    period, joined, leaves, target = case
    a, b, c = sorted(period.start + timedelta(days=k) for k in cuts)
    away = unavailable_spans(joined, leaves)
    whole = expected_target(target, period.type, a, c, away)
    assert expected_target(target, period.type, a, b, away) + expected_target(target, period.type, b, c, away) == whole
    assert 0 <= whole <= target * len(periods_between(period.type, a, c))
    quarter = Period.containing(PeriodType.QUARTER, period.start)
    assert expected_target(target, PeriodType.MONTH, quarter.start, quarter.end) == 3 * target


@given(value=st.fractions(min_value=0, max_value=1000, max_denominator=400))
@example(value=Fraction(3, 2))
@example(value=Fraction(149, 100))
def test_targets_round_half_up(value):
    whole = round_half_up(value)
    assert value - Fraction(1, 2) < whole <= value + Fraction(1, 2)
    assert (whole == value + Fraction(1, 2)) == (value.denominator == 2)  # halves go up


@st.composite
def progress_numbers(draw):
    target = draw(st.integers(min_value=0, max_value=12))
    available = draw(st.integers(min_value=0, max_value=366))
    elapsed = draw(st.integers(min_value=0, max_value=available))
    line = floor(Fraction(target * elapsed, available)) if available else 0
    return dict(
        target=target,
        done=draw(st.integers(min_value=0, max_value=15)),
        in_hand=draw(st.integers(min_value=0, max_value=5)),
        ahead=draw(st.integers(min_value=0, max_value=5)),
        open_seats=draw(st.integers(min_value=0, max_value=5)),
        line=line,
        days_left=draw(st.integers(min_value=0, max_value=366)),
        available=available,
        elapsed=elapsed,
    )


@given(numbers=progress_numbers(), more=st.sampled_from(["done", "in_hand", "ahead", "open_seats"]))
def test_more_done_or_in_reach_never_makes_the_status_worse(numbers, more):
    status = classify(**numbers)
    assert (status == Status.MET) == (numbers["done"] >= numbers["target"])
    if numbers["days_left"] == 0 and numbers["done"] < numbers["target"]:
        assert status == Status.BEHIND  # the period is over and the target was missed
    better = classify(**{**numbers, more: numbers[more] + 1})
    assert better.severity <= status.severity
