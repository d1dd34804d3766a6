"""What the pages list about activities, kind-neutral reads: seat counts for many activities at once, an
activity's participants, a person's schedule and the dashboard's next places. Nothing here changes anything."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import case, func, select
from sqlalchemy.orm import joinedload

from program.accounts.models import User
from program.activities.models import Activity, ActivityStatus, Participation, State
from program.activities.services import seat_taken_clause
from program.extensions import db

LIVE = (State.BOOKED.value, State.OFFERED.value, State.WAITLISTED.value, State.INVITED.value)


@dataclass(frozen=True)
class SeatCounts:
    taken: int
    waiting: int


def seat_counts(activity_ids: list[int], now: datetime) -> dict[int, SeatCounts]:
    """Seats taken and people waiting for many activities, in one query."""
    if not activity_ids:
        return {}
    rows = db.session.execute(
        select(
            Participation.activity_id,
            func.sum(case((seat_taken_clause(now), 1), else_=0)),
            func.sum(case((Participation.state == State.WAITLISTED.value, 1), else_=0)),
        )
        .where(Participation.activity_id.in_(activity_ids))
        .group_by(Participation.activity_id)
    ).all()
    counts = {aid: SeatCounts(0, 0) for aid in activity_ids}
    for aid, taken, waiting in rows:
        counts[aid] = SeatCounts(int(taken or 0), int(waiting or 0))
    return counts


def participants(activity_id: int) -> list[Participation]:
    """Everyone with a place on the activity (any state), the waitlist in its order, then the rest."""
    return list(
        db.session.scalars(
            select(Participation)
            .options(joinedload(Participation.user))
            .where(Participation.activity_id == activity_id)
            .order_by(Participation.waitlist_rank.is_(None), Participation.waitlist_rank, Participation.id)
        )
    )


def schedule(
    user: User, now: datetime, *, past: bool, page: int, hosted_page: int, per_page: int
) -> tuple[Pagination, Pagination]:
    """My schedule: the person's places and the activities they host, one page of each. Upcoming: live places
    soonest first; past: every place, latest first."""
    stmt = (
        select(Participation)
        .join(Activity)
        .options(joinedload(Participation.activity).joinedload(Activity.host))
        .where(Participation.user_id == user.id)
    )
    hosted = select(Activity).options(joinedload(Activity.host)).where(Activity.host_id == user.id)
    if past:
        stmt = stmt.where(Activity.ends_at < now).order_by(Activity.starts_at.desc())
        hosted = hosted.where(Activity.ends_at < now).order_by(Activity.starts_at.desc())
    else:
        stmt = stmt.where(Activity.ends_at >= now, Participation.state.in_(LIVE)).order_by(Activity.starts_at)
        hosted = hosted.where(Activity.ends_at >= now).order_by(Activity.starts_at)
    return (
        db.paginate(stmt, page=page, per_page=per_page, error_out=False),
        db.paginate(hosted, page=hosted_page, per_page=per_page, error_out=False),
    )


def upcoming_for(user: User, now: datetime, limit: int = 5) -> list[Participation]:
    """The person's next booked, offered or waitlisted places (for the dashboard)."""
    return list(
        db.session.scalars(
            select(Participation)
            .join(Activity)
            .options(joinedload(Participation.activity).joinedload(Activity.host))
            .where(
                Participation.user_id == user.id,
                Participation.state.in_(LIVE),
                Activity.ends_at >= now,
                Activity.status == ActivityStatus.SCHEDULED.value,
            )
            .order_by(Activity.starts_at)
            .limit(limit)
        )
    )


def hosting_next(user: User, now: datetime, limit: int = 5) -> list[Activity]:
    return list(
        db.session.scalars(
            select(Activity)
            .options(joinedload(Activity.host))
            .where(
                Activity.host_id == user.id, Activity.ends_at >= now, Activity.status == ActivityStatus.SCHEDULED.value
            )
            .order_by(Activity.starts_at)
            .limit(limit)
        )
    )
