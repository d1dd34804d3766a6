"""Progress against goals, for one person or thousands, in a fixed number of queries.

Rules kept here:
- the goal that applies to a person for a kind is the most specific one: person > team > department > role;
- a participation counts for a period when its activity starts inside the period (local days of the
  viewer's timezone), it was attended and — unless the goal waives it — its debrief is submitted;
- the target is pro-rated for the days the person was there (see ``periods``);
- over a report period shorter than a goal's own (a quarterly goal in a month's report) the goal is not
  judged: it is listed in ``PersonProgress.longer`` with its own period, counts for no target, %, status
  or "met", and a person with only such goals has the status "n/a (longer period)";
- status, judged on the local day ``today``:
    met       done ≥ target (a target that rounds to 0 is met);
    behind    the period is over and the target was missed, or done is below the pro-rata line:
              fewer than ⌊target × share of the person's available days already gone⌋;
    at risk   not behind, but the rest can't be reached: either there are not enough seats —
              attended-awaiting-debrief + seats already held + open seats left in the period < remaining —
              or, once a quarter of the available days has gone, the pace so far (done per available day,
              projected over the available days left, plus what is in hand) falls short;
    on track  otherwise;
- an open seat is a seat still free on a scheduled activity of the kind that starts later in the period,
  whose booking is still open and which the person neither hosts nor is already on (one per activity);
  only activities with a seat limit (self-booked ones such as ride-alongs) have open seats.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from functools import lru_cache
from math import floor

from sqlalchemy import Select, and_, case, func, or_, select, union
from sqlalchemy.orm import aliased

from program.accounts.models import Department, Team, User
from program.activities.models import Activity, ActivityKind, ActivityStatus, Participation, State
from program.activities.services import _seat_taken_clause
from program.debriefs.models import DebriefTask
from program.extensions import db
from program.goals.models import Goal, Leave, PeriodType, Scope
from program.goals.periods import (
    Period,
    Span,
    available_days,
    expected_target,
    local_bounds,
    local_today,
    longer_than,
    round_half_up,
    unavailable_spans,
)

KINDS: tuple[str, ...] = tuple(k.value for k in ActivityKind)
KIND_LABELS = {k.value: k.label for k in ActivityKind}
HELD = (State.BOOKED.value, State.ATTENDED.value, State.NO_SHOW.value)  # a seat was held through the activity
ON_IT = (State.BOOKED.value, State.OFFERED.value, State.WAITLISTED.value, State.INVITED.value)
METRICS = ("booked", "attended", "no_show", "debriefed", "ahead", "mine")
PACE_MIN_SHARE = Fraction(1, 4)


class Status(enum.StrEnum):
    MET = "met"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BEHIND = "behind"

    @property
    def label(self) -> str:
        return {"met": "Met", "on_track": "On track", "at_risk": "At risk", "behind": "Behind"}[self.value]

    @property
    def severity(self) -> int:
        return _SEVERITY[self.value]

    @property
    def badge(self) -> str:
        return {"met": "ok", "on_track": "info", "at_risk": "warn", "behind": "bad"}[self.value]


_SEVERITY = {s.value: n for n, s in enumerate(Status)}
NO_GOAL = "no_goal"
LONGER = "longer_period"  # every goal the person has runs over a longer period than the one reported
LONGER_LABEL = "n/a (longer period)"
STATUS_CHOICES = [(s.value, s.label) for s in Status] + [(LONGER, LONGER_LABEL), (NO_GOAL, "No goal")]


# --- which goal applies --------------------------------------------------------------------------


def scope_key(scope: Scope | str, value: object) -> str:
    return f"{Scope(scope).value}:{value}"


class GoalBook:
    """Every goal, indexed so the most specific one for a person and kind is a few dict look-ups."""

    def __init__(self, goals: Sequence[Goal]) -> None:
        self.goals = list(goals)
        self._by_key = {(g.kind, g.scope_key): g for g in self.goals}

    @classmethod
    def load(cls) -> GoalBook:
        return cls(db.session.scalars(select(Goal).order_by(Goal.id)).all())

    def period_types(self) -> set[str]:
        return {g.period for g in self.goals}

    def applicable(
        self, *, user_id: int, role: str, department_id: int | None, team_id: int | None
    ) -> dict[str, Goal]:
        """kind -> the goal that applies (person, else team, else department, else role); kinds with none are absent."""
        keys = [scope_key(Scope.PERSON, user_id)]
        if team_id:
            keys.append(scope_key(Scope.TEAM, team_id))
        if department_id:
            keys.append(scope_key(Scope.DEPARTMENT, department_id))
        keys.append(scope_key(Scope.ROLE, role))
        found: dict[str, Goal] = {}
        for kind in KINDS:
            for key in keys:
                goal = self._by_key.get((kind, key))
                if goal is not None:
                    found[kind] = goal
                    break
        return found

    def for_user(self, user: User) -> dict[str, Goal]:
        return self.applicable(user_id=user.id, role=user.role, department_id=user.department_id, team_id=user.team_id)


# --- status --------------------------------------------------------------------------------------


def classify(
    *,
    target: int,
    done: int,
    in_hand: int,
    ahead: int,
    open_seats: int,
    line: int,
    days_left: int,
    available: int,
    elapsed: int,
) -> Status:
    """The status from the numbers (see the module docstring). ``line`` is ⌊pro-rata target so far⌋;
    ``available`` and ``elapsed`` are the person's available days in the period and those already gone."""
    if done >= target:
        return Status.MET
    if days_left <= 0 or done < line:
        return Status.BEHIND
    remaining = target - done
    if in_hand + ahead + open_seats < remaining:
        return Status.AT_RISK
    if available and elapsed and Fraction(elapsed, available) >= PACE_MIN_SHARE:
        projected = done + in_hand + ahead + Fraction(done, elapsed) * (available - elapsed)
        if projected < target:
            return Status.AT_RISK
    return Status.ON_TRACK


