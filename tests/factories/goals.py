"""Goals: goals, leave, and people who joined long ago (so their progress is not pro-rated)."""

from __future__ import annotations

from datetime import UTC, datetime

from program.extensions import db
from program.goals.models import Goal, Leave, Scope
from program.goals.progress import scope_key

LONG_AGO = datetime(2024, 1, 1, tzinfo=UTC)


def veteran(user, joined: datetime = LONG_AGO):
    """Someone who joined long before the period (a new user's created_at is "now", which pro-rates)."""
    user.created_at = joined
    db.session.flush()
    return user


def goal(
    kind: str = "ride_along",
    target: int = 2,
    period: str = "month",
    *,
    role: str | None = None,
    department=None,
    team=None,
    person=None,
    requires_debrief: bool = True,
) -> Goal:
    if person is not None:
        scope, value, fields = Scope.PERSON, person.id, {"user_id": person.id}
    elif team is not None:
        scope, value, fields = Scope.TEAM, team.id, {"team_id": team.id}
    elif department is not None:
        scope, value, fields = Scope.DEPARTMENT, department.id, {"department_id": department.id}
    else:
        scope, value, fields = Scope.ROLE, role or "staff", {"role": role or "staff"}
    g = Goal(
        kind=kind,
        target=target,
        period=period,
        scope=scope.value,
        scope_key=scope_key(scope, value),
        requires_debrief=requires_debrief,
        **fields,
    )
    db.session.add(g)
    db.session.flush()
    return g


def leave(user, first, last) -> Leave:
    record = Leave(user_id=user.id, starts_on=first, ends_on=last)
    db.session.add(record)
    db.session.flush()
    return record
