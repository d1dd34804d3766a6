"""Setting goals and recording leave (HR and admins), and the lists of both.

Rules kept here:
- HR and admins set goals: N activities of a kind per month / quarter / half-year / year, for everyone
  with a role, a department, a team or one person; at most one goal per kind and scope target;
- HR and admins record leave (whole local days, both ends included; the end may not precede the start).
What the dashboards show about progress is in ``dashboards``; progress itself in ``progress``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import joinedload

from program.accounts.models import Department, Role, Team, User
from program.errors import NotAllowed, ValidationFailed
from program.extensions import db
from program.goals.models import Goal, Leave, Scope
from program.goals.permissions import can_manage_goals
from program.goals.progress import scope_key
from program.goals.status import KIND_LABELS, KINDS
from program.periods import PeriodType

MAX_TARGET = 500
NOTE_MAX = 300

# --- setting goals -------------------------------------------------------------------------------


@dataclass
class GoalData:
    kind: str = ""
    period: str = PeriodType.MONTH.value
    target: int | None = None
    scope: str = Scope.DEPARTMENT.value
    role: str = ""
    department_id: int | None = None
    team_id: int | None = None
    person_email: str = ""
    requires_debrief: bool = True
    note: str = ""


def find_person(email: str) -> User | None:
    email = (email or "").strip().lower()
    return db.session.scalar(select(User).where(func.lower(User.email) == email)) if email else None


def save_goal(actor: User, data: GoalData, now: datetime, goal: Goal | None = None) -> Goal:
    """Create (or change) a goal. One goal per kind and scope target; the target is 1–500."""
    if not can_manage_goals(actor):
        raise NotAllowed("Only HR and admins set goals.")
    errors: dict[str, str] = {}
    if data.kind not in KINDS:
        errors["kind"] = "Choose a kind of activity."
    if data.period not in {p.value for p in PeriodType}:
        errors["period"] = "Choose a period."
    if data.target is None or not 1 <= data.target <= MAX_TARGET:
        errors["target"] = f"Give a whole number from 1 to {MAX_TARGET}."
    if len(data.note or "") > NOTE_MAX:
        errors["note"] = f"Keep the note under {NOTE_MAX} characters."
    target_of: dict[str, object] = {}
    if data.scope == Scope.ROLE.value:
        if data.role not in {r.value for r in Role}:
            errors["role"] = "Choose a role."
        target_of = {"role": data.role}
    elif data.scope == Scope.DEPARTMENT.value:
        if not data.department_id or db.session.get(Department, data.department_id) is None:
            errors["department_id"] = "Choose a department."
        target_of = {"department_id": data.department_id}
    elif data.scope == Scope.TEAM.value:
        if not data.team_id or db.session.get(Team, data.team_id) is None:
            errors["team_id"] = "Choose a team."
        target_of = {"team_id": data.team_id}
    elif data.scope == Scope.PERSON.value:
        person = find_person(data.person_email)
        if person is None:
            errors["person_email"] = "No one has that email address."
        target_of = {"user_id": person.id if person else None}
    else:
        errors["scope"] = "Choose who the goal is for."
    if errors:
        raise ValidationFailed("Please correct the marked fields.", errors=errors)
    key = scope_key(data.scope, next(iter(target_of.values())))
    clash = db.session.scalar(
        select(Goal).where(Goal.kind == data.kind, Goal.scope_key == key, Goal.id != (goal.id if goal else -1))
    )
    if clash is not None:
        field_name = {"role": "role", "department": "department_id", "team": "team_id", "person": "person_email"}
        raise ValidationFailed(
            "Please correct the marked fields.",
            errors={field_name[data.scope]: "There is already a goal for this kind and these people; change that one."},
        )
    if goal is None:
        goal = Goal(created_by_id=actor.id, created_at=now)
        db.session.add(goal)
    goal.kind, goal.period, goal.target = data.kind, data.period, int(data.target or 0)
    goal.scope, goal.scope_key = data.scope, key
    goal.role = target_of.get("role")  # type: ignore[assignment]
    goal.department_id = target_of.get("department_id")  # type: ignore[assignment]
    goal.team_id = target_of.get("team_id")  # type: ignore[assignment]
    goal.user_id = target_of.get("user_id")  # type: ignore[assignment]
    goal.requires_debrief = bool(data.requires_debrief)
    goal.note = (data.note or "").strip()
    goal.updated_at = now
    db.session.flush()
    return goal


def goal_data(goal: Goal) -> GoalData:
    return GoalData(
        kind=goal.kind,
        period=goal.period,
        target=goal.target,
        scope=goal.scope,
        role=goal.role or "",
        department_id=goal.department_id,
        team_id=goal.team_id,
        person_email=goal.user.email if goal.user else "",
        requires_debrief=goal.requires_debrief,
        note=goal.note,
    )


def delete_goal(actor: User, goal: Goal) -> None:
    if not can_manage_goals(actor):
        raise NotAllowed("Only HR and admins remove goals.")
    db.session.delete(goal)
    db.session.flush()


def goals_page(kind: str, scope: str, page: int, per_page: int) -> Pagination:
    """Goals, by kind and then most specific first, with what each row names loaded."""
    stmt = select(Goal).options(
        joinedload(Goal.department), joinedload(Goal.team).joinedload(Team.department), joinedload(Goal.user)
    )
    if kind:
        stmt = stmt.where(Goal.kind == kind)
    if scope:
        stmt = stmt.where(Goal.scope == scope)
    precedence = {s.value: -s.specificity for s in Scope}
    stmt = stmt.order_by(Goal.kind, case(precedence, value=Goal.scope), Goal.scope_key, Goal.id)
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)


def describe_scope(goal: Goal) -> str:
    if goal.scope == Scope.ROLE.value:
        return f"Everyone with the role {Role(goal.role).label}" if goal.role in {r.value for r in Role} else "A role"
    if goal.scope == Scope.DEPARTMENT.value:
        return f"Department {goal.department.name}" if goal.department else "A department"
    if goal.scope == Scope.TEAM.value:
        if goal.team:
            return f"Team {goal.team.name} ({goal.team.department.name})"
        return "A team"
    return f"{goal.user.name} ({goal.user.email})" if goal.user else "A person"


def describe_goal(goal: Goal) -> str:
    kind = KIND_LABELS.get(goal.kind, goal.kind).lower()
    plural = kind + ("s" if goal.target != 1 else "")
    return f"{goal.target} {plural} {PeriodType(goal.period).per}"


# --- leave ---------------------------------------------------------------------------------------


def record_leave(
    actor: User, person_email: str, starts_on: date | None, ends_on: date | None, note: str, now: datetime
) -> Leave:
    """HR records a stretch of leave; targets for the periods it touches shrink pro rata."""
    if not can_manage_goals(actor):
        raise NotAllowed("Only HR and admins record leave.")
    errors: dict[str, str] = {}
    person = find_person(person_email)
    if person is None:
        errors["person_email"] = "No one has that email address."
    if starts_on is None:
        errors["starts_on"] = "Give the first day of leave."
    if ends_on is None:
        errors["ends_on"] = "Give the last day of leave."
    if starts_on and ends_on and ends_on < starts_on:
        errors["ends_on"] = "The last day can't be before the first."
    if len(note or "") > NOTE_MAX:
        errors["note"] = f"Keep the note under {NOTE_MAX} characters."
    if errors:
        raise ValidationFailed("Please correct the marked fields.", errors=errors)
    leave = Leave(
        user_id=person.id,
        starts_on=starts_on,
        ends_on=ends_on,
        note=(note or "").strip(),
        created_by_id=actor.id,
        created_at=now,
    )
    db.session.add(leave)
    db.session.flush()
    return leave


def delete_leave(actor: User, leave: Leave) -> None:
    if not can_manage_goals(actor):
        raise NotAllowed("Only HR and admins remove leave.")
    db.session.delete(leave)
    db.session.flush()


def leave_page(q: str, page: int, per_page: int) -> Pagination:
    """Leave records, latest first; ``q`` filters on the person's name or email (contains, any case)."""
    stmt = (
        select(Leave).join(Leave.user).options(joinedload(Leave.user)).order_by(Leave.starts_on.desc(), Leave.id.desc())
    )
    if q.strip():
        term = "%" + q.strip().replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
        stmt = stmt.where(or_(User.name.ilike(term, escape="/"), User.email.ilike(term, escape="/")))
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)
