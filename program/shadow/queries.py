"""What the shadow-day pages list: the pairings a person may see (filtered), the leaders to choose from, what
the pairing page shows of each day, and the dashboard tile. Nothing here changes anything."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from program.accounts.models import Role, User
from program.activities.models import Activity, ActivityKind, ActivityStatus, Participation, State
from program.debriefs.models import DebriefTask, TaskStatus
from program.extensions import db
from program.shadow.models import DateChange, FollowUp, FollowUpStatus, ShadowPairing


def visible_pairings_clause(user: User):
    """Pairings a user may see: their own, their reports', or all for HR and admin."""
    if user.role in (Role.HR.value, Role.ADMIN.value):
        return True
    reports = select(User.id).where(User.manager_id == user.id)
    return or_(
        ShadowPairing.sales_leader_id == user.id,
        ShadowPairing.marketing_leader_id == user.id,
        ShadowPairing.sales_leader_id.in_(reports),
        ShadowPairing.marketing_leader_id.in_(reports),
    )


@dataclass(frozen=True)
class PairingFilter:
    status: str = ""
    proposed_between: tuple[datetime, datetime] | None = None  # [start, end) in UTC
    department: int | None = None  # either leader in it


def pairings_page(viewer: User, f: PairingFilter, page: int, per_page: int) -> Pagination:
    """The pairings ``viewer`` may see that match the filter, newest proposal first."""
    stmt = (
        select(ShadowPairing)
        .options(
            joinedload(ShadowPairing.sales_leader),
            joinedload(ShadowPairing.marketing_leader),
            joinedload(ShadowPairing.proposed_by),
        )
        .where(visible_pairings_clause(viewer))
    )
    if f.status:
        stmt = stmt.where(ShadowPairing.status == f.status)
    if f.proposed_between:
        start, end = f.proposed_between
        stmt = stmt.where(ShadowPairing.proposed_at >= start, ShadowPairing.proposed_at < end)
    if f.department:
        people = select(User.id).where(User.department_id == f.department)
        stmt = stmt.where(or_(ShadowPairing.sales_leader_id.in_(people), ShadowPairing.marketing_leader_id.in_(people)))
    return db.paginate(
        stmt.order_by(ShadowPairing.proposed_at.desc(), ShadowPairing.id.desc()),
        page=page,
        per_page=per_page,
        error_out=False,
    )


def leaders(function: str) -> list[User]:
    """Active leaders of a function (sales or marketing), by name."""
    return [
        u
        for u in db.session.scalars(
            select(User).where(User.role == Role.LEADER.value, User.active.is_(True)).order_by(User.name)
        )
        if u.function == function
    ]


@dataclass
class DayDetail:
    """What the pairing page shows of one day: the visitor's place, their debrief task and follow-ups, and a
    pending date change."""

    activity: Activity
    visitor_p: Participation | None
    task: DebriefTask | None
    follow_ups: list[FollowUp]
    pending: DateChange | None


def day_details(pairing: ShadowPairing) -> list[DayDetail]:
    details = []
    for activity in pairing.days:
        visitor_p = next(iter(activity.participations), None)
        task = (
            db.session.scalar(select(DebriefTask).where(DebriefTask.participation_id == visitor_p.id))
            if visitor_p
            else None
        )
        follow_ups = (
            list(
                db.session.scalars(
                    select(FollowUp).where(FollowUp.participation_id == visitor_p.id).order_by(FollowUp.id)
                )
            )
            if visitor_p
            else []
        )
        pending = db.session.scalar(
            select(DateChange).where(DateChange.activity_id == activity.id, DateChange.status == "pending")
        )
        details.append(DayDetail(activity, visitor_p, task, follow_ups, pending))
    return details


def open_follow_ups(user: User) -> list[FollowUp]:
    return list(
        db.session.scalars(
            select(FollowUp)
            .where(FollowUp.user_id == user.id, FollowUp.status == FollowUpStatus.OPEN.value)
            .order_by(FollowUp.id)
        )
    )


def next_for(user: User, now: datetime) -> dict:
    """Dashboard tile: the person's next shadow day and open shadow debrief / follow-ups."""
    next_day = db.session.scalar(
        select(Activity)
        .where(
            Activity.kind == ActivityKind.SHADOW_DAY.value,
            Activity.ends_at >= now,
            Activity.status == ActivityStatus.SCHEDULED.value,
            or_(Activity.host_id == user.id, Activity.participations.any(user_id=user.id, state=State.BOOKED.value)),
        )
        .order_by(Activity.starts_at)
        .limit(1)
    )
    debrief = db.session.scalar(
        select(DebriefTask)
        .join(Activity, Activity.id == DebriefTask.activity_id)
        .where(
            DebriefTask.user_id == user.id,
            DebriefTask.status == TaskStatus.OPEN.value,
            Activity.kind == ActivityKind.SHADOW_DAY.value,
        )
        .order_by(DebriefTask.due_at)
        .limit(1)
    )
    return {"next_day": next_day, "debrief": debrief, "open_follow_ups": len(open_follow_ups(user))}
