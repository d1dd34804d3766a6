"""Goal progress from the one aggregate statement equals the old per-period, row-per-person implementation.

The oracle below is the implementation this replaced, kept verbatim in substance: one wide statement per kind
of period (``people_numbers``: every count of every kind as its own column, the open seats through a join to
a subquery of open activities), a separate count of open activities per kind, and progress rebuilt from those
rows. Both run on seeded random companies — people at every role in departments and teams (some without),
managers, inactive people, joiners, overlapping leave, goals at every scope (role, department, team, person)
for every kind and period, with and without the debrief — and random activities (cancelled or not, with or
without a seat limit, booking open or closed, past and future, near the period edges) with participations in
every state, offers live and expired, and debrief tasks open, submitted and overdue. Compared for every person:
the numbers of every kind, debriefs, each goal's target, done, in hand, ahead, open seats, days left, line and
status, and the goals over a longer period; for several viewers' timezones, clocks and filters, for the
current periods (dashboards, goal pages, digests) and for report periods of every length (past, current and
future). The "would count" suggestions are compared with the old statement too.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from math import floor

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import Select, and_, case, exists, func, insert, or_, select, union
from sqlalchemy.orm import aliased, joinedload

from program.accounts.models import Department, Team, User
from program.activities.models import Activity, ActivityStatus, Participation, State
from program.activities.queries import seat_counts
from program.activities.services import seat_taken_clause
from program.debriefs.models import DebriefTask
from program.extensions import db
from program.goals.dashboards import org_summary, suggestions_for, team_where
from program.goals.models import Goal, Leave
from program.goals.numbers import load_tallies, people_statement
from program.goals.progress import current_progress, iter_progress, scope_key
from program.goals.status import KINDS, KindNumbers, LongerGoal, PersonProgress, Progress, Status, classify
from program.periods import (
    Period,
    available_days,
    expected_target,
    local_bounds,
    local_today,
    longer_than,
    round_half_up,
    unavailable_spans,
)
from program.reports.services import ReportFilters, build_report
from program.rides.models import RideAlongCall

SEEDS = range(6)
ZONES = ("UTC", "Europe/London", "America/New_York", "Pacific/Auckland")
BASE = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

# --- the oracle: the implementation before the aggregate statement ---------------------------------

HELD = (State.BOOKED.value, State.ATTENDED.value, State.NO_SHOW.value)
ON_IT = (State.BOOKED.value, State.OFFERED.value, State.WAITLISTED.value, State.INVITED.value)
METRICS = ("booked", "attended", "no_show", "debriefed", "ahead", "mine")


def _count(condition):
    return func.sum(case((condition, 1), else_=0))


def old_open_activities(now, end):
    a = aliased(Activity)
    p = aliased(Participation)
    taken = (
        select(func.count(p.id))
        .where(
            p.activity_id == a.id,
            or_(p.state == State.BOOKED.value, and_(p.state == State.OFFERED.value, p.offer_expires_at > now)),
        )
        .correlate(a)
        .scalar_subquery()
    )
    return (
        select(a.id.label("id"), a.kind.label("kind"), a.host_id.label("host_id"))
        .where(
            a.kind.in_(KINDS),
            a.status == ActivityStatus.SCHEDULED.value,
            a.starts_at > now,
            a.starts_at < end,
            a.booking_cutoff_at > now,
            a.seats.is_not(None),
            a.seats > taken,
        )
        .subquery()
    )


def old_open_totals(now, end):
    o = old_open_activities(now, end)
    return {kind: n for kind, n in db.session.execute(select(o.c.kind, func.count(o.c.id)).group_by(o.c.kind))}


def old_people_numbers(where, start, end, now) -> Select:
    seat = seat_taken_clause(now)
    cols = [Participation.user_id.label("user_id")]
    for kind in KINDS:
        is_kind = Activity.kind == kind
        state = Participation.state
        cols += [
            _count(and_(is_kind, state.in_(HELD))).label(f"{kind}__booked"),
            _count(and_(is_kind, state == State.ATTENDED.value)).label(f"{kind}__attended"),
            _count(and_(is_kind, state == State.NO_SHOW.value)).label(f"{kind}__no_show"),
            _count(and_(is_kind, state == State.ATTENDED.value, DebriefTask.status == "submitted")).label(
                f"{kind}__debriefed"
            ),
            _count(
                and_(
                    is_kind,
                    or_(
                        state == State.BOOKED.value,
                        and_(Activity.starts_at > now, or_(seat, state == State.INVITED.value)),
                    ),
                )
            ).label(f"{kind}__ahead"),
        ]
    cols += [
        _count(DebriefTask.status == "submitted").label("debriefs_submitted"),
        _count(and_(DebriefTask.status == "open", DebriefTask.due_at < now)).label("debriefs_overdue"),
    ]
    numbers = (
        select(*cols)
        .select_from(Participation)
        .join(Activity, Activity.id == Participation.activity_id)
        .join(User, User.id == Participation.user_id)
        .outerjoin(DebriefTask, DebriefTask.participation_id == Participation.id)
        .where(
            Activity.kind.in_(KINDS),
            Activity.starts_at >= start,
            Activity.starts_at < end,
            User.active.is_(True),
            *where,
        )
        .group_by(Participation.user_id)
        .subquery("numbers")
    )
    o = old_open_activities(now, end)
    on = (
        select(Participation.user_id.label("user_id"), o.c.kind, o.c.id)
        .join(o, o.c.id == Participation.activity_id)
        .join(User, User.id == Participation.user_id)
        .where(Participation.state.in_(ON_IT), User.active.is_(True), *where)
    )
    hosting = (
        select(o.c.host_id.label("user_id"), o.c.kind, o.c.id)
        .join(User, User.id == o.c.host_id)
        .where(User.active.is_(True), *where)
    )
    both = union(on, hosting).subquery("mine_rows")
    mine = (
        select(both.c.user_id, *[_count(both.c.kind == kind).label(f"{kind}__mine") for kind in KINDS])
        .group_by(both.c.user_id)
        .subquery("mine")
    )
    manager = aliased(User)
    return (
        select(
            User.id,
            User.name,
            User.email,
            User.role,
            User.department_id,
            User.team_id,
            User.created_at,
            Department.name.label("department"),
            Team.name.label("team"),
            manager.name.label("manager"),
            *[func.coalesce(c, 0).label(c.name) for c in numbers.c if c.name != "user_id"],
            *[func.coalesce(c, 0).label(c.name) for c in mine.c if c.name != "user_id"],
        )
        .select_from(User)
        .outerjoin(Department, Department.id == User.department_id)
        .outerjoin(Team, Team.id == User.team_id)
        .outerjoin(manager, manager.id == User.manager_id)
        .outerjoin(numbers, numbers.c.user_id == User.id)
        .outerjoin(mine, mine.c.user_id == User.id)
        .where(User.active.is_(True), *where)
        .order_by(Department.name.is_(None), Department.name, User.name, User.id)
    )


def old_leaves_for(where, first, after):
    ids = select(User.id).where(User.active.is_(True), *where).correlate(None)
    found: dict[int, list[tuple[date, date]]] = {}
    for user_id, starts_on, ends_on in db.session.execute(
        select(Leave.user_id, Leave.starts_on, Leave.ends_on).where(
            Leave.user_id.in_(ids), Leave.ends_on >= first, Leave.starts_on < after
        )
    ):
        found.setdefault(user_id, []).append((starts_on, ends_on))
    return found


def old_person_from_row(row) -> PersonProgress:
    values = row._mapping
    return PersonProgress(
        user_id=row.id,
        name=row.name,
        email=row.email,
        role=row.role,
        department_id=row.department_id,
        department=row.department or "",
        team_id=row.team_id,
        team=row.team or "",
        manager=row.manager or "",
        numbers={kind: KindNumbers(*(int(values[f"{kind}__{m}"] or 0) for m in METRICS)) for kind in KINDS},
        debriefs_submitted=int(row.debriefs_submitted or 0),
        debriefs_overdue=int(row.debriefs_overdue or 0),
    )


class OldGoalBook:
    def __init__(self) -> None:
        self.goals = db.session.scalars(select(Goal).order_by(Goal.id)).all()
        self._by_key = {(g.kind, g.scope_key): g for g in self.goals}

    def applicable(self, *, user_id, role, department_id, team_id):
        keys = [scope_key("person", user_id)]
        if team_id:
            keys.append(scope_key("team", team_id))
        if department_id:
            keys.append(scope_key("department", department_id))
        keys.append(scope_key("role", role))
        found = {}
        for kind in KINDS:
            for key in keys:
                goal = self._by_key.get((kind, key))
                if goal is not None:
                    found[kind] = goal
                    break
        return found


def old_classify(*, target, done, in_hand, ahead, open_seats, line, days_left, available, elapsed) -> Status:
    if done >= target:
        return Status.MET
    if days_left <= 0 or done < line:
        return Status.BEHIND
    if in_hand + ahead + open_seats < target - done:
        return Status.AT_RISK
    if available and elapsed and Fraction(elapsed, available) >= Fraction(1, 4):
        if done + in_hand + ahead + Fraction(done, elapsed) * (available - elapsed) < target:
            return Status.AT_RISK
    return Status.ON_TRACK


small = st.integers(min_value=0, max_value=400)


@given(
    target=small, done=small, in_hand=small, ahead=small, open_seats=small, line=small, days_left=small,
    available=small, elapsed=small,
)  # fmt: skip
@example(target=4, done=2, in_hand=0, ahead=0, open_seats=3, line=2, days_left=8, available=30, elapsed=22)
@example(target=2, done=0, in_hand=0, ahead=2, open_seats=0, line=0, days_left=20, available=40, elapsed=10)
def test_the_status_rule_in_whole_numbers_is_the_rule_in_fractions(**numbers):
    assert classify(**numbers) == old_classify(**numbers)


def old_evaluate(goal, numbers, *, start, end, period_label, today, away, open_total) -> Progress:
    counted = numbers.debriefed if goal.requires_debrief else numbers.attended
    in_hand = numbers.attended - numbers.debriefed if goal.requires_debrief else 0
    mid = min(max(today, start), end)
    target = round_half_up(expected_target(goal.target, goal.period, start, end, away))
    line = min(floor(expected_target(goal.target, goal.period, start, mid, away)), target)
    available, elapsed, days_left = available_days(start, end, away), available_days(start, mid, away), (end - mid).days
    open_seats = max(open_total - numbers.mine, 0)
    status = old_classify(
        target=target,
        done=counted,
        in_hand=in_hand,
        ahead=numbers.ahead,
        open_seats=open_seats,
        line=line,
        days_left=days_left,
        available=available,
        elapsed=elapsed,
    )
    return Progress(
        goal.kind,
        goal,
        start,
        end,
        period_label,
        target,
        counted,
        in_hand,
        numbers.ahead,
        open_seats,
        days_left,
        line,
        status,
    )


def old_iter_progress(where, now, tz, period):
    start, end = period.bounds(tz)
    book, leaves, today = OldGoalBook(), old_leaves_for(where, period.start, period.end), local_today(now, tz)
    opened = old_open_totals(now, end)
    for row in db.session.execute(old_people_numbers(where, start, end, now)):
        person = old_person_from_row(row)
        goals = book.applicable(user_id=row.id, role=row.role, department_id=row.department_id, team_id=row.team_id)
        away = unavailable_spans(local_today(row.created_at, tz), leaves.get(row.id, ()))
        for kind in KINDS:
            if kind in goals and longer_than(goals[kind].period, period.type):
                person.longer.append(LongerGoal(kind, goals[kind], Period.containing(goals[kind].period, period.start)))
            elif kind in goals:
                person.goals.append(
                    old_evaluate(
                        goals[kind],
                        person.numbers[kind],
                        start=period.start,
                        end=period.end,
                        period_label=period.label,
                        today=today,
                        away=away,
                        open_total=opened.get(kind, 0),
                    )
                )
        yield person


def old_current_progress(where, now, tz):
    book = OldGoalBook()
    today = local_today(now, tz)
    periods = {t: Period.containing(t, today) for t in sorted({g.period for g in book.goals})}
    if not periods:
        periods = {"month": Period.containing("month", today)}
    leaves = old_leaves_for(where, min(p.start for p in periods.values()), max(p.end for p in periods.values()))
    by_type, opened, order = {}, {}, []
    for t, period in periods.items():
        start, end = period.bounds(tz)
        rows = db.session.execute(old_people_numbers(where, start, end, now)).all()
        by_type[t] = {row.id: (old_person_from_row(row), row.created_at) for row in rows}
        order = order or [row.id for row in rows]
        opened[t] = old_open_totals(now, end)
    people = []
    any_type = next(iter(periods))
    for user_id in order:
        person, joined = by_type[any_type][user_id]
        goals = book.applicable(
            user_id=user_id, role=person.role, department_id=person.department_id, team_id=person.team_id
        )
        away = unavailable_spans(local_today(joined, tz), leaves.get(user_id, ()))
        for kind in KINDS:
            goal = goals.get(kind)
            if goal is None:
                continue
            period = periods[goal.period]
            numbers = by_type[goal.period][user_id][0].numbers[kind]
            person.numbers[kind] = numbers
            person.goals.append(
                old_evaluate(
                    goal,
                    numbers,
                    start=period.start,
                    end=period.end,
                    period_label=period.label,
                    today=today,
                    away=away,
                    open_total=opened[goal.period].get(kind, 0),
                )
            )
        people.append(person)
    return people


def old_suggestions(user, goals, now, tz, limit=5):
    wanted = {p.kind: p for p in goals if p.remaining > 0 and p.days_left > 0}
    if not wanted:
        return []
    ends = {kind: Period.containing(p.goal.period, p.start).bounds(tz)[1] for kind, p in wanted.items()}
    o = old_open_activities(now, max(ends.values()))
    already = exists().where(
        Participation.activity_id == Activity.id, Participation.user_id == user.id, Participation.state.in_(ON_IT)
    )
    rows = (
        db.session.scalars(
            select(Activity)
            .join(o, o.c.id == Activity.id)
            .options(joinedload(Activity.host))
            .where(
                or_(*[and_(Activity.kind == kind, Activity.starts_at < end) for kind, end in ends.items()]),
                Activity.host_id != user.id,
                ~already,
            )
            .order_by(Activity.starts_at, Activity.id)
            .limit(limit)
        )
        .unique()
        .all()
    )
    counts = seat_counts([a.id for a in rows], now)
    return [(a.id, a.kind, max((a.seats or 0) - counts[a.id].taken, 0)) for a in rows]


# --- random companies ----------------------------------------------------------------------------


@dataclass
class Company:
    people: list[int]
    managers: list[int]
    departments: list[int]
    teams: list[int]


def _ids(model, rows):
    return list(db.session.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), rows))


def random_company(rng: random.Random, now: datetime) -> Company:
    departments = _ids(Department, [{"name": f"Dept {n}", "function": f} for n, f in enumerate(["sales", "marketing"])])
    departments.append(_ids(Department, [{"name": "Aardvark", "function": "other"}])[0])
    teams = _ids(Team, [{"name": f"Team {n}", "department_id": rng.choice(departments)} for n in range(4)])
    team_dept = dict(db.session.execute(select(Team.id, Team.department_id)).all())

    def joined() -> datetime:
        return rng.choice(
            [
                datetime(2024, 1, 1, tzinfo=UTC),
                now - timedelta(days=rng.randrange(0, 400), hours=rng.randrange(24)),
                now + timedelta(days=rng.randrange(1, 40)),  # not even here yet
            ]
        )

    rows = []
    for n in range(rng.randrange(18, 36)):
        team = rng.choice([*teams, None, None])
        dept = team_dept[team] if team and rng.random() < 0.9 else rng.choice([*departments, None])
        rows.append(
            {
                "email": f"p{n}@example.com",
                "name": rng.choice(["Ann", "Bob", "Cat", "Dan", "Eve"]) + f" {n % 7}",  # names repeat: ties
                "role": rng.choice(["staff", "staff", "staff", "leader", "hr", "admin"]),
                "department_id": dept,
                "team_id": team,
                "timezone": rng.choice(ZONES),
                "active": rng.random() < 0.9,
                "created_at": joined(),
                "password_hash": None,
            }
        )
    people = _ids(User, rows)
    managers = rng.sample(people, 4)
    for person in people:
        boss = rng.choice([*managers, None])
        if boss != person:
            db.session.execute(db.update(User).where(User.id == person).values(manager_id=boss))
    for team in teams:
        db.session.execute(db.update(Team).where(Team.id == team).values(manager_id=rng.choice([*managers, None])))

    goals, seen = [], set()
    for _ in range(rng.randrange(3, 12)):
        kind = rng.choice(KINDS)
        scope = rng.choice(["role", "department", "team", "person"])
        value = {
            "role": rng.choice(["staff", "leader", "hr"]),
            "department": rng.choice(departments),
            "team": rng.choice(teams),
            "person": rng.choice(people),
        }[scope]
        if (kind, scope, value) in seen:
            continue
        seen.add((kind, scope, value))
        column = {"role": "role", "department": "department_id", "team": "team_id", "person": "user_id"}[scope]
        goals.append(
            {
                "kind": kind,
                "period": rng.choice(["month", "month", "quarter", "half", "year"]),
                "target": rng.choice([1, 1, 2, 3, 5, 12]),
                "scope": scope,
                "scope_key": f"{scope}:{value}",
                column: value,
                "requires_debrief": rng.random() < 0.7,
            }
        )
    if goals:
        db.session.execute(insert(Goal), goals)

    leaves = []
    for person in rng.sample(people, len(people) // 3):
        for _ in range(rng.randrange(1, 4)):  # some overlap each other
            first = now.date() + timedelta(days=rng.randrange(-200, 60))
            leaves.append(
                {"user_id": person, "starts_on": first, "ends_on": first + timedelta(days=rng.randrange(0, 40))}
            )
    db.session.execute(insert(Leave), leaves)

    activities = []
    for n in range(rng.randrange(60, 140)):
        start = now + timedelta(days=rng.uniform(-200, 70), hours=rng.randrange(24))
        if rng.random() < 0.1:  # right at a local month edge
            start = datetime(2026, rng.choice([10, 11, 12]), 1, tzinfo=UTC) + timedelta(hours=rng.randrange(-14, 14))
        kind = rng.choice(KINDS)
        activities.append(
            {
                "kind": kind,
                "title": f"{kind} {n}",
                "host_id": rng.choice(people),
                "created_by_id": people[0],
                "starts_at": start,
                "ends_at": start + timedelta(hours=1),
                "timezone": "UTC",
                "seats": rng.choice([None, 1, 2, 3, 4]),
                "booking_cutoff_at": start - timedelta(hours=rng.choice([0, 12, 24 * 5])),
                "status": rng.choice(["scheduled"] * 9 + ["cancelled"]),
                "ical_uid": f"oracle-{n}@tandem",
            }
        )
    activity_ids = _ids(Activity, activities)
    db.session.execute(
        insert(RideAlongCall),
        [
            {
                "activity_id": a,
                "account_name": f"Account {a}",
                "segment": "SMB",
                "funnel_stage": "MQL",
                "call_type": "demo",
            }
            for a, row in zip(activity_ids, activities, strict=True)
            if row["kind"] == "ride_along"
        ],
    )
    parts, meta = [], []
    for a, row in zip(activity_ids, activities, strict=True):
        for user in rng.sample(people, rng.randrange(0, 6)):
            state = rng.choice(list(State))
            parts.append(
                {
                    "activity_id": a,
                    "user_id": user,
                    "state": state.value,
                    "offer_expires_at": now + timedelta(hours=rng.choice([-5, 5])) if state == State.OFFERED else None,
                }
            )
            meta.append((a, user, row["starts_at"], state))
    part_ids = _ids(Participation, parts)
    tasks = [
        {
            "participation_id": p,
            "user_id": user,
            "activity_id": a,
            "due_at": rng.choice(
                [starts + timedelta(days=rng.choice([-1, 2, 30])), now + timedelta(hours=rng.randrange(-30, 30))]
            ),
            "status": rng.choice(["open", "submitted", "submitted"]),
        }
        for p, (a, user, starts, state) in zip(part_ids, meta, strict=True)
        if state == State.ATTENDED or rng.random() < 0.05
    ]
    if tasks:
        db.session.execute(insert(DebriefTask), tasks)
    db.session.flush()
    return Company(people, managers, departments, teams)


# --- comparing -----------------------------------------------------------------------------------


def shape(people: list[PersonProgress]) -> list[tuple]:
    def progress(p: Progress) -> tuple:
        return (p.kind, p.goal.id, p.start, p.end, p.period_label, p.target, p.done, p.in_hand, p.ahead)

    def judged(p: Progress) -> tuple:
        return (p.open_seats, p.days_left, p.line, p.status)

    return [
        (
            p.user_id,
            p.name,
            p.email,
            p.role,
            p.department_id,
            p.department,
            p.team_id,
            p.team,
            p.manager,
            tuple((k, p.numbers[k]) for k in KINDS),
            p.debriefs_submitted,
            p.debriefs_overdue,
            tuple(progress(g) + judged(g) for g in p.goals),
            tuple((g.kind, g.goal.id, g.period) for g in p.longer),
            (p.target, p.achieved, p.percent, p.status_key),
        )
        for p in people
    ]


def filters(rng: random.Random, company: Company) -> list[list]:
    boss = db.session.get(User, rng.choice(company.managers))
    return [
        [],
        team_where(boss),
        [User.id == rng.choice(company.people)],
        [User.department_id == rng.choice(company.departments)],
        [User.role == "staff", User.team_id == rng.choice(company.teams)],
    ]


def clocks(rng: random.Random) -> list[datetime]:
    return [
        BASE,
        BASE + timedelta(days=rng.randrange(-120, 120), hours=rng.randrange(24)),
        datetime(2026, 12, 31, 23, 30, tzinfo=UTC),
    ]


@pytest.mark.parametrize("seed", SEEDS)
def test_current_progress_equals_the_old_implementation(app, seed):
    rng = random.Random(seed)
    company = random_company(rng, BASE)
    for now in clocks(rng):
        for tz in rng.sample(ZONES, 2):
            for where in filters(rng, company):
                assert shape(current_progress(where, now, tz)) == shape(old_current_progress(where, now, tz))


@pytest.mark.parametrize("seed", SEEDS)
def test_report_progress_equals_the_old_implementation(app, seed):
    rng = random.Random(seed)
    company = random_company(rng, BASE)
    for now in clocks(rng)[:2]:
        today = now.date()
        periods = [
            Period.containing(t, today).shifted(rng.choice([-1, 0, 0, 1])) for t in ("month", "quarter", "half", "year")
        ]
        for period in periods:
            tz = rng.choice(ZONES)
            for where in rng.sample(filters(rng, company), 3):
                new = list(iter_progress(where, now, tz, period, yield_per=7))
                assert shape(new) == shape(list(old_iter_progress(where, now, tz, period)))


@pytest.mark.parametrize("seed", SEEDS)
def test_numbers_over_any_stretch_equal_the_old_statement(app, seed):
    """The digest's week (seven local days, not a calendar period) reads the same numbers."""
    rng = random.Random(seed)
    company = random_company(rng, BASE)
    for _ in range(4):
        now = BASE + timedelta(days=rng.randrange(-60, 60))
        first = now.date() - timedelta(days=7)
        start, end = local_bounds(first, now.date(), rng.choice(ZONES))
        where = rng.choice(filters(rng, company))
        old = {
            row.id: old_person_from_row(row) for row in db.session.execute(old_people_numbers(where, start, end, now))
        }
        tallies = load_tallies(where, [(start, end)], now)
        ids = [row.id for row in db.session.execute(people_statement(where))]
        assert ids == list(old)
        for user_id in ids:
            assert {k: tallies.kind_numbers(user_id, k) for k in KINDS} == old[user_id].numbers
            assert tallies.debriefs_of(user_id) == (old[user_id].debriefs_submitted, old[user_id].debriefs_overdue)


