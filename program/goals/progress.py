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
from datetime import date, datetime

from sqlalchemy import select

from program.accounts.models import User
from program.extensions import db
from program.goals.models import Goal, Scope
from program.goals.numbers import leaves_for, load_tallies, people_statement, person_from_row
from program.goals.status import KINDS, LongerGoal, PersonProgress, evaluate
from program.periods import MONTHS_IN, Period, Span, local_bounds, local_today, longer_than, unavailable_spans

# --- which goal applies --------------------------------------------------------------------------


def scope_key(scope: Scope | str, value: object) -> str:
    return f"{Scope(scope).value}:{value}"


class GoalBook:
    """Every goal, indexed so the most specific one for a person and kind is a few dict look-ups (and the
    answer for everyone sharing a role, department and team without a goal of their own is worked out once)."""

    def __init__(self, goals: Sequence[Goal]) -> None:
        self.goals = list(goals)
        self._by_key = {(g.kind, g.scope_key): g for g in self.goals}
        self._personal: dict[int, dict[str, Goal]] = {}
        person = scope_key(Scope.PERSON, "")
        for g in self.goals:
            if g.scope_key.startswith(person) and g.scope_key[len(person) :].isdigit():
                self._personal.setdefault(int(g.scope_key[len(person) :]), {})[g.kind] = g
        self._shared: dict[tuple[str, int | None, int | None], dict[str, Goal]] = {}

    @classmethod
    def load(cls) -> GoalBook:
        return cls(db.session.scalars(select(Goal).order_by(Goal.id)).all())

    def period_types(self) -> set[str]:
        return {g.period for g in self.goals}

    def _first_of(self, keys: list[str]) -> dict[str, Goal]:
        found: dict[str, Goal] = {}
        for kind in KINDS:
            for key in keys:
                goal = self._by_key.get((kind, key))
                if goal is not None:
                    found[kind] = goal
                    break
        return found

    def applicable(self, *, user_id: int, role: str, department_id: int | None, team_id: int | None) -> dict[str, Goal]:
        """kind -> the goal that applies (person, else team, else department, else role); kinds with none are absent."""
        shared = self._shared.get((role, department_id, team_id))
        if shared is None:
            keys = []
            if team_id:
                keys.append(scope_key(Scope.TEAM, team_id))
            if department_id:
                keys.append(scope_key(Scope.DEPARTMENT, department_id))
            keys.append(scope_key(Scope.ROLE, role))
            shared = self._shared[(role, department_id, team_id)] = self._first_of(keys)
        own = self._personal.get(user_id)
        if not own:
            return shared  # shared by everyone in the same place: read it, don't change it
        return {kind: own.get(kind) or shared[kind] for kind in KINDS if kind in own or kind in shared}

    def for_user(self, user: User) -> dict[str, Goal]:
        return dict(
            self.applicable(user_id=user.id, role=user.role, department_id=user.department_id, team_id=user.team_id)
        )


def _away(joined: datetime, leaves: dict[int, list[tuple[date, date]]], user_id: int, tz: str) -> list[Span]:
    return unavailable_spans(local_today(joined, tz), leaves.get(user_id, ()))


class PeriodProgress:
    """Progress over one period for the people matching ``where``: what every person's progress is made of,
    read once (three queries: goals unless given, the tallies, leave); ``people()`` streams the people (one
    more) and ``person(row)`` builds one person's progress from their row, as often as needed — so a caller
    may keep the plain rows and build only the people it shows."""

    def __init__(
        self, where: Sequence, now: datetime, tz: str, period: Period, *, book: GoalBook | None = None
    ) -> None:
        self.where, self.now, self.tz, self.period = list(where), now, tz, period
        self.book = book or GoalBook.load()
        self.today = local_today(now, tz)
        self.tallies = load_tallies(where, [period.bounds(tz)], now)
        self.leaves = leaves_for(where, period.start, period.end)
        self._label = period.label
        self._longer: dict[int, LongerGoal | None] = {}  # goal id -> how it is listed when its period is longer

    def people(self, yield_per: int = 500) -> Iterator[tuple]:
        """The people's rows (``people_statement``), as plain tuples, from a server-side cursor."""
        stmt = people_statement(self.where).execution_options(yield_per=yield_per)
        for row in db.session.execute(stmt).tuples():
            yield tuple(row)

    def person(self, row: tuple) -> PersonProgress:
        """One person's numbers and goal progress. A goal whose own period is longer than the period is not
        judged: it goes to ``person.longer`` with the period that holds it."""
        period, longer = self.period, self._longer
        person = person_from_row(row, self.tallies)
        user_id, _, _, role, department_id, team_id, joined = row[:7]
        goals = self.book.applicable(user_id=user_id, role=role, department_id=department_id, team_id=team_id)
        away: list[Span] | None = None
        for kind, goal in goals.items():
            if goal.id not in longer:
                longer[goal.id] = (
                    LongerGoal(kind, goal, Period.containing(goal.period, period.start))
                    if longer_than(goal.period, period.type)
                    else None
                )
            if longer[goal.id] is not None:
                person.longer.append(longer[goal.id])
                continue
            if away is None:
                away = _away(joined, self.leaves, user_id, self.tz)
            person.goals.append(
                evaluate(
                    goal,
                    person.numbers[kind],
                    start=period.start,
                    end=period.end,
                    period_label=self._label,
                    today=self.today,
                    away=away,
                    open_total=self.tallies.open_total(kind),
                )
            )
        return person


