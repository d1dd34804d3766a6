"""Accounts: departments, teams and people (the ``make.department/team/user/marketer`` builders), and the
fixtures built on them."""

from __future__ import annotations

import pytest

from program.extensions import db
from tests.conftest import FAST_HASH


class AccountBuilders:
    """Builders for departments, teams and users; every object is flushed, not committed."""

    def __init__(self) -> None:
        self.counter = 0

    def _n(self) -> int:
        self.counter += 1
        return self.counter

    def department(self, name: str = "Sales", function: str | None = None):
        from program.accounts.models import Department

        dept = db.session.scalar(db.select(Department).where(Department.name == name))
        if dept is None:
            fn = function or (name.lower() if name.lower() in ("sales", "marketing") else "other")
            dept = Department(name=name, function=fn)
            db.session.add(dept)
            db.session.flush()
        return dept

    def team(self, name: str = "Enterprise", department: str = "Sales", manager=None):
        from program.accounts.models import Team

        dept = self.department(department)
        team = db.session.scalar(db.select(Team).where(Team.name == name, Team.department_id == dept.id))
        if team is None:
            team = Team(name=name, department=dept, manager=manager)
            db.session.add(team)
            db.session.flush()
        return team

    def user(
        self,
        role: str = "staff",
        department: str | None = "Sales",
        *,
        email: str | None = None,
        name: str | None = None,
        password: str = "correct-horse-battery",
        manager=None,
        team=None,
        timezone: str = "Europe/London",
        active: bool = True,
    ):
        from werkzeug.security import generate_password_hash

        from program.accounts.models import User

        n = self._n()
        user = User(
            email=email or f"user{n}@example.com",
            name=name or f"Test Person {n}",
            role=role,
            password_hash=generate_password_hash(password, method=FAST_HASH),
            department=self.department(department) if department else None,
            manager=manager,
            team=team,
            timezone=timezone,
            active=active,
        )
        db.session.add(user)
        db.session.flush()
        return user

    def marketer(self, **kw):
        return self.user(role=kw.pop("role", "staff"), department="Marketing", **kw)


@pytest.fixture
def make_user(make):
    return make.user


@pytest.fixture
def as_role(make, login):
    """as_role("admin") -> (client, user) for a fresh user of that role."""

    def _as(role: str, department: str = "Sales"):
        user = make.user(role=role, department=department)
        return login(user), user

    return _as
