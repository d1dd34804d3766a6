"""The HR participation report: one row per person, with department subtotals and totals.

Rules kept here:
- filters: a period (month, quarter, half-year or year in the viewer's timezone), department, team,
  manager (direct reports), role and goal status; only active people are listed, by department then name;
- per kind of activity: booked (a seat held through the activity: booked, attended or no-show), attended,
  no-show — for activities starting in the period; debriefs submitted and overdue for those activities;
- the goal target is the sum over the kinds that have a goal, pro-rated to the period (a monthly goal
  asked of a quarter is three months' worth); % achieved counts done up to each kind's target;
  the status is the worst over the person's goals ("No goal" when none applies);
- a goal whose own period is longer than the report's (a quarterly goal in a month's report) is not
  judged there: it adds nothing to target, achieved, % or the status counts; a person with only such
  goals reads "n/a" and the status "n/a (longer period)"; the last column names each such goal and the
  period it is judged over (the report of that period judges it);
- the rows stream from a server-side cursor: the page, the CSV, the XLSX and the PDF share them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, overload

from sqlalchemy import select

from program import charts as svg_charts
from program.accounts.models import Department, Role, Team, User
from program.extensions import db
from program.goals.dashboards import status_chart
from program.goals.progress import PeriodProgress, iter_progress
from program.goals.status import KIND_LABELS, KINDS, STATUS_CHOICES, KindNumbers, PersonProgress
from program.periods import Period

NOT_JUDGED = "n/a"

STATUS_VALUES = {v for v, _ in STATUS_CHOICES}
ROLE_VALUES = {r.value for r in Role}
NO_DEPARTMENT = "No department"


def _int(value: object) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


@dataclass(frozen=True)
class ReportFilters:
    period: str
    department_id: int | None = None
    team_id: int | None = None
    manager_id: int | None = None
    role: str = ""
    status: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, Any], today: date) -> ReportFilters:
        """Read filters from request arguments (or a stored job); anything invalid falls back to "all",
        an invalid period to the current month."""
        period = Period.parse(str(args.get("period") or ""))
        role = str(args.get("role") or "")
        status = str(args.get("status") or "")
        return cls(
            period=(period or Period.containing("month", today)).key,
            department_id=_int(args.get("department")),
            team_id=_int(args.get("team")),
            manager_id=_int(args.get("manager")),
            role=role if role in ROLE_VALUES else "",
            status=status if status in STATUS_VALUES else "",
        )

    @property
    def period_obj(self) -> Period:
        return Period.parse(self.period) or Period.of("year", 2000)

    def args(self) -> dict[str, str]:
        """As request arguments (the non-empty ones), to rebuild the same URL or store with a job."""
        values = {
            "period": self.period,
            "department": self.department_id,
            "team": self.team_id,
            "manager": self.manager_id,
            "role": self.role,
            "status": self.status,
        }
        return {k: str(v) for k, v in values.items() if v not in (None, "")}

    def to_json(self) -> str:
        return json.dumps(self.args(), sort_keys=True)

    def where(self) -> list:
        clauses = []
        if self.department_id:
            clauses.append(User.department_id == self.department_id)
        if self.team_id:
            clauses.append(User.team_id == self.team_id)
        if self.manager_id:
            clauses.append(User.manager_id == self.manager_id)
        if self.role:
            clauses.append(User.role == self.role)
        return clauses

    def keeps(self, person: PersonProgress) -> bool:
        return not self.status or person.status_key == self.status


STATUS_LABELS = dict(STATUS_CHOICES)
ROLE_LABELS = {r.value: r.label for r in Role}


def describe_filters(many: Sequence[Mapping[str, str]]) -> list[list[tuple[str, str]]]:
    """Each stored set of filter arguments as (label, value) pairs a person can read, naming departments,
    teams and managers; three queries however many sets."""
    ids = {name: {_int(f.get(name)) for f in many} - {None} for name in ("department", "team", "manager")}

    def names(model, wanted: set) -> dict[int, str]:
        if not wanted:
            return {}
        return {key: name for key, name in db.session.execute(select(model.id, model.name).where(model.id.in_(wanted)))}

    departments = names(Department, ids["department"])
    teams = names(Team, ids["team"])
    managers = names(User, ids["manager"])
    described = []
    for f in many:
        period = Period.parse(str(f.get("period") or ""))
        pairs = [("Period", period.label if period else "—")]
        for name, label, names in (
            ("department", "Department", departments),
            ("team", "Team", teams),
            ("manager", "Manager", managers),
        ):
            key = _int(f.get(name))
            if key:
                pairs.append((label, names.get(key, f"#{key} (removed)")))
        if f.get("role"):
            pairs.append(("Role", ROLE_LABELS.get(str(f["role"]), str(f["role"]))))
        if f.get("status"):
            pairs.append(("Status", STATUS_LABELS.get(str(f["status"]), str(f["status"]))))
        described.append(pairs)
    return described


@dataclass
class FilterOptions:
    periods: list[tuple[str, str]]
    departments: list[tuple[int, str]]
    teams: list[tuple[int, str]]
    managers: list[tuple[int, str]]
    roles: list[tuple[str, str]]
    statuses: list[tuple[str, str]]


def filter_options(today: date) -> FilterOptions:
    """What the filter form offers: recent periods of each length, and the departments, teams and
    managers there are (three queries)."""
    periods: list[Period] = []
    for type_, back in (("month", 12), ("quarter", 4), ("half", 2), ("year", 2)):
        current = Period.containing(type_, today)
        periods += [current.shifted(-n) for n in range(back)]
    departments = [(d.id, d.name) for d in db.session.scalars(select(Department).order_by(Department.name))]
    teams = [
        (t.id, f"{t.name} ({dept})")
        for t, dept in db.session.execute(
            select(Team, Department.name)
            .join(Department, Department.id == Team.department_id)
            .order_by(Department.name, Team.name)
        )
    ]
    manager_ids = select(User.manager_id).where(User.manager_id.is_not(None), User.active.is_(True)).distinct()
    managers = [
        (u.id, u.name) for u in db.session.scalars(select(User).where(User.id.in_(manager_ids)).order_by(User.name))
    ]
    return FilterOptions(
        periods=[(p.key, p.label) for p in periods],
        departments=departments,
        teams=teams,
        managers=managers,
        roles=[(r.value, r.label) for r in Role],
        statuses=list(STATUS_CHOICES),
    )


# --- rows, subtotals, totals ---------------------------------------------------------------------


def report_rows(filters: ReportFilters, tz: str, now, *, yield_per: int = 500) -> Iterator[PersonProgress]:
    """The report's person rows, streamed (four queries whatever the number of people)."""
    for person in iter_progress(filters.where(), now, tz, filters.period_obj, yield_per=yield_per):
        if filters.keeps(person):
            yield person