@dataclass
class KindNumbers:
    booked: int = 0  # seats held through the activity: booked, attended or no-show
    attended: int = 0
    no_show: int = 0
    debriefed: int = 0  # attended with the debrief submitted
    ahead: int = 0  # seats held (or invitations) not yet attended
    mine: int = 0  # open activities ahead that this person hosts or is already on


@dataclass
class Progress:
    """One person's progress on one goal over one stretch of local days [start, end)."""

    kind: str
    goal: Goal
    start: date
    end: date
    period_label: str
    target: int
    done: int
    in_hand: int  # attended, debrief not submitted yet: counts once it is
    ahead: int
    open_seats: int
    days_left: int
    line: int
    status: Status

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def remaining(self) -> int:
        return max(self.target - self.done, 0)

    @property
    def achieved(self) -> int:
        return min(self.done, self.target)

    @property
    def percent(self) -> int:
        return 100 if not self.target else round(100 * self.achieved / self.target)


@lru_cache(maxsize=4096)
def _calendar(
    target: int, period: str, start: date, end: date, today: date, away: tuple[Span, ...]
) -> tuple[int, int, int, int, int]:
    """(pro-rated target, line so far, available days, available days gone, days left): pure, and the same
    for most people (everyone who joined before the period and took no leave), so it is cached."""
    mid = min(max(today, start), end)
    whole = round_half_up(expected_target(target, period, start, end, away))
    line = min(floor(expected_target(target, period, start, mid, away)), whole)
    return whole, line, available_days(start, end, away), available_days(start, mid, away), (end - mid).days


def evaluate(
    goal: Goal,
    numbers: KindNumbers,
    *,
    start: date,
    end: date,
    period_label: str,
    today: date,
    away: Sequence[Span],
    open_total: int,
) -> Progress:
    """Progress on ``goal`` over the local days [start, end), judged on ``today``."""
    counted = numbers.debriefed if goal.requires_debrief else numbers.attended
    in_hand = numbers.attended - numbers.debriefed if goal.requires_debrief else 0
    target, line, available, elapsed, days_left = _calendar(goal.target, goal.period, start, end, today, tuple(away))
    open_seats = max(open_total - numbers.mine, 0)
    status = classify(
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
        kind=goal.kind,
        goal=goal,
        start=start,
        end=end,
        period_label=period_label,
        target=target,
        done=counted,
        in_hand=in_hand,
        ahead=numbers.ahead,
        open_seats=open_seats,
        days_left=days_left,
        line=line,
        status=status,
    )


