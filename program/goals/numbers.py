"""The numbers behind goal progress, read in a fixed number of queries however many people: per person and
kind, the activities starting in a stretch of time (held, attended, no-show, debriefed, ahead, mine), the
debriefs submitted and overdue, the open seats left, and leave.

An open seat is a seat still free on a scheduled activity of the kind that starts later in the period, whose
booking is still open and which the person neither hosts nor is already on (one per activity); only
activities with a seat limit (self-booked ones such as ride-alongs) have open seats.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import Select, and_, case, func, or_, select, union
from sqlalchemy.orm import aliased

from program.accounts.models import Department, Team, User
from program.activities.models import Activity, ActivityStatus, Participation, State
from program.activities.services import seat_taken_clause
from program.debriefs.models import DebriefTask
from program.extensions import db
from program.goals.models import Leave
from program.goals.status import KINDS, KindNumbers, PersonProgress

HELD = (State.BOOKED.value, State.ATTENDED.value, State.NO_SHOW.value)  # a seat was held through the activity
ON_IT = (State.BOOKED.value, State.OFFERED.value, State.WAITLISTED.value, State.INVITED.value)
METRICS = ("booked", "attended", "no_show", "debriefed", "ahead", "mine")


def _count(condition) -> object:
    return func.sum(case((condition, 1), else_=0))


def open_activities(now: datetime, end: datetime):
    """A subquery of the activities with an open seat that start in (now, end): id, kind, host_id."""
    a = aliased(Activity)
    p = aliased(Participation)
    taken = (
        select(func.count(p.id))
        .where(
            p.activity_id == a.id,
            or_(p.state == State.BOOKED.value, and_(p.state == State.OFFERED.value, p.offer_expires_at > now)),
        )
        .correlate(a)
        .scalar_subquery()
    )
    return (
        select(a.id.label("id"), a.kind.label("kind"), a.host_id.label("host_id"))
        .where(
            a.kind.in_(KINDS),  # lets the (kind, starts_at) index serve the time range
            a.status == ActivityStatus.SCHEDULED.value,
            a.starts_at > now,
            a.starts_at < end,
            a.booking_cutoff_at > now,
            a.seats.is_not(None),
            a.seats > taken,
        )
        .subquery()
    )


def open_totals(now: datetime, end: datetime) -> dict[str, int]:
    """kind -> activities with an open seat starting between now and ``end`` (one query)."""
    o = open_activities(now, end)
    return {kind: n for kind, n in db.session.execute(select(o.c.kind, func.count(o.c.id)).group_by(o.c.kind))}


def people_ids(where: Sequence) -> Select:
    return select(User.id).where(User.active.is_(True), *where).correlate(None)


def people_numbers(where: Sequence, start: datetime, end: datetime, now: datetime) -> Select:
    """One row per active person matching ``where``: who they are, and per kind the numbers of the
    activities starting in [start, end) — plus debriefs submitted and overdue — in one statement."""
    seat = seat_taken_clause(now)
    cols = [Participation.user_id.label("user_id")]
    for kind in KINDS:
        is_kind = Activity.kind == kind
        state = Participation.state
        cols += [
            _count(and_(is_kind, state.in_(HELD))).label(f"{kind}__booked"),
            _count(and_(is_kind, state == State.ATTENDED.value)).label(f"{kind}__attended"),
            _count(and_(is_kind, state == State.NO_SHOW.value)).label(f"{kind}__no_show"),
            _count(and_(is_kind, state == State.ATTENDED.value, DebriefTask.status == "submitted")).label(
                f"{kind}__debriefed"
            ),
            _count(
                and_(
                    is_kind,
                    or_(
                        state == State.BOOKED.value,
                        and_(Activity.starts_at > now, or_(seat, state == State.INVITED.value)),
                    ),
                )
            ).label(f"{kind}__ahead"),
        ]
    cols += [
        _count(DebriefTask.status == "submitted").label("debriefs_submitted"),
        _count(and_(DebriefTask.status == "open", DebriefTask.due_at < now)).label("debriefs_overdue"),
    ]
    numbers = (
        select(*cols)
        .select_from(Participation)
        .join(Activity, Activity.id == Participation.activity_id)
        .join(User, User.id == Participation.user_id)
        .outerjoin(DebriefTask, DebriefTask.participation_id == Participation.id)
        .where(
            Activity.kind.in_(KINDS),
            Activity.starts_at >= start,
            Activity.starts_at < end,
            User.active.is_(True),
            *where,
        )
        .group_by(Participation.user_id)
        .subquery("numbers")
    )
    o = open_activities(now, end)
    on = (
        select(Participation.user_id.label("user_id"), o.c.kind, o.c.id)
        .join(o, o.c.id == Participation.activity_id)
        .join(User, User.id == Participation.user_id)
        .where(Participation.state.in_(ON_IT), User.active.is_(True), *where)
    )
    hosting = (
        select(o.c.host_id.label("user_id"), o.c.kind, o.c.id)
        .join(User, User.id == o.c.host_id)
        .where(User.active.is_(True), *where)
    )
    both = union(on, hosting).subquery("mine_rows")
    mine = (
        select(both.c.user_id, *[_count(both.c.kind == kind).label(f"{kind}__mine") for kind in KINDS])
        .group_by(both.c.user_id)
        .subquery("mine")
    )
    manager = aliased(User)
    return (
        select(
            User.id,
            User.name,
            User.email,
            User.role,
            User.department_id,
            User.team_id,
            User.created_at,
            Department.name.label("department"),
            Team.name.label("team"),
            manager.name.label("manager"),
            *[func.coalesce(c, 0).label(c.name) for c in numbers.c if c.name != "user_id"],
            *[func.coalesce(c, 0).label(c.name) for c in mine.c if c.name != "user_id"],
        )
        .select_from(User)
        .outerjoin(Department, Department.id == User.department_id)
        .outerjoin(Team, Team.id == User.team_id)
        .outerjoin(manager, manager.id == User.manager_id)
        .outerjoin(numbers, numbers.c.user_id == User.id)
        .outerjoin(mine, mine.c.user_id == User.id)
        .where(User.active.is_(True), *where)
        .order_by(Department.name.is_(None), Department.name, User.name, User.id)
    )


def leaves_for(where: Sequence, first: date, after: date) -> dict[int, list[tuple[date, date]]]:
    """user id -> leave ranges overlapping [first, after), for the people matching ``where`` (one query)."""
    rows = db.session.execute(
        select(Leave.user_id, Leave.starts_on, Leave.ends_on).where(
            Leave.user_id.in_(people_ids(where)), Leave.ends_on >= first, Leave.starts_on < after
        )
    )
    found: dict[int, list[tuple[date, date]]] = {}
    for user_id, starts_on, ends_on in rows:
        found.setdefault(user_id, []).append((starts_on, ends_on))
    return found


_COLUMNS = [(kind, [f"{kind}__{m}" for m in METRICS]) for kind in KINDS]


def person_from_row(row) -> PersonProgress:
    values = row._mapping
    numbers = {kind: KindNumbers(*(int(values[c] or 0) for c in columns)) for kind, columns in _COLUMNS}
    return PersonProgress(
        user_id=row.id,
        name=row.name,
        email=row.email,
        role=row.role,
        department_id=row.department_id,
        department=row.department or "",
        team_id=row.team_id,
        team=row.team or "",
        manager=row.manager or "",
        numbers=numbers,
        debriefs_submitted=int(row.debriefs_submitted or 0),
        debriefs_overdue=int(row.debriefs_overdue or 0),
    )