@pytest.mark.parametrize("seed", SEEDS)
def test_suggestions_equal_the_old_statement(app, seed):
    rng = random.Random(seed)
    company = random_company(rng, BASE)
    compared = 0
    for now in clocks(rng):
        tz = rng.choice(ZONES)
        for person in current_progress([User.id.in_(company.people)], now, tz):
            user = db.session.get(User, person.user_id)
            new = [(s.activity.id, s.activity.kind, s.free) for s in suggestions_for(user, person.goals, now, tz)]
            assert new == old_suggestions(user, person.goals, now, tz)
            compared += bool(new)
    assert compared  # some had suggestions to compare


def expected_rollups(people: list[PersonProgress], other: str) -> dict[str, tuple]:
    """name -> (people, with a goal, target, achieved, statuses), added up by hand from the old people."""
    found: dict[str, list] = {"*": [0, 0, 0, 0, Counter()]}
    for p in people:
        for name in (p.department or other, "*"):
            entry = found.setdefault(name, [0, 0, 0, 0, Counter()])
            entry[0] += 1
            entry[4][p.status_key] += 1
            if p.goals:
                entry[1] += 1
                entry[2] += p.target
                entry[3] += p.achieved
    return {name: (*entry[:4], +entry[4]) for name, entry in found.items()}


