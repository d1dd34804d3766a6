"""Reports at scale: a synthetic company of any size, written with bulk INSERTs (seconds for thousands of rows).

Used by tests/reports/test_scale.py (small sizes) and .ci/bench_reports.py (5,000 people, 100,000
participations). The shape is the same at every size: three departments with two teams each, a leader per
team, goals by department and role, some leave; ride-alongs and review meetings from October to early
December with attended, no-show, cancelled, booked and waitlisted places, and debrief tasks (most submitted).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import insert

from program.accounts.models import Department, Team, User
from program.activities.models import Activity, Participation
from program.debriefs.models import DebriefTask
from program.extensions import db
from program.goals.models import Goal, Leave
from program.rides.models import FUNNEL_STAGES, SEGMENTS, RideAlongCall

PER_ACTIVITY = 5


@dataclass
class Company:
    hr_id: int
    manager_id: int
    staff_id: int
    people: int
    participations: int


def _ids(model, rows: list[dict]) -> list[int]:
    if not rows:
        return []
    return list(db.session.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), rows))


def populate(people: int, participations: int, now: datetime, seed: int = 1) -> Company:
    rng = random.Random(seed)
    utc = now.tzinfo
    joined = datetime(2024, 1, 1, tzinfo=utc)
    departments = _ids(
        Department,
        [
            {"name": "Sales", "function": "sales"},
            {"name": "Marketing", "function": "marketing"},
            {"name": "Operations", "function": "other"},
        ],
    )
    teams = _ids(
        Team, [{"name": f"Team {d}-{n}", "department_id": dept} for d, dept in enumerate(departments) for n in range(2)]
    )
    team_dept = {team: departments[n // 2] for n, team in enumerate(teams)}
    leaders = _ids(
        User,
        [
            {
                "email": f"lead{n}@scale.test",
                "name": f"Lead {n:03d}",
                "role": "leader",
                "department_id": team_dept[t],
                "team_id": t,
                "timezone": "Europe/London",
                "created_at": joined,
                "password_hash": None,
            }
            for n, t in enumerate(teams)
        ],
    )
    hr = _ids(
        User,
        [
            {
                "email": "hr@scale.test",
                "name": "HR Person",
                "role": "hr",
                "department_id": departments[2],
                "timezone": "Europe/London",
                "created_at": joined,
                "password_hash": None,
            }
        ],
    )[0]
    rest = max(people - len(leaders) - 1, 3)
    staff_rows = []
    for n in range(rest):
        t = teams[n % len(teams)]
        staff_rows.append(
            {
                "email": f"person{n:05d}@scale.test",
                "name": f"Person {n:05d}",
                "role": "staff",
                "department_id": team_dept[t],
                "team_id": t,
                "manager_id": leaders[n % len(teams)],
                "timezone": "Europe/London",
                "password_hash": None,
                # A few joined during November: their targets are pro-rated.
                "created_at": datetime(2026, 11, 1 + n % 20, tzinfo=utc) if n % 17 == 0 else joined,
            }
        )
    # Someone in Marketing with nothing done yet: their goals always have suggestions to offer.
    staff_rows.append(
        {
            "email": "newcomer@scale.test",
            "name": "Newcomer",
            "role": "staff",
            "department_id": departments[1],
            "team_id": teams[2],
            "manager_id": leaders[2],
            "timezone": "Europe/London",
            "password_hash": None,
            "created_at": joined,
        }
    )
    staff = _ids(User, staff_rows)
    newcomer = staff.pop()
    staff_rows.pop()
    for team, lead in zip(teams, leaders, strict=True):
        db.session.execute(db.update(Team).where(Team.id == team).values(manager_id=lead))
    sales = [u for u, row in zip(staff, staff_rows, strict=True) if row["department_id"] == departments[0]]
    riders = [u for u, row in zip(staff, staff_rows, strict=True) if row["department_id"] != departments[0]]

    db.session.execute(
        insert(Goal),
        [
            {
                "kind": "ride_along",
                "period": "month",
                "target": 2,
                "scope": "department",
                "scope_key": f"department:{departments[1]}",
                "department_id": departments[1],
                "requires_debrief": True,
            },
            {
                "kind": "review_meeting",
                "period": "quarter",
                "target": 3,
                "scope": "role",
                "scope_key": "role:staff",
                "role": "staff",
                "requires_debrief": False,
            },
            {
                "kind": "ride_along",
                "period": "quarter",
                "target": 4,
                "scope": "team",
                "scope_key": f"team:{teams[4]}",
                "team_id": teams[4],
                "requires_debrief": True,
            },
        ],
    )
    db.session.execute(
        insert(Leave),
        [
            {"user_id": u, "starts_on": date(2026, 11, 2 + n % 10), "ends_on": date(2026, 11, 8 + n % 10)}
            for n, u in enumerate(riders[::11])
        ],
    )

    activities = max(participations // PER_ACTIVITY, 4)
    activity_rows, starts = [], []
    for n in range(activities):
        if n < 3:  # a few calls with open seats later this month, whatever the size
            start = now + timedelta(days=2 + n, hours=1)
        else:
            start = now + timedelta(days=rng.uniform(-50, 12), hours=rng.randrange(0, 8))
        kind = "review_meeting" if n % 5 == 4 else "ride_along"
        host = sales[n % len(sales)] if sales else leaders[0]
        starts.append(start)
        activity_rows.append(
            {
                "kind": kind,
                "title": f"{kind} {n}",
                "host_id": host,
                "created_by_id": host,
                "starts_at": start,
                "ends_at": start + timedelta(hours=1),
                "timezone": "Europe/London",
                "seats": None if kind == "review_meeting" else 3 + PER_ACTIVITY,
                "booking_cutoff_at": start - timedelta(hours=12),
                "ical_uid": f"scale-{seed}-{n}@tandem",
                "created_at": start - timedelta(days=20),
                "updated_at": start - timedelta(days=20),
            }
        )
    activity_ids = _ids(Activity, activity_rows)
    db.session.execute(
        insert(RideAlongCall),
        [
            {
                "activity_id": a,
                "account_name": f"Account {n}",
                "segment": SEGMENTS[n % len(SEGMENTS)],
                "funnel_stage": FUNNEL_STAGES[(n // 3) % len(FUNNEL_STAGES)],
                "call_type": "demo",
            }
            for n, (a, row) in enumerate(zip(activity_ids, activity_rows, strict=True))
            if row["kind"] == "ride_along"
        ],
    )

    part_rows, meta = [], []
    for a, start in zip(activity_ids, starts, strict=True):
        for user in rng.sample(riders, k=min(PER_ACTIVITY, len(riders))):
            if len(part_rows) >= participations:
                break
            if start < now:
                state = rng.choices(["attended", "no_show", "cancelled_by_user"], weights=[6, 2, 2])[0]
            else:
                state = rng.choice(["booked", "booked", "waitlisted"])
            part_rows.append(
                {
                    "activity_id": a,
                    "user_id": user,
                    "state": state,
                    "state_changed_at": start,
                    "created_at": start - timedelta(days=5),
                }
            )
            meta.append((a, user, state, start))
    part_ids = _ids(Participation, part_rows)
    tasks = [
        {
            "participation_id": p,
            "user_id": user,
            "activity_id": a,
            "due_at": start + timedelta(days=2),
            "status": "submitted" if rng.random() < 0.7 else "open",
            "created_at": start,
        }
        for p, (a, user, state, start) in zip(part_ids, meta, strict=True)
        if state == "attended"
    ]
    if tasks:
        db.session.execute(insert(DebriefTask), tasks)
    db.session.commit()
    return Company(
        hr_id=hr,
        manager_id=leaders[2],
        staff_id=newcomer,
        people=len(leaders) + 2 + len(staff),
        participations=len(part_rows),
    )
