"""Reports: a small company with known numbers for November 2026 (the fixed clock is Monday 23 November, 10:00 UTC)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from program.activities import services as core
from program.extensions import db
from tests.factories.goals import goal, veteran

FORMULA_NAME = '=HYPERLINK("http://evil.example","click")'


@dataclass
class Company:
    hr: object
    lead: object
    ann: object
    bob: object
    eve: object
    rep: object
    marketing: object
    sales: object
    demand: object


def company(make, now) -> Company:
    """Marketing (goal: 2 ride-alongs a month, debrief needed) and Sales (no goal).

    Ann (team Demand Generation, managed by Lee): 2 attended (one debrief submitted, one overdue),
      1 no-show, 1 booked ahead → booked 4, attended 2, no-show 1; 1 of 2 done; on track.
    Bob (managed by Lee): nothing → behind.
    Eve (name looks like a spreadsheet formula): 2 attended, both debriefs submitted → met.
    Rex (Sales staff): hosts the calls; no goal.
    """
    hr = make.user(role="hr", department="People", name="Hana HR")
    marketing = make.department("Marketing")
    sales = make.department("Sales")
    lead = veteran(make.marketer(role="leader", name="Lee Lead"))
    demand = make.team("Demand Generation", "Marketing", manager=lead)
    ann = veteran(make.marketer(name="Ann Archer", email="ann@example.com", manager=lead, team=demand))
    bob = veteran(make.marketer(name="Bob Baker", email="bob@example.com", manager=lead))
    eve = veteran(make.marketer(name=FORMULA_NAME, email="eve@example.com"))
    rep = veteran(make.user(name="Rex Rep", email="rex@example.com"))
    goal(target=2, department=marketing)

    def ride(starts_in):
        return make.ride_along(host=rep, starts_in=starts_in)

    make.submit_debrief(make.attended_task(rider=ann, ride=ride(timedelta(days=-10))))
    overdue = make.attended_task(rider=ann, ride=ride(timedelta(days=-8)))
    overdue.due_at = now - timedelta(days=1)
    missed = ride(timedelta(days=-6))
    p = core.book_seat(missed.id, ann, missed.starts_at - timedelta(days=1))
    core.mark_attendance(p, rep, False, now)
    core.book_seat(ride(timedelta(days=3)).id, ann, now)
    for days in (-12, -4):
        make.submit_debrief(make.attended_task(rider=eve, ride=ride(timedelta(days=days))))
    db.session.flush()
    return Company(hr, lead, ann, bob, eve, rep, marketing, sales, demand)