@pytest.mark.parametrize("seed", SEEDS)
def test_roll_ups_and_report_totals_equal_the_old_implementation(app, seed):
    rng = random.Random(seed)
    company = random_company(rng, BASE)
    for now in clocks(rng)[:2]:
        tz = rng.choice(ZONES)
        org = org_summary(now, tz, viewer_id=company.people[0])
        got = {d.name: (d.people, d.with_goal, d.target, d.achieved, +d.statuses) for d in [*org.departments]}
        got["*"] = (org.total.people, org.total.with_goal, org.total.target, org.total.achieved, +org.total.statuses)
        assert got == expected_rollups(old_current_progress([], now, tz), "No department")
        viewer = old_current_progress([User.id == company.people[0]], now, tz)
        assert shape([org.viewer] if org.viewer else []) == shape(viewer)

        period = Period.containing(rng.choice(["month", "quarter", "year"]), now.date())
        status = rng.choice(["", "", "behind", "at_risk", "met", "longer_period", "no_goal"])
        report = build_report(ReportFilters(period=period.key, status=status), tz, now)
        old = [p for p in old_iter_progress([], now, tz, period) if not status or p.status_key == status]
        assert shape(list(report.rows)) == shape(old)
        assert shape(report.rows[2:5]) == shape(old[2:5]) and len(report.rows) == len(old)
        expected = expected_rollups(old, "No department")
        got = {t.label: (t.people, t.with_goal, t.target, t.achieved, +t.statuses) for t in report.departments}
        got["*"] = (report.total.people, report.total.with_goal, report.total.target, report.total.achieved)
        got["*"] += (+report.total.statuses,)
        assert got == expected
        for kind in KINDS:
            assert report.total.kinds[kind].attended == sum(p.numbers[kind].attended for p in old)
