"""Progress against goals, for one person or thousands, in a fixed number of queries.

Rules kept here:
- the goal that applies to a person for a kind is the most specific one: person > team > department > role;
- a participation counts for a period when its activity starts inside the period (local days of the
  viewer's timezone), it was attended and — unless the goal waives it — its debrief is submitted;
- the target is pro-rated for the days the person was there (see ``periods``);
- over a report period shorter than a goal's own (a quarterly goal in a month's report) the goal is not
  judged: it is listed in ``PersonProgress.longer`` with its own period, counts for no target, %, status
  or "met", and a person with only such goals has the status "n/a (longer period)";
- the status (met, on track, at risk, behind) is ``status.classify``'s; the numbers come from ``numbers``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from program.accounts.models import User
from program.extensions import db
from program.goals.models import Goal, Scope
from program.goals.numbers import leaves_for, open_totals, people_numbers, person_from_row
from program.goals.status import KINDS, LongerGoal, PersonProgress, evaluate
from program.periods import Period, Span, local_bounds, local_today, longer_than, unavailable_spans

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

    def applicable(self, *, user_id: int, role: str, department_id: int | None, team_id: int | None) -> dict[str, Goal]:
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
        person = person_from_row(row)
        goals = ctx.book.applicable(user_id=row.id, role=row.role, department_id=row.department_id, team_id=row.team_id)
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
        by_type[t] = {row.id: (person_from_row(row), row.created_at) for row in rows}
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
