"""The demo goals: created once, alongside the demo company, with sensible progress to show."""

from __future__ import annotations

from program.accounts.models import User
from program.extensions import db
from program.goals.dashboards import my_goals
from program.goals.models import Goal, Leave
from program.seed import seed_demo


def test_demo_goals_are_seeded_once(app, now):
    summary = seed_demo()
    assert ", 5 goals, 1 leave record" in summary
    assert db.session.scalar(db.select(db.func.count(Goal.id))) == 5
    assert db.session.scalar(db.select(db.func.count(Leave.id))) == 1
    assert ", goals already present" in seed_demo()
    assert db.session.scalar(db.select(db.func.count(Goal.id))) == 5

    marketer = db.session.scalar(db.select(User).where(User.email == "marketer@example.com"))
    mine = my_goals(marketer, now, marketer.timezone)
    assert [p.goal.scope for p in mine.goals] == ["person"]  # the personal goal beats team and department
    assert mine.goals[0].target == 4
    joiner = db.session.scalar(db.select(User).where(User.email == "kai.morgan@example.com"))
    assert my_goals(joiner, now, joiner.timezone).goals[0].target < 2  # joined ten days ago: pro-rated