class ReportRows(Sequence[PersonProgress]):
    """The report's person rows, kept as the plain rows of ``PeriodProgress.people`` and built when read: a
    page of 50 builds 50 people, not everyone (the totals were added up as the rows streamed past)."""

    def __init__(self, progress: PeriodProgress, rows: list[tuple]) -> None:
        self._progress = progress
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> PersonProgress: ...

    @overload
    def __getitem__(self, index: slice) -> list[PersonProgress]: ...

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._progress.person(row) for row in self._rows[index]]
        return self._progress.person(self._rows[index])

    def __iter__(self) -> Iterator[PersonProgress]:
        for row in self._rows:
            yield self._progress.person(row)


@dataclass
class Totals:
    label: str
    people: int = 0
    kinds: dict[str, KindNumbers] = field(default_factory=lambda: {k: KindNumbers() for k in KINDS})
    debriefs_submitted: int = 0
    debriefs_overdue: int = 0
    with_goal: int = 0
    target: int = 0
    achieved: int = 0
    statuses: Counter = field(default_factory=Counter)
    with_longer: int = 0  # people with a goal over a longer period than the report's (not judged here)
    longer_periods: set[Period] = field(default_factory=set)

    def add(self, person: PersonProgress, standing: tuple[str, int, int] | None = None) -> None:
        """Count one person in (``standing``: their ``PersonProgress.standing()``, when already worked out)."""
        status_key, target, achieved = standing or person.standing()
        self.people += 1
        if person.longer:
            self.with_longer += 1
            self.longer_periods.update(g.period for g in person.longer)
        for kind in KINDS:
            mine, ours = person.numbers[kind], self.kinds[kind]
            ours.booked += mine.booked
            ours.attended += mine.attended
            ours.no_show += mine.no_show
        self.debriefs_submitted += person.debriefs_submitted
        self.debriefs_overdue += person.debriefs_overdue
        self.statuses[status_key] += 1
        if person.goals:
            self.with_goal += 1
            self.target += target
            self.achieved += achieved

    @property
    def percent(self) -> int | None:
        if not self.with_goal:
            return None
        return 100 if not self.target else round(100 * self.achieved / self.target)

    @property
    def status_summary(self) -> str:
        parts = [f"{self.statuses[v]} {label.lower()}" for v, label in STATUS_CHOICES if self.statuses.get(v)]
        return ", ".join(parts)


