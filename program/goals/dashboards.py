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
from dataclasses import dataclass, field
from datetime import date, datetime

from flask import current_app, has_app_context
from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import joinedload

from program import charts as svg_charts
from program.accounts.models import Department, Team, User
from program.activities.kinds import ActivityLink, activity_links
from program.activities.models import Activity, ActivityKind, Participation, State
from program.activities.queries import seat_counts
from program.debriefs.models import DebriefTask
from program.extensions import db
from program.goals import charts
from program.goals.numbers import ON_IT, open_activities
from program.goals.permissions import can_view_org_progress
from program.goals.progress import GoalBook, current_progress, month_bounds
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
    neither hosts nor is already on — soonest first. Three queries at most."""
    wanted = {p.kind: p for p in goals if p.remaining > 0 and p.days_left > 0}
    if not wanted:
        return []
    ends = {kind: Period.containing(p.goal.period, p.start).bounds(tz)[1] for kind, p in wanted.items()}
    o = open_activities(now, max(ends.values()))
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
    if not rows:
        return []
    counts = seat_counts([a.id for a in rows], now)
    links = activity_links(rows, user)
    return [Suggestion(a, links[a.id], wanted[a.kind], max((a.seats or 0) - counts[a.id].taken, 0)) for a in rows]


def my_goals(user: User, now: datetime, tz: str, book: GoalBook | None = None) -> MyGoals:
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


@dataclass
class TeamSummary:
    people: list[PersonProgress]
    overdue: list[OverdueDebrief]
    overdue_total: int

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

    def add(self, person: PersonProgress) -> None:
        self.people += 1
        self.statuses[person.status_key] += 1
        if person.has_goal:
            self.with_goal += 1
            self.target += person.target or 0
            self.achieved += person.achieved


def rollups(people: list[PersonProgress]) -> tuple[list[Rollup], Rollup]:
    """Per-department roll-ups (in the order the people come: by department name) and the total."""
    by_name: dict[str, Rollup] = {}
    total = Rollup("All departments")
    for person in people:
        name = person.department or "No department"
        by_name.setdefault(name, Rollup(name)).add(person)
        total.add(person)
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


def org_summary(now: datetime, tz: str, book: GoalBook | None = None) -> OrgSummary:
    people = current_progress([], now, tz, book=book)
    departments, total = rollups(people)
    trend = monthly_trend(now, tz)
    cover = coverage(now, tz)
    return OrgSummary(departments, total, trend, cover, org_charts(departments, total, trend, cover))


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
    dash = GoalsDashboard(me=my_goals(user, now, tz, book), today=local_today(now, tz))
    if is_manager(user):
        dash.team = team_summary(user, now, tz, book)
    if can_view_org_progress(user):
        dash.org = org_summary(now, tz, book)
    return {"goals_dash": dash}
