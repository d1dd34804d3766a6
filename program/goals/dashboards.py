"""What the goal pages and the dashboard show about progress: a person's goals with suggestions of activities
that would count, a manager's team with its overdue debriefs, and HR's department roll-ups, monthly trend and
marketing's coverage heatmap.

Rules kept here:
- the personal dashboard shows the person's goals over their current periods and suggests upcoming
  activities with an open seat that would count towards a goal not yet met;
- a manager is someone with direct reports or a team they manage; their dashboard shows those people;
- HR and admins see department roll-ups, a monthly trend and marketing's coverage heatmap.
Every function here issues a fixed number of queries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from flask import current_app, has_app_context
from sqlalchemy import case, exists, func, or_, select, union_all
from sqlalchemy.orm import joinedload

from program import charts as svg_charts
from program.accounts.models import Department, Team, User
from program.activities.kinds import ActivityLink, activity_links
from program.activities.models import Activity, ActivityKind, Participation, State
from program.debriefs.models import DebriefTask
from program.extensions import db
from program.goals import charts
from program.goals.numbers import ON_IT, open_seat, seats_taken
from program.goals.permissions import can_view_org_progress
from program.goals.progress import GoalBook, current_progress, iter_current_progress, month_bounds
from program.goals.status import LONGER, LONGER_LABEL, PersonProgress, Progress, Status
from program.periods import Period, local_today
from program.rides.models import FUNNEL_STAGES, SEGMENTS, RideAlongCall

SUGGESTIONS = 5
OVERDUE_SHOWN = 10
TREND_MONTHS = 12


def default_timezone() -> str:
    return current_app.config.get("DEFAULT_TIMEZONE", "UTC") if has_app_context() else "UTC"


# --- the personal view ---------------------------------------------------------------------------


@dataclass
class Suggestion:
    activity: Activity
    link: ActivityLink
    progress: Progress
    free: int


@dataclass
class MyGoals:
    person: PersonProgress | None
    suggestions: list[Suggestion] = field(default_factory=list)

    @property
    def goals(self) -> list[Progress]:
        return self.person.goals if self.person else []


def suggestions_for(
    user: User, goals: list[Progress], now: datetime, tz: str, limit: int = SUGGESTIONS
) -> list[Suggestion]:
    """Upcoming activities with an open seat, inside the period of a goal not met yet, that this person
    neither hosts nor is already on — soonest first. One query: per kind wanted, the activities from now to
    the end of the goal's period in start order (the (kind, starts_at) index), the open-seat conditions
    checked on each row, stopping at ``limit``; then the soonest ``limit`` of those, loaded with their hosts."""
    wanted = {p.kind: p for p in goals if p.remaining > 0 and p.days_left > 0}
    if not wanted:
        return []
    ends = {kind: Period.containing(p.goal.period, p.start).bounds(tz)[1] for kind, p in wanted.items()}
    already = exists().where(
        Participation.activity_id == Activity.id, Participation.user_id == user.id, Participation.state.in_(ON_IT)
    )
    taken = seats_taken(Activity, now)
    branches = []
    for kind, end in ends.items():
        soonest = (
            select(Activity.id.label("id"), Activity.starts_at.label("starts_at"), taken.label("taken"))
            .where(
                Activity.kind == kind,
                Activity.starts_at < end,
                *open_seat(Activity, now, taken),
                Activity.host_id != user.id,
                ~already,
            )
            .order_by(Activity.starts_at, Activity.id)
            .limit(limit)
            .subquery()
        )
        branches.append(select(soonest.c.id, soonest.c.starts_at, soonest.c.taken))
    found = union_all(*branches).subquery("found")
    rows = (
        db.session.execute(
            select(Activity, found.c.taken)
            .join(found, found.c.id == Activity.id)
            .options(joinedload(Activity.host))
            .order_by(found.c.starts_at, found.c.id)
            .limit(limit)
        )
        .unique()
        .all()
    )
    if not rows:
        return []
    links = activity_links([a for a, _ in rows], user)
    return [Suggestion(a, links[a.id], wanted[a.kind], max((a.seats or 0) - int(taken or 0), 0)) for a, taken in rows]


def my_goals(
    user: User, now: datetime, tz: str, book: GoalBook | None = None, person: PersonProgress | None = None
) -> MyGoals:
    """The person's goals (``person`` when their progress was already worked out, e.g. in the organisation's)
    and suggestions."""
    if person is None:
        people = current_progress([User.id == user.id], now, tz, book=book)
        person = people[0] if people else None
    suggestions = suggestions_for(user, person.goals, now, tz) if person else []
    return MyGoals(person, suggestions)


# --- the manager's view --------------------------------------------------------------------------


def team_where(manager: User) -> list:
    """The people a manager looks after: direct reports and members of the teams they manage."""
    managed_teams = select(Team.id).where(Team.manager_id == manager.id)
    return [or_(User.manager_id == manager.id, User.team_id.in_(managed_teams)), User.id != manager.id]


def is_manager(user: User) -> bool:
    return bool(
        db.session.scalar(
            select(
                or_(
                    exists().where(User.manager_id == user.id, User.active.is_(True)),
                    exists().where(Team.manager_id == user.id),
                )
            )
        )
    )


@dataclass
class OverdueDebrief:
    task: DebriefTask
    link: ActivityLink


class PeoplePage:
    """One page of a list of people, shaped like Flask-SQLAlchemy's pagination for the pager macro."""

    def __init__(self, people: list[PersonProgress], page: int, per_page: int) -> None:
        self.total = len(people)
        self.per_page = per_page
        self.pages = max((self.total + per_page - 1) // per_page, 1)
        self.page = min(max(page, 1), self.pages)
        self.items = people[(self.page - 1) * per_page : self.page * per_page]
        self.has_prev, self.has_next = self.page > 1, self.page < self.pages
        self.prev_num, self.next_num = self.page - 1, self.page + 1


@dataclass
class TeamSummary:
    people: list[PersonProgress]
    overdue: list[OverdueDebrief]
    overdue_total: int

    def page(self, page: int, per_page: int, status: str = "") -> PeoplePage:
        """A page of the team (in the usual order: department, then name), only ``status`` when given."""
        people = [p for p in self.people if p.status_key == status] if status else self.people
        return PeoplePage(people, page, per_page)

    @property
    def needing_attention(self) -> list[PersonProgress]:
        """Who is behind or at risk, the worst first."""
        flagged = [p for p in self.people if p.status in (Status.BEHIND, Status.AT_RISK)]
        return sorted(flagged, key=lambda p: (-p.status.severity, p.name))

    @property
    def status_counts(self) -> Counter:
        return Counter(p.status_key for p in self.people)


def overdue_debriefs(
    where: list, manager: User, now: datetime, limit: int = OVERDUE_SHOWN
) -> tuple[list[OverdueDebrief], int]:
    """The oldest overdue debriefs of the people matching ``where`` (and how many in all): two queries."""
    condition = [DebriefTask.status == "open", DebriefTask.due_at < now, User.active.is_(True), *where]
    tasks = (
        db.session.scalars(
            select(DebriefTask)
            .join(User, User.id == DebriefTask.user_id)
            .options(joinedload(DebriefTask.user), joinedload(DebriefTask.activity).joinedload(Activity.host))
            .where(*condition)
            .order_by(DebriefTask.due_at, DebriefTask.id)
            .limit(limit)
        )
        .unique()
        .all()
    )
    total = (
        db.session.scalar(
            select(func.count(DebriefTask.id)).join(User, User.id == DebriefTask.user_id).where(*condition)
        )
        if tasks
        else 0
    )
    links = activity_links([t.activity for t in tasks], manager)
    return [OverdueDebrief(t, links[t.activity_id]) for t in tasks], int(total or 0)


def team_summary(manager: User, now: datetime, tz: str, book: GoalBook | None = None) -> TeamSummary:
    where = team_where(manager)
    people = current_progress(where, now, tz, book=book)
    overdue, total = overdue_debriefs(where, manager, now)
    return TeamSummary(people, overdue, total)


# --- HR and admins -------------------------------------------------------------------------------


@dataclass
class Rollup:
    name: str
    people: int = 0
    with_goal: int = 0
    target: int = 0
    achieved: int = 0
    statuses: Counter = field(default_factory=Counter)

    @property
    def percent(self) -> int | None:
        if not self.with_goal:
            return None
        return 100 if not self.target else round(100 * self.achieved / self.target)

    def add(self, person: PersonProgress, standing: tuple[str, int, int] | None = None) -> None:
        """Count one person in (``standing``: their ``PersonProgress.standing()``, when already worked out)."""
        status_key, target, achieved = standing or person.standing()
        self.people += 1
        self.statuses[status_key] += 1
        if person.goals:
            self.with_goal += 1
            self.target += target
            self.achieved += achieved


def rollups(people: Iterable[PersonProgress]) -> tuple[list[Rollup], Rollup]:
    """Per-department roll-ups (in the order the people come: by department name) and the total."""
    by_name: dict[str, Rollup] = {}
    total = Rollup("All departments")
    for person in people:
        name = person.department or "No department"
        standing = person.standing()
        by_name.setdefault(name, Rollup(name)).add(person, standing)
        total.add(person, standing)
    return list(by_name.values()), total


@dataclass
class TrendMonth:
    label: str
    attended: int
    counted: int


def monthly_trend(now: datetime, tz: str, months: int = TREND_MONTHS) -> list[TrendMonth]:
    """Attended participations per local month (and those whose debrief is submitted), oldest first: one query."""
    bounds = month_bounds(now, tz, months)
    bucket = case(*[(Activity.starts_at < end, n) for n, (_, _, end) in enumerate(bounds)], else_=None)
    inner = (
        select(
            bucket.label("month"),
            case((DebriefTask.status == "submitted", 1), else_=0).label("counted"),
        )
        .select_from(Participation)
        .join(Activity, Activity.id == Participation.activity_id)
        .join(User, User.id == Participation.user_id)
        .outerjoin(DebriefTask, DebriefTask.participation_id == Participation.id)
        .where(
            Participation.state == State.ATTENDED.value,
            User.active.is_(True),
            Activity.starts_at >= bounds[0][1],
            Activity.starts_at < bounds[-1][2],
        )
        .subquery()
    )
    rows = db.session.execute(
        select(inner.c.month, func.count(), func.sum(inner.c.counted)).group_by(inner.c.month)
    ).all()
    found = {month: (int(n), int(c or 0)) for month, n, c in rows}
    return [TrendMonth(p.start.strftime("%b %y"), *found.get(n, (0, 0))) for n, (p, _, _) in enumerate(bounds)]


def coverage(now: datetime, tz: str, months: int = TREND_MONTHS) -> dict[tuple[str, str], int]:
    """(segment, funnel stage) -> ride-alongs marketing people attended in the last ``months`` local months."""
    bounds = month_bounds(now, tz, months)
    rows = db.session.execute(
        select(RideAlongCall.segment, RideAlongCall.funnel_stage, func.count(Participation.id))
        .select_from(Participation)
        .join(Activity, Activity.id == Participation.activity_id)
        .join(RideAlongCall, RideAlongCall.activity_id == Activity.id)
        .join(User, User.id == Participation.user_id)
        .join(Department, Department.id == User.department_id)
        .where(
            Participation.state == State.ATTENDED.value,
            Department.function == "marketing",
            Activity.kind == ActivityKind.RIDE_ALONG.value,
            Activity.starts_at >= bounds[0][1],
            Activity.starts_at < bounds[-1][2],
        )
        .group_by(RideAlongCall.segment, RideAlongCall.funnel_stage)
    ).all()
    return {(segment, stage): int(n) for segment, stage, n in rows}


@dataclass
class OrgSummary:
    departments: list[Rollup]
    total: Rollup
    trend: list[TrendMonth]
    coverage: dict[tuple[str, str], int]
    charts: dict[str, object]
    viewer: PersonProgress | None = None  # the viewer's own progress, when they asked for it and are counted


def org_charts(departments: list[Rollup], total: Rollup, trend: list[TrendMonth], cover: dict) -> dict[str, object]:
    """The SVG charts of the HR view; the same markup goes into the page and the PDF."""
    segments = SEGMENTS + sorted({s for s, _ in cover} - set(SEGMENTS))
    stages = FUNNEL_STAGES + sorted({t for _, t in cover} - set(FUNNEL_STAGES))
    return {
        "status": status_chart(total.statuses, chart_id="org-status"),
        "departments": svg_charts.bar_chart(
            "% of goal achieved, by department",
            [(d.name, d.percent) for d in departments if d.percent is not None],
            unit="%",
            chart_id="org-departments",
        ),
        "trend": charts.column_chart(
            "Activities attended per month",
            [(m.label, m.attended) for m in trend],
            second=[m.counted for m in trend],
            legend=("Attended", "Debrief submitted"),
            chart_id="org-trend",
        ),
        "heatmap": charts.heatmap(
            "Ride-alongs marketing attended, by segment and funnel stage",
            rows=segments,
            columns=stages,
            values=cover,
            chart_id="org-coverage",
        ),
    }


def status_chart(statuses: Counter, chart_id: str = "status-chart", title: str = "People by goal status"):
    data = [(s.label, statuses.get(s.value, 0)) for s in Status]
    if statuses.get(LONGER):  # only a report shorter than someone's goal period has these
        data.append((LONGER_LABEL, statuses[LONGER]))
    data.append(("No goal", statuses.get("no_goal", 0)))
    return svg_charts.bar_chart(title, data, chart_id=chart_id)


def org_summary(now: datetime, tz: str, book: GoalBook | None = None, viewer_id: int | None = None) -> OrgSummary:
    """The organisation's roll-ups, trend and coverage. Everyone's progress streams through the roll-ups
    (none is kept, but the viewer's own when ``viewer_id`` is given: their dashboard shows it)."""
    seen: list[PersonProgress] = []

    def everyone() -> Iterator[PersonProgress]:
        for person in iter_current_progress([], now, tz, book=book):
            if person.user_id == viewer_id:
                seen.append(person)
            yield person

    departments, total = rollups(everyone())
    trend = monthly_trend(now, tz)
    cover = coverage(now, tz)
    charts = org_charts(departments, total, trend, cover)
    return OrgSummary(departments, total, trend, cover, charts, seen[0] if seen else None)


# --- the dashboard -------------------------------------------------------------------------------


@dataclass
class GoalsDashboard:
    me: MyGoals
    team: TeamSummary | None = None
    org: OrgSummary | None = None
    today: date | None = None


def dashboard_context(user: User, now: datetime) -> dict:
    """What the dashboard's goal tiles need, under one key (``goals_dash``) so nothing else is shadowed:
    my goals and suggestions; my team's progress and overdue debriefs (managers); the organisation's
    roll-ups, trend and coverage heatmap (HR and admins). A fixed number of queries whatever the data."""
    tz = user.timezone or default_timezone()
    book = GoalBook.load()
    # Everyone's progress is worked out once: HR's own goals are read from the organisation's.
    org = org_summary(now, tz, book, viewer_id=user.id) if can_view_org_progress(user) else None
    dash = GoalsDashboard(
        me=my_goals(user, now, tz, book, person=org.viewer if org else None),
        org=org,
        today=local_today(now, tz),
    )
    if is_manager(user):
        dash.team = team_summary(user, now, tz, book)
    return {"goals_dash": dash}