def iter_progress(
    where: Sequence, now: datetime, tz: str, period: Period, *, yield_per: int = 500, book: GoalBook | None = None
) -> Iterator[PersonProgress]:
    """Every matching person's numbers and goal progress over one period, the people streamed from a
    server-side cursor in chunks of ``yield_per``. Four queries whatever the number of people (goals, the
    tallies, leave, people); see ``PeriodProgress``."""
    progress = PeriodProgress(where, now, tz, period, book=book)
    for row in progress.people(yield_per):
        yield progress.person(row)


def current_progress(where: Sequence, now: datetime, tz: str, *, book: GoalBook | None = None) -> list[PersonProgress]:
    """Every matching person's progress on each goal over that goal's CURRENT period (the month, quarter,
    half or year containing today in ``tz``). Four queries (goals, the tallies, leave, people; on PostgreSQL
    also the JIT switch) whatever the number of people or kinds of period in use: one tallies statement counts
    every period at once (they all hold today, so they are nested)."""
    return list(iter_current_progress(where, now, tz, book=book))


def iter_current_progress(
    where: Sequence, now: datetime, tz: str, *, book: GoalBook | None = None
) -> Iterator[PersonProgress]:
    """``current_progress`` one person at a time, for roll-ups that keep none of them: thousands of people
    held at once cost a full garbage collection or two (~100 ms each at 5,000 people), one at a time nothing."""
    book = book or GoalBook.load()
    today = local_today(now, tz)
    types = sorted(book.period_types()) or ["month"]
    periods = {t: Period.containing(t, today) for t in types}
    nested = sorted(periods.values(), key=lambda p: MONTHS_IN[p.type])
    window = {p.type.value: n for n, p in enumerate(nested)}
    tallies = load_tallies(where, [p.bounds(tz) for p in nested], now)
    leaves = leaves_for(where, nested[-1].start, nested[-1].end)
    labels = {t: p.label for t, p in periods.items()}
    # The numbers of a kind without a goal (shown nowhere) are over the first kind of period in use.
    shown = window[types[0]]
    for row in db.session.execute(people_statement(where)):
        person = person_from_row(row, tallies, shown)
        goals = book.applicable(user_id=row.id, role=row.role, department_id=row.department_id, team_id=row.team_id)
        away = _away(row.created_at, leaves, row.id, tz) if goals else []
        for kind in KINDS:
            goal = goals.get(kind)
            if goal is None:
                continue
            period, n = periods[goal.period], window[goal.period]
            numbers = person.numbers[kind] = tallies.kind_numbers(row.id, kind, n)
            person.goals.append(
                evaluate(
                    goal,
                    numbers,
                    start=period.start,
                    end=period.end,
                    period_label=labels[goal.period],
                    today=today,
                    away=away,
                    open_total=tallies.open_total(kind, n),
                )
            )
        yield person


def month_bounds(now: datetime, tz: str, months: int) -> list[tuple[Period, datetime, datetime]]:
    """The last ``months`` local months up to and including the current one, oldest first, with UTC bounds."""
    current = Period.containing("month", local_today(now, tz))
    found = []
    for n in range(months - 1, -1, -1):
        p = current.shifted(-n)
        found.append((p, *local_bounds(p.start, p.end, tz)))
    return found