def report_lines(rows: Iterable[PersonProgress]) -> Iterator[tuple[str, Any]]:
    """("person", row) for each person, ("subtotal", Totals) after each department (rows come ordered by
    department), and ("total", Totals) at the end. Holds only the running totals, never the rows."""
    total = Totals("Total")
    current: Totals | None = None
    for person in rows:
        name = person.department or NO_DEPARTMENT
        if current is not None and current.label != name:
            yield "subtotal", current
            current = None
        if current is None:
            current = Totals(name)
        standing = person.standing()
        current.add(person, standing)
        total.add(person, standing)
        yield "person", person
    if current is not None:
        yield "subtotal", current
    yield "total", total


# --- the table, as cells -------------------------------------------------------------------------


def header() -> list[str]:
    cells = ["Name", "Email", "Department", "Team", "Manager"]
    for kind in KINDS:
        label = KIND_LABELS[kind]
        cells += [f"{label} booked", f"{label} attended", f"{label} no-show"]
    cells += [
        "Debriefs submitted",
        "Debriefs overdue",
        "Goal target",
        "Achieved",
        "% achieved",
        "Status",
        "Goals over a longer period",
    ]
    return cells


def person_cells(p: PersonProgress) -> list[object]:
    cells: list[object] = [p.name, p.email, p.department, p.team, p.manager]
    for kind in KINDS:
        n = p.numbers[kind]
        cells += [n.booked, n.attended, n.no_show]
    blank = NOT_JUDGED if p.longer else ""
    cells += [
        p.debriefs_submitted,
        p.debriefs_overdue,
        p.target if p.target is not None else blank,
        p.achieved if p.has_goal else blank,
        p.percent if p.percent is not None else blank,
        p.status_label,
        "; ".join(g.describe for g in p.longer),
    ]
    return cells


def totals_cells(t: Totals, kind: str) -> list[object]:
    name = f"Subtotal: {t.label}" if kind == "subtotal" else "Total"
    cells: list[object] = [name, f"{t.people} {'person' if t.people == 1 else 'people'}", "", "", ""]
    for k in KINDS:
        n = t.kinds[k]
        cells += [n.booked, n.attended, n.no_show]
    cells += [
        t.debriefs_submitted,
        t.debriefs_overdue,
        t.target if t.with_goal else "",
        t.achieved if t.with_goal else "",
        t.percent if t.percent is not None else "",
        t.status_summary,
        f"{t.with_longer} {'person' if t.with_longer == 1 else 'people'}" if t.with_longer else "",
    ]
    return cells


def line_cells(kind: str, item: Any) -> list[object]:
    return person_cells(item) if kind == "person" else totals_cells(item, kind)


# --- the whole report, for the page and the PDF ---------------------------------------------------


@dataclass
class Report:
    filters: ReportFilters
    period: Period
    rows: Sequence[PersonProgress]
    departments: list[Totals]
    total: Totals

    @property
    def charts(self) -> dict[str, object]:
        return report_charts(self)


def build_report(filters: ReportFilters, tz: str, now) -> Report:
    """The report: everyone's progress streams past once into the subtotals and total; the person rows are
    kept as plain rows and built again when read (``ReportRows``). Four queries whatever the size."""
    progress = PeriodProgress(filters.where(), now, tz, filters.period_obj)
    kept: list[tuple] = []

    def people() -> Iterator[PersonProgress]:
        for row in progress.people():
            person = progress.person(row)
            if filters.keeps(person):
                kept.append(row)
                yield person

    departments: list[Totals] = []
    total = Totals("Total")
    for kind, item in report_lines(people()):
        if kind == "subtotal":
            departments.append(item)
        elif kind == "total":
            total = item
    return Report(filters, filters.period_obj, ReportRows(progress, kept), departments, total)


def report_charts(report: Report) -> dict[str, object]:
    """The summary charts (SVG), the same on the page and in the PDF."""
    t = report.total
    return {
        "status": status_chart(t.statuses, chart_id="report-status"),
        "departments": svg_charts.bar_chart(
            "% of goal achieved, by department",
            [(d.label, d.percent) for d in report.departments if d.percent is not None],
            unit="%",
            chart_id="report-departments",
        ),
        "kinds": svg_charts.bar_chart(
            "Attended, by kind of activity",
            [(KIND_LABELS[k], t.kinds[k].attended) for k in KINDS],
            chart_id="report-kinds",
        ),
    }
