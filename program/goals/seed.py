"""Demo goals and leave. Idempotent: nothing is added once any goal exists.

The demo company is created "now", which would make everyone a new joiner whose targets shrink to the
few days left in the period; so the demo people (only those created in the last two days, i.e. by this
seed) are dated back a year — except one, who joined ten days ago, to show pro-rating.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from program.accounts.models import Department, Team, User
from program.extensions import db
from program.goals.models import Goal, Leave, Scope
from program.goals.progress import scope_key
from program.periods import local_today

NEW_JOINER = "kai.morgan@example.com"
ON_LEAVE = "isla.campbell@example.com"


def _goal(
    kind: str,
    target: int,
    period: str,
    scope: Scope,
    value,
    creator: User | None,
    now: datetime,
    requires_debrief: bool = True,
    note: str = "",
) -> Goal:
    fields = {Scope.ROLE: "role", Scope.DEPARTMENT: "department_id", Scope.TEAM: "team_id", Scope.PERSON: "user_id"}
    goal = Goal(
        kind=kind,
        target=target,
        period=period,
        scope=scope.value,
        scope_key=scope_key(scope, value),
        requires_debrief=requires_debrief,
        note=note,
        created_by_id=creator.id if creator else None,
        created_at=now,
        updated_at=now,
        **{fields[scope]: value},
    )
    db.session.add(goal)
    return goal


def seed_goals(now: datetime) -> str:
    if db.session.scalar(select(func.count(Goal.id))):
        return ", goals already present"
    users = {u.email: u for u in db.session.scalars(select(User))}
    for user in users.values():
        if user.email.endswith("@example.com") and user.created_at >= now - timedelta(days=2):
            user.created_at = now - timedelta(days=365)
    if NEW_JOINER in users:
        users[NEW_JOINER].created_at = now - timedelta(days=10)

    departments = {d.name: d for d in db.session.scalars(select(Department))}
    teams = {t.name: t for t in db.session.scalars(select(Team))}
    hr = users.get("hr@example.com")
    goals = []
    if "Marketing" in departments:
        goals.append(
            _goal(
                "ride_along",
                2,
                "month",
                Scope.DEPARTMENT,
                departments["Marketing"].id,
                hr,
                now,
                note="Every marketer sits in on two sales calls a month.",
            )
        )
    if "Demand Generation" in teams:
        goals.append(
            _goal(
                "ride_along",
                3,
                "month",
                Scope.TEAM,
                teams["Demand Generation"].id,
                hr,
                now,
                note="Demand generation works closest to the pipeline.",
            )
        )
    if "Sales" in departments:
        goals.append(
            _goal(
                "review_meeting",
                1,
                "quarter",
                Scope.DEPARTMENT,
                departments["Sales"].id,
                hr,
                now,
                requires_debrief=False,
            )
        )
    goals.append(
        _goal(
            "shadow_day",
            1,
            "half",
            Scope.ROLE,
            "leader",
            hr,
            now,
            requires_debrief=False,
            note="Each leader spends a day in the other function every half-year.",
        )
    )
    if "marketer@example.com" in users:
        goals.append(
            _goal(
                "ride_along",
                4,
                "quarter",
                Scope.PERSON,
                users["marketer@example.com"].id,
                hr,
                now,
                note="Development plan: more time with customers.",
            )
        )
    leaves = 0
    if ON_LEAVE in users:
        today = local_today(now, users[ON_LEAVE].timezone or "UTC")
        db.session.add(
            Leave(
                user_id=users[ON_LEAVE].id,
                starts_on=today - timedelta(days=5),
                ends_on=today + timedelta(days=4),
                note="Annual leave",
                created_by_id=hr.id if hr else None,
                created_at=now,
            )
        )
        leaves = 1
    db.session.flush()
    return f", {len(goals)} goals, {leaves} leave record{'s' if leaves != 1 else ''}"
