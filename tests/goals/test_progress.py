"""The most-specific-goal rule, what counts, pro-rating in practice, and status classification.

The clock is fixed at Monday 23 November 2026 10:00 UTC: 22 of November's 30 days are gone, 8 are left.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from program.accounts.models import User
from program.activities import services as core
from program.errors import NotAllowed, ValidationFailed
from program.extensions import db
from program.goals import services
from program.goals.dashboards import my_goals
from program.goals.progress import GoalBook, current_progress, iter_progress
from program.goals.status import Status, classify
from program.periods import Period
from program.timeutil import utcnow
from tests.factories.goals import goal, leave, veteran

TZ = "Europe/London"


def progress_of(user, now, tz=TZ, kind="ride_along"):
    person = current_progress([User.id == user.id], now, tz)[0]
    return next((p for p in person.goals if p.kind == kind), None)


# --- which goal applies --------------------------------------------------------------------------


def test_the_most_specific_goal_applies(make):
    marketing = make.department("Marketing")
    demand = make.team("Demand Generation", "Marketing")
    in_team = make.marketer(team=demand)
    no_team = make.marketer()
    personal = make.marketer(team=demand)
    leader = make.marketer(role="leader")
    rep = make.user()

    by_role = goal(target=1, role="staff")
    by_department = goal(target=2, department=marketing)
    by_team = goal(target=3, team=demand)
    by_person = goal(target=4, person=personal)
    for_leaders = goal("shadow_day", target=1, period="quarter", role="leader")

    book = GoalBook.load()
    assert book.for_user(in_team) == {"ride_along": by_team}
    assert book.for_user(no_team) == {"ride_along": by_department}
    assert book.for_user(personal) == {"ride_along": by_person}
    assert book.for_user(rep) == {"ride_along": by_role}
    # A leader gets the department's ride-along goal and the leaders' shadow-day goal; kinds are independent.
    assert book.for_user(leader) == {"ride_along": by_department, "shadow_day": for_leaders}
    assert by_role.scope_key == "role:staff"


def test_one_goal_per_kind_and_scope(make, now):
    hr = make.user(role="hr")
    marketing = make.department("Marketing")
    data = services.GoalData(
        kind="ride_along", period="month", target=2, scope="department", department_id=marketing.id
    )
    services.save_goal(hr, data, now)
    with pytest.raises(ValidationFailed) as caught:
        services.save_goal(hr, data, now)
    assert "already a goal" in caught.value.errors["department_id"]
    # Another kind for the same department is fine.
    services.save_goal(hr, services.GoalData(**{**vars(data), "kind": "review_meeting"}), now)


def test_goal_validation_and_permission(make, now):
    hr = make.user(role="hr")
    with pytest.raises(ValidationFailed) as caught:
        services.save_goal(hr, services.GoalData(kind="nope", target=0, scope="person", person_email="nobody@x"), now)
    assert set(caught.value.errors) == {"kind", "target", "person_email"}
    with pytest.raises(NotAllowed):
        services.save_goal(
            make.user(role="leader"), services.GoalData(kind="ride_along", target=1, role="staff", scope="role"), now
        )


# --- what counts ---------------------------------------------------------------------------------


def test_attended_counts_once_the_debrief_is_submitted(make, now):
    m = veteran(make.marketer())
    g = goal(department=m.department)
    make.submit_debrief(make.attended_task(rider=m))
    make.attended_task(rider=m)  # attended, debrief not written yet

    p = progress_of(m, now)
    assert (p.target, p.done, p.in_hand, p.remaining, p.days_left) == (2, 1, 1, 1, 8)
    assert p.status == Status.ON_TRACK

    g.requires_debrief = False  # this goal counts every attended activity
    db.session.flush()
    p = progress_of(m, now)
    assert (p.done, p.in_hand, p.status) == (2, 0, Status.MET)


def test_no_shows_bookings_and_other_periods_do_not_count(make, now):
    m = veteran(make.marketer())
    goal(department=m.department, requires_debrief=False)
    ride = make.ride_along(starts_in=timedelta(hours=-5))
    p = core.book_seat(ride.id, m, ride.starts_at - timedelta(days=1))
    core.mark_attendance(p, ride.host, False, now)  # no-show
    october = make.ride_along(starts_in=timedelta(days=-20), now=now - timedelta(days=20))
    make.attended_task(rider=m, ride=october)
    core.book_seat(make.ride_along(starts_in=timedelta(days=2)).id, m, now)  # booked, not yet attended

    progress = progress_of(m, now)
    assert (progress.done, progress.ahead) == (0, 1)
    assert progress.status == Status.BEHIND


# --- pro-rating in practice ---------------------------------------------------------------------


def test_joiners_and_leave_get_a_smaller_target(make, now):
    marketing = make.department("Marketing")
    goal(target=2, department=marketing)
    joiner = veteran(make.marketer(), datetime(2026, 11, 16, 0, 0, tzinfo=UTC))  # 15 of 30 days here
    on_leave = veteran(make.marketer())
    leave(on_leave, date(2026, 11, 1), date(2026, 11, 10))  # 20 of 30 days here
    brand_new = make.marketer()  # created "now": 23 November, 8 of 30 days → 0.53 → 1

    assert progress_of(joiner, now).target == 1
    assert progress_of(on_leave, now).target == 1
    assert progress_of(brand_new, now).target == 1
    assert progress_of(veteran(make.marketer()), now).target == 2


def test_leave_covering_the_whole_period_means_nothing_is_owed(make, now):
    m = veteran(make.marketer())
    goal(target=2, department=m.department)
    leave(m, date(2026, 10, 20), date(2026, 12, 5))
    p = progress_of(m, now)
    assert (p.target, p.status) == (0, Status.MET)


# --- status ---------------------------------------------------------------------------------------


def test_behind_means_below_the_pro_rata_line(make, now):
    m = veteran(make.marketer())
    goal(target=2, department=m.department)
    make.ride_along(starts_in=timedelta(days=2))  # open seats don't help someone already behind
    p = progress_of(m, now)
    # 22/30 of 2 = 1.47: one should be done by now.
    assert (p.line, p.done, p.status) == (1, 0, Status.BEHIND)


def test_at_risk_when_there_are_not_enough_open_seats(make, now):
    m = veteran(make.marketer())
    goal(target=3, period="quarter", department=m.department)
    make.submit_debrief(make.attended_task(rider=m))
    p = progress_of(m, now)
    # Q4: 53 of 92 days gone; the line is ⌊3 × 53/92⌋ = 1, done 1, two to go and no seats left.
    assert (p.target, p.done, p.line, p.open_seats) == (3, 1, 1, 0)
    assert p.status == Status.AT_RISK

    for days in (3, 10):
        core.book_seat(make.ride_along(starts_in=timedelta(days=days)).id, m, now)
    make.ride_along(starts_in=timedelta(days=60))  # January: outside the quarter, no help
    p = progress_of(m, now)
    assert (p.ahead, p.status) == (2, Status.ON_TRACK)


def test_at_risk_at_the_pace_so_far_even_with_seats(make, now):
    m = veteran(make.marketer())
    goal(target=4, department=m.department)
    for _ in range(2):
        make.submit_debrief(make.attended_task(rider=m))
    for days in (1, 2, 3):
        make.ride_along(starts_in=timedelta(days=days), seats=2)
    p = progress_of(m, now)
    # Line ⌊4 × 22/30⌋ = 2: not behind. Three open seats cover the two to go,
    # but 2 done in 22 days projects 2 + 2/22 × 8 = 2.7 < 4.
    assert (p.line, p.done, p.open_seats) == (2, 2, 3)
    assert p.status == Status.AT_RISK


def test_open_seats_exclude_full_closed_hosted_and_own_activities(make, now):
    m = veteran(make.user())  # a sales rep: reps host calls, and may ride along on colleagues' calls
    goal(target=2, role="staff")
    full = make.ride_along(starts_in=timedelta(days=2), seats=1)
    core.book_seat(full.id, make.marketer(), now)
    make.ride_along(starts_in=timedelta(hours=5), cutoff_hours=12)  # booking closed
    make.ride_along(host=m, starts_in=timedelta(days=3))  # hosted by the person
    mine = make.ride_along(starts_in=timedelta(days=4))
    core.book_seat(mine.id, m, now)  # already on it: counted as ahead, not as an open seat
    make.ride_along(starts_in=timedelta(days=5))  # the one open seat
    p = progress_of(m, now)
    assert (p.open_seats, p.ahead) == (1, 1)


@pytest.mark.parametrize(
    ("numbers", "expected"),
    [
        ({"target": 2, "done": 2}, Status.MET),
        ({"target": 0, "done": 0}, Status.MET),
        ({"target": 2, "done": 0, "line": 1}, Status.BEHIND),
        ({"target": 2, "done": 1, "line": 1, "days_left": 0}, Status.BEHIND),  # the period is over
        ({"target": 2, "done": 1, "line": 1, "open_seats": 0}, Status.AT_RISK),  # no seats for the one to go
        ({"target": 2, "done": 1, "line": 1, "open_seats": 0, "ahead": 1}, Status.ON_TRACK),
        ({"target": 2, "done": 1, "line": 1, "open_seats": 0, "in_hand": 1}, Status.ON_TRACK),
        # 1 done in 20 of 30 days, seats enough: 1 + 1/20 × 10 = 1.5 < 2 → at risk by pace.
        ({"target": 2, "done": 1, "line": 1, "elapsed": 20}, Status.AT_RISK),
        # Early in the period (under a quarter gone), pace isn't judged: nothing done yet is fine.
        ({"target": 2, "done": 0, "line": 0, "elapsed": 5}, Status.ON_TRACK),
        ({"target": 2, "done": 0, "line": 0, "elapsed": 8}, Status.AT_RISK),
    ],
)
def test_classify(numbers, expected):
    base = {
        "target": 2,
        "done": 0,
        "in_hand": 0,
        "ahead": 0,
        "open_seats": 5,
        "line": 0,
        "days_left": 10,
        "available": 30,
        "elapsed": 15,
    }
    assert classify(**{**base, **numbers}) == expected


# --- periods in the viewer's timezone, end to end --------------------------------------------------


def test_an_activity_near_midnight_falls_in_the_viewers_month(make, now):
    m = veteran(make.marketer())
    late = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # already 1 December 00:00 in Berlin
    ride = make.ride_along(starts_in=late - now, tz="UTC", hours=0.5)
    core.book_seat(ride.id, m, now)

    def booked(tz, key):
        people = list(iter_progress([User.id == m.id], now, tz, Period.parse(key)))
        return people[0].numbers["ride_along"].ahead

    assert booked("Europe/London", "2026-11") == 1
    assert booked("Europe/Berlin", "2026-11") == 0
    assert booked("Europe/Berlin", "2026-12") == 1


def test_a_quarterly_goal_is_judged_over_its_quarter_not_a_month(make, now):
    m = veteran(make.marketer())
    goal(target=6, period="quarter", department=m.department)
    people = list(iter_progress([User.id == m.id], now, TZ, Period.parse("2026-11")))
    assert people[0].goals == [] and people[0].status_key == "longer_period"  # not a share of the quarter
    assert [g.period.key for g in people[0].longer] == ["2026-Q4"]
    people = list(iter_progress([User.id == m.id], now, TZ, Period.parse("2026-Q4")))
    assert people[0].goals[0].target == 6 and not people[0].longer
    people = list(iter_progress([User.id == m.id], now, TZ, Period.parse("2026")))
    assert people[0].goals[0].target == 24  # four quarters; the period is not over: line ⌊6 × 3 + 6 × 53/92⌋
    assert people[0].goals[0].line == 21


# --- suggestions ---------------------------------------------------------------------------------


def test_suggestions_are_upcoming_open_seats_that_would_count(make, now):
    m = veteran(make.user())  # a sales rep, so that one of the calls can be their own
    goal(target=3, role="staff")
    soon = make.ride_along(starts_in=timedelta(days=1), account="Soon Ltd")
    later = make.ride_along(starts_in=timedelta(days=4), account="Later Ltd")
    make.ride_along(starts_in=timedelta(days=10), account="December Ltd")  # after the period
    full = make.ride_along(starts_in=timedelta(days=2), seats=1, account="Full Ltd")
    core.book_seat(full.id, make.marketer(), now)
    booked = make.ride_along(starts_in=timedelta(days=3), account="Booked Ltd")
    core.book_seat(booked.id, m, now)
    make.ride_along(host=m, starts_in=timedelta(days=2), account="Own Ltd")
    make.ride_along(starts_in=timedelta(days=2), account="Hidden Ltd", hide_account=True)

    mine = my_goals(m, now, TZ)
    summaries = [s.link.summary for s in mine.suggestions]
    assert [s.activity.id for s in mine.suggestions][:1] == [soon.id]
    assert any("Later Ltd" in s for s in summaries) and later.id in [s.activity.id for s in mine.suggestions]
    assert not any(name in " ".join(summaries) for name in ("December", "Full", "Booked", "Own", "Hidden Ltd"))
    assert any("Enterprise prospect" in s for s in summaries)  # the hidden account stays hidden
    assert all(s.free >= 1 for s in mine.suggestions)


def test_no_suggestions_once_the_goal_is_met(make, now):
    m = veteran(make.marketer())
    goal(target=1, department=m.department)
    make.submit_debrief(make.attended_task(rider=m))
    make.ride_along(starts_in=timedelta(days=1))
    assert my_goals(m, now, TZ).suggestions == []


# --- leave ---------------------------------------------------------------------------------------


def test_record_leave_rules(make, now):
    hr = make.user(role="hr")
    m = make.marketer(email="leaver@example.com")
    with pytest.raises(ValidationFailed) as caught:
        services.record_leave(hr, "leaver@example.com", date(2026, 11, 10), date(2026, 11, 1), "", now)
    assert "before the first" in caught.value.errors["ends_on"]
    with pytest.raises(NotAllowed):
        services.record_leave(
            make.user(role="leader"), "leaver@example.com", date(2026, 11, 1), date(2026, 11, 2), "", now
        )
    record = services.record_leave(hr, "LEAVER@example.com", date(2026, 11, 1), date(2026, 11, 2), "", now)
    assert record.user_id == m.id


def test_the_clock_is_pinned(app, now):
    assert utcnow() == now
