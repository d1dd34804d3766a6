"""Periods in the viewer's timezone, pro-rating arithmetic and rounding."""

from __future__ import annotations

from datetime import UTC, date, datetime
from fractions import Fraction

import pytest

from program.periods import (
    Period,
    available_days,
    expected_target,
    local_today,
    periods_between,
    round_half_up,
    unavailable_spans,
)


@pytest.mark.parametrize(
    ("type_", "day", "key", "label", "start", "end"),
    [
        ("month", date(2026, 11, 23), "2026-11", "November 2026", date(2026, 11, 1), date(2026, 12, 1)),
        ("month", date(2026, 12, 31), "2026-12", "December 2026", date(2026, 12, 1), date(2027, 1, 1)),
        ("quarter", date(2026, 11, 23), "2026-Q4", "Q4 2026", date(2026, 10, 1), date(2027, 1, 1)),
        ("quarter", date(2026, 1, 1), "2026-Q1", "Q1 2026", date(2026, 1, 1), date(2026, 4, 1)),
        ("half", date(2026, 6, 30), "2026-H1", "H1 2026", date(2026, 1, 1), date(2026, 7, 1)),
        ("half", date(2026, 7, 1), "2026-H2", "H2 2026", date(2026, 7, 1), date(2027, 1, 1)),
        ("year", date(2026, 11, 23), "2026", "2026", date(2026, 1, 1), date(2027, 1, 1)),
    ],
)
def test_period_containing_a_day(type_, day, key, label, start, end):
    p = Period.containing(type_, day)
    assert (p.key, p.label, p.start, p.end) == (key, label, start, end)
    assert Period.parse(key) == p


def test_parse_rejects_nonsense():
    for key in ("", "2026-13", "2026-Q5", "2026-H3", "26-11", "2026-11; drop table", "2026-00"):
        assert Period.parse(key) is None


def test_days_and_shifting():
    feb = Period.parse("2028-02")
    assert feb.days == 29  # leap year
    assert feb.shifted(-2).key == "2027-12"
    assert Period.parse("2026-Q4").shifted(1).key == "2027-Q1"
    assert Period.parse("2026").days == 365


def test_period_boundaries_are_local_midnights_in_the_viewers_timezone():
    nov = Period.parse("2026-11")
    start, end = nov.bounds("America/New_York")
    # New York is UTC-4 until 1 November 2026 02:00 (DST ends), UTC-5 after.
    assert start == datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    assert end == datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    start, end = nov.bounds("Asia/Tokyo")
    assert start == datetime(2026, 10, 31, 15, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


def test_today_depends_on_the_viewer():
    # 30 November 2026 23:30 UTC is already 1 December in Berlin: a different month for the viewer.
    instant = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    assert Period.containing("month", local_today(instant, "UTC")).key == "2026-11"
    assert Period.containing("month", local_today(instant, "Europe/Berlin")).key == "2026-12"
    assert Period.containing("month", local_today(instant, "America/Los_Angeles")).key == "2026-11"


def test_unavailable_spans_merge_and_available_days():
    away = unavailable_spans(
        date(2026, 11, 16), [(date(2026, 11, 10), date(2026, 11, 20)), (date(2026, 11, 25), date(2026, 11, 25))]
    )
    # Before joining (to the 15th) and the leave to the 20th merge; the 25th is a one-day leave.
    assert away == [(date.min, date(2026, 11, 21)), (date(2026, 11, 25), date(2026, 11, 26))]
    assert available_days(date(2026, 11, 1), date(2026, 12, 1), away) == 30 - 20 - 1
    assert available_days(date(2026, 11, 1), date(2026, 12, 1)) == 30
    assert available_days(date(2026, 12, 1), date(2026, 11, 1)) == 0


def test_prorating_for_a_joiner_and_for_leave():
    nov_start, nov_end = date(2026, 11, 1), date(2026, 12, 1)
    # Joined on the 16th: 15 of 30 days → half the target.
    joined = unavailable_spans(date(2026, 11, 16), [])
    assert expected_target(2, "month", nov_start, nov_end, joined) == Fraction(1)
    # Ten days of leave: 20 of 30 days → 2 × 2/3 = 1.33 → 1.
    leave = unavailable_spans(None, [(date(2026, 11, 1), date(2026, 11, 10))])
    assert expected_target(2, "month", nov_start, nov_end, leave) == Fraction(4, 3)
    assert round_half_up(Fraction(4, 3)) == 1
    # 3 per month, 15 of 30 days → 1.5 → rounds half up to 2.
    assert round_half_up(expected_target(3, "month", nov_start, nov_end, joined)) == 2
    # Joined before the period: nothing to pro-rate.
    assert expected_target(2, "month", nov_start, nov_end, unavailable_spans(date(2020, 1, 1), [])) == 2


def test_a_goal_of_another_period_length_is_shared_out():
    # 6 per quarter asked of November: 6 × 30/92.
    assert expected_target(6, "quarter", date(2026, 11, 1), date(2026, 12, 1)) == Fraction(6 * 30, 92)
    assert round_half_up(Fraction(6 * 30, 92)) == 2
    # 2 per month over a year: 24.
    assert expected_target(2, "month", date(2026, 1, 1), date(2027, 1, 1)) == 24
    assert [p.key for p in periods_between("month", date(2026, 10, 15), date(2026, 12, 2))] == [
        "2026-10",
        "2026-11",
        "2026-12",
    ]


def test_round_half_up():
    assert [round_half_up(Fraction(n, 2)) for n in range(6)] == [0, 1, 1, 2, 2, 3]
    assert round_half_up(Fraction(149, 100)) == 1