@dataclass(frozen=True)
class LongerGoal:
    """A goal not judged over the reported period because its own period is longer; ``period`` is the
    goal's period that contains the reported one (where it is judged)."""

    kind: str
    goal: Goal
    period: Period

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def describe(self) -> str:
        return f"{self.kind_label}: {self.goal.target} {PeriodType(self.goal.period).per}, judged over {self.period.label}"


# --- one row of numbers per person ---------------------------------------------------------------


@dataclass
class PersonProgress:
    user_id: int
    name: str
    email: str
    role: str
    department_id: int | None
    department: str
    team_id: int | None
    team: str
    manager: str
    numbers: dict[str, KindNumbers]
    debriefs_submitted: int = 0
    debriefs_overdue: int = 0
    goals: list[Progress] = field(default_factory=list)
    longer: list[LongerGoal] = field(default_factory=list)  # goals not judged over this (shorter) period

    @property
    def has_goal(self) -> bool:
        return bool(self.goals)

    @property
    def target(self) -> int | None:
        return sum(p.target for p in self.goals) if self.goals else None

    @property
    def done(self) -> int:
        return sum(p.done for p in self.goals)

    @property
    def achieved(self) -> int:
        """Done, counted up to each goal's target (five ride-alongs don't make up for a missing shadow day)."""
        return sum(p.achieved for p in self.goals)

    @property
    def percent(self) -> int | None:
        target = self.target
        if target is None:
            return None
        return 100 if target == 0 else round(100 * self.achieved / target)

    @property
    def status(self) -> Status | None:
        """The worst status over the person's goals (None: no goal applies)."""
        return max((p.status for p in self.goals), key=lambda s: s.severity) if self.goals else None

    @property
    def status_key(self) -> str:
        status = self.status
        return status.value if status else LONGER if self.longer else NO_GOAL

    @property
    def status_label(self) -> str:
        status = self.status
        return status.label if status else LONGER_LABEL if self.longer else "No goal"


def _count(condition) -> object:
    return func.sum(case((condition, 1), else_=0))


def open_activities(now: datetime, end: datetime):
    """A subquery of the activities with an open seat that start in (now, end): id, kind, host_id."""
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
            a.kind.in_(KINDS),  # lets the (kind, starts_at) index serve the time range
            a.status == ActivityStatus.SCHEDULED.value,
            a.starts_at > now,
            a.starts_at < end,
            a.booking_cutoff_at > now,
            a.seats.is_not(None),
            a.seats > taken,
        )
        .subquery()
    )


def open_totals(now: datetime, end: datetime) -> dict[str, int]:
    """kind -> activities with an open seat starting between now and ``end`` (one query)."""
    o = open_activities(now, end)
    return {kind: n for kind, n in db.session.execute(select(o.c.kind, func.count(o.c.id)).group_by(o.c.kind))}


def people_ids(where: Sequence) -> Select:
    return select(User.id).where(User.active.is_(True), *where).correlate(None)


def people_numbers(where: Sequence, start: datetime, end: datetime, now: datetime) -> Select:
    """One row per active person matching ``where``: who they are, and per kind the numbers of the
    activities starting in [start, end) — plus debriefs submitted and overdue — in one statement."""
    seat = _seat_taken_clause(now)
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
        .where(Activity.kind.in_(KINDS), Activity.starts_at >= start, Activity.starts_at < end, User.active.is_(True),
               *where)
        .group_by(Participation.user_id)
        .subquery("numbers")
    )
    o = open_activities(now, end)
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


def leaves_for(where: Sequence, first: date, after: date) -> dict[int, list[tuple[date, date]]]:
    """user id -> leave ranges overlapping [first, after), for the people matching ``where`` (one query)."""
    rows = db.session.execute(
        select(Leave.user_id, Leave.starts_on, Leave.ends_on).where(
            Leave.user_id.in_(people_ids(where)), Leave.ends_on >= first, Leave.starts_on < after
        )
    )
    found: dict[int, list[tuple[date, date]]] = {}
    for user_id, starts_on, ends_on in rows:
        found.setdefault(user_id, []).append((starts_on, ends_on))
    return found


_COLUMNS = [(kind, [f"{kind}__{m}" for m in METRICS]) for kind in KINDS]


