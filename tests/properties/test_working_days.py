"""Debrief due dates (``program.debriefs.due_dates``): N working days — or N days — after the activity's last
local day, due at the end of that day in the writer's timezone.

"The end of the day" is the last second before the next local day starts; on an ordinary day that is
23:59:59 on the wall clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from program.activities.models import Activity
from program.debriefs import due_dates
from program.errors import ValidationFailed
from tests.factories.strategies import (
    DB_SETTINGS,
    any_day,
    any_instant,
    edge_days,
    edge_instants,
    local,
    rolled_back,
    start_of_day,
    zones,
)

ONE_SECOND = timedelta(seconds=1)
RULES = st.sampled_from([("working_days", n) for n in (1, 2, 3, 5, 10)] + [("days", n) for n in (1, 2, 7, 14)])
KINDS = ("ride_along", "shadow_day", "review_meeting")


def weekdays_after(first: date, last: date) -> int:
    """Working days (Mon–Fri) in (first, last], counted one by one."""
    return sum(1 for k in range(1, (last - first).days + 1) if (first + timedelta(days=k)).weekday() < 5)


@st.composite
def days(draw) -> date:
    tz = draw(zones)
    return draw(st.one_of(st.sampled_from(edge_days(tz)), any_day))


@given(day=days(), n=st.integers(min_value=0, max_value=40))
def test_n_working_days_later_is_the_first_day_reaching_n(day, n):
    due = due_dates.add_working_days(day, n)
    assert weekdays_after(day, due) == n
    if n == 0:
        assert due == day
    else:
        assert due > day
        assert due.weekday() < 5  # never a Saturday or Sunday
        assert weekdays_after(day, due - timedelta(days=1)) == n - 1  # and not a day later than needed
        assert (due - day).days <= n + 2 * (n // 5 + 1)  # at most two weekend days per five working days


@given(day=days(), n=st.integers(min_value=0, max_value=20), m=st.integers(min_value=0, max_value=20))
def test_working_days_add_up(day, n, m):
    """n then m working days is n + m working days, from any day (a weekend start counts from Monday)."""
    assert due_dates.add_working_days(due_dates.add_working_days(day, n), m) == due_dates.add_working_days(day, n + m)


@given(rules=st.dictionaries(st.sampled_from(KINDS), RULES))
def test_due_rules_read_back_what_was_written(rules):
    text = ",".join(f"{kind}={n} {unit}" for kind, (unit, n) in rules.items())
    assert due_dates.parse_due_rules(text) == {**due_dates.DUE_RULES, **rules}


@st.composite
def endings(draw) -> tuple[str, str | None, datetime, tuple[str, int], datetime | None]:
    """(activity zone, writer zone or None, activity end, rule, attendance marked at or None).

    Half the time the end is an edge of the writer's zone, or that many days before one, so the due day
    itself falls on a DST change, a year end or a 29 February."""
    activity_tz = draw(zones)
    writer = draw(st.one_of(st.none(), zones))
    rule = draw(RULES)
    edges = edge_instants(writer or activity_tz)
    end = draw(
        st.one_of(
            any_instant,
            st.sampled_from(edges),
            st.sampled_from(edges).map(lambda t: t - timedelta(days=rule[1])),
        )
    )
    marked = draw(st.one_of(st.none(), st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20))))
    return activity_tz, writer, end, rule, (end + marked if marked is not None else None)


SANTIAGO_AUTUMN = datetime(2026, 4, 5, 3, 0, tzinfo=UTC)  # 24:00 on Sat 4 Apr: clocks go back to 23:00


@given(endings())
@example(("America/Santiago", "America/Santiago", SANTIAGO_AUTUMN - timedelta(days=7, hours=2), ("days", 7), None))
@example(("Europe/London", "Australia/Sydney", datetime(2026, 11, 27, 15, 0, tzinfo=UTC), ("working_days", 2), None))
@example(("UTC", "America/New_York", datetime(2026, 3, 6, 22, 0, tzinfo=UTC), ("working_days", 1), None))
def test_due_at_the_end_of_the_writers_nth_day(case):
    activity_tz, writer, end, (unit, n), marked = case
    activity = Activity(kind="ride_along", timezone=activity_tz, ends_at=end)
    due = due_dates.due_at_for(activity, {"ride_along": (unit, n)}, marked_at=marked, tz=writer)
    zone = writer or activity_tz
    base = end - timedelta(microseconds=1)  # the activity's last moment (an all-day one ends at midnight)
    if marked is not None:
        base = max(base, marked)
    base_day = local(base, zone).date()
    due_day = local(due, zone).date()

    assert due.tzinfo is not None and due.utcoffset() == timedelta(0)
    assert due > base  # never due before it happened, nor before a late correction was marked
    # The end of the writer's due day: its last second, 23:59:59 on the wall clock.
    assert due + ONE_SECOND == start_of_day(due_day + timedelta(days=1), zone)
    assert local(due, zone).time().replace(fold=0).isoformat() == "23:59:59"
    if unit == "working_days":
        assert due_day.weekday() < 5
        assert weekdays_after(base_day, due_day) == n
        assert weekdays_after(base_day, due_day - timedelta(days=1)) == n - 1
    else:
        assert (due_day - base_day).days == n


@given(case=endings(), later=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10)))
def test_a_later_correction_never_brings_the_due_date_forward(case, later):
    activity_tz, writer, end, rule, marked = case
    activity = Activity(kind="ride_along", timezone=activity_tz, ends_at=end)
    rules = {"ride_along": rule}
    first = due_dates.due_at_for(activity, rules, marked_at=marked, tz=writer)
    again = due_dates.due_at_for(activity, rules, marked_at=(marked or end) + later, tz=writer)
    assert again >= first


# --- through attendance, on the database ---------------------------------------------------------


@DB_SETTINGS
@given(
    host_tz=zones,
    writer_tz=zones,
    day=st.dates(min_value=date(2000, 1, 3), max_value=date(2100, 12, 20)),
    hour=st.integers(min_value=0, max_value=22),
    marked_after=st.timedeltas(min_value=timedelta(minutes=5), max_value=timedelta(days=9)),
)
@example(
    host_tz="America/New_York",
    writer_tz="Australia/Sydney",
    day=date(2026, 10, 2),
    hour=20,
    marked_after=timedelta(hours=2),
)
@example(
    host_tz="Europe/London",
    writer_tz="Europe/London",
    day=date(2027, 3, 26),
    hour=16,
    marked_after=timedelta(minutes=5),
)
def test_attendance_owes_a_debrief_two_working_days_later_in_the_writers_zone(
    make, host_tz, writer_tz, day, hour, marked_after
):
    """The default rule (DEBRIEF_DUE): a ride-along's debrief is due at the end of the 2nd working day after
    the call, counted and ended in the rider's own timezone."""
    from program.activities import services as core
    from program.debriefs.models import DebriefTask
    from program.extensions import db
    from program.rides.services import CallData, offer_call

    with rolled_back(mail=False):
        host = make.user(role="staff", department="Sales", timezone=host_tz)
        rider = make.marketer(timezone=writer_tz)
        data = CallData(
            host_id=host.id,
            account_name="Acme Ltd",
            segment="Enterprise",
            funnel_stage="Opportunity",
            call_type="demo",
            day=day,
            start=time(hour),
            end=time(hour + 1),
            timezone=host_tz,
            location="1 Market Street",
            seats=2,
            cutoff_hours=12,
        )
        created = datetime.combine(day, time(0), UTC) - timedelta(days=5)
        try:
            ride = offer_call(host, data, created)
        except ValidationFailed as exc:
            assert set(exc.errors) <= {"start", "end"}  # a wall-clock hour that doesn't exist that day (DST gap)
            return
        p = core.book_seat(ride.id, rider, ride.starts_at - timedelta(days=2))
        marked = ride.starts_at + marked_after
        core.mark_attendance(p, host, True, marked)
        task = db.session.scalar(db.select(DebriefTask).where(DebriefTask.participation_id == p.id))
        base_day = local(max(ride.ends_at - timedelta(microseconds=1), marked), writer_tz).date()
        due_day = local(task.due_at, writer_tz).date()
        assert task.due_at > marked
        assert due_day.weekday() < 5 and weekdays_after(base_day, due_day) == 2
        assert task.due_at + ONE_SECOND == start_of_day(due_day + timedelta(days=1), writer_tz)