def _person(row) -> PersonProgress:
    values = row._mapping
    numbers = {kind: KindNumbers(*(int(values[c] or 0) for c in columns)) for kind, columns in _COLUMNS}
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
        numbers=numbers,
        debriefs_submitted=int(row.debriefs_submitted or 0),
        debriefs_overdue=int(row.debriefs_overdue or 0),
    )


@dataclass
class _Context:
    book: GoalBook
    leaves: dict[int, list[tuple[date, date]]]
    today: date
    tz: str


def _away(ctx: _Context, person: PersonProgress, joined: datetime) -> list[Span]:
    return unavailable_spans(local_today(joined, ctx.tz), ctx.leaves.get(person.user_id, ()))


def iter_progress(
    where: Sequence, now: datetime, tz: str, period: Period, *, yield_per: int = 500, book: GoalBook | None = None
) -> Iterator[PersonProgress]:
    """Every matching person's numbers and goal progress over one period, streamed from a server-side
    cursor in chunks of ``yield_per``. Four queries whatever the number of people. A goal whose own period
    is longer than ``period`` is not judged: it goes to ``person.longer`` with the period that holds it."""
    start, end = period.bounds(tz)
    ctx = _Context(book or GoalBook.load(), leaves_for(where, period.start, period.end), local_today(now, tz), tz)
    opened = open_totals(now, end)
    stmt = people_numbers(where, start, end, now).execution_options(yield_per=yield_per)
    for row in db.session.execute(stmt):
        person = _person(row)
        goals = ctx.book.applicable(
            user_id=row.id, role=row.role, department_id=row.department_id, team_id=row.team_id
        )
        away = _away(ctx, person, row.created_at)
        for kind in KINDS:
            if kind in goals and longer_than(goals[kind].period, period.type):
                person.longer.append(LongerGoal(kind, goals[kind], Period.containing(goals[kind].period, period.start)))
            elif kind in goals:
                person.goals.append(
                    evaluate(
                        goals[kind],
                        person.numbers[kind],
                        start=period.start,
                        end=period.end,
                        period_label=period.label,
                        today=ctx.today,
                        away=away,
                        open_total=opened.get(kind, 0),
                    )
                )
        yield person


def current_progress(where: Sequence, now: datetime, tz: str, *, book: GoalBook | None = None) -> list[PersonProgress]:
    """Every matching person's progress on each goal over that goal's CURRENT period (the month, quarter,
    half or year containing today in ``tz``). 2 + 2 × (kinds of period in use) queries."""
    book = book or GoalBook.load()
    today = local_today(now, tz)
    periods = {t: Period.containing(t, today) for t in sorted(book.period_types())}
    if not periods:
        periods = {"month": Period.containing("month", today)}
    first = min(p.start for p in periods.values())
    after = max(p.end for p in periods.values())
    ctx = _Context(book, leaves_for(where, first, after), today, tz)
    by_type: dict[str, dict[int, tuple[PersonProgress, datetime]]] = {}
    opened: dict[str, dict[str, int]] = {}
    order: list[int] = []
    for t, period in periods.items():
        start, end = period.bounds(tz)
        rows = db.session.execute(people_numbers(where, start, end, now)).all()
        by_type[t] = {row.id: (_person(row), row.created_at) for row in rows}
        if not order:
            order = [row.id for row in rows]
        opened[t] = open_totals(now, end)
    people: list[PersonProgress] = []
    any_type = next(iter(periods))
    for user_id in order:
        person, joined = by_type[any_type][user_id]
        goals = book.applicable(
            user_id=user_id, role=person.role, department_id=person.department_id, team_id=person.team_id
        )
        away = _away(ctx, person, joined)
        for kind in KINDS:
            goal = goals.get(kind)
            if goal is None:
                continue
            period = periods[goal.period]
            numbers = by_type[goal.period][user_id][0].numbers[kind]
            person.numbers[kind] = numbers
            person.goals.append(
                evaluate(
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


def month_bounds(now: datetime, tz: str, months: int) -> list[tuple[Period, datetime, datetime]]:
    """The last ``months`` local months up to and including the current one, oldest first, with UTC bounds."""
    current = Period.containing("month", local_today(now, tz))
    found = []
    for n in range(months - 1, -1, -1):
        p = current.shifted(-n)
        found.append((p, *local_bounds(p.start, p.end, tz)))
    return found
