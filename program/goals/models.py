"""Goal (N activities of a kind per period, for a role / department / team / person) and Leave.

A goal recurs: "2 ride-alongs per month for Marketing" applies to every month. For each person and kind
the most specific goal applies (person > team > department > role); ``scope_key`` plus ``kind`` is
unique, so there is never a tie at the same level.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from program.accounts.models import Department, Team, User
from program.extensions import db
from program.periods import PeriodType
from program.timeutil import UTCDateTime, utcnow


class Scope(enum.StrEnum):
    """Who a goal is for, least specific first (the order is the precedence)."""

    ROLE = "role"
    DEPARTMENT = "department"
    TEAM = "team"
    PERSON = "person"

    @property
    def label(self) -> str:
        return {"role": "Everyone with a role", "department": "A department", "team": "A team", "person": "One person"}[
            self.value
        ]

    @property
    def specificity(self) -> int:
        return list(Scope).index(self)


class Goal(db.Model):
    __tablename__ = "goal"
    __table_args__ = (UniqueConstraint("kind", "scope_key", name="uq_goal_kind_scope_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    period: Mapped[str] = mapped_column(String(10), default=PeriodType.MONTH.value)
    target: Mapped[int] = mapped_column()
    scope: Mapped[str] = mapped_column(String(12))
    # "role:staff", "department:3", "team:7", "person:42": what the scope points at, in one comparable key.
    scope_key: Mapped[str] = mapped_column(String(40))
    role: Mapped[str | None] = mapped_column(String(20))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    # By default a participation counts once attended AND its debrief is submitted; a goal may waive the debrief.
    requires_debrief: Mapped[bool] = mapped_column(default=True)
    note: Mapped[str] = mapped_column(String(300), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    department: Mapped[Department | None] = relationship(foreign_keys=[department_id])
    team: Mapped[Team | None] = relationship(foreign_keys=[team_id])
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])

    @property
    def scope_enum(self) -> Scope:
        return Scope(self.scope)

    @property
    def period_enum(self) -> PeriodType:
        return PeriodType(self.period)

    def __repr__(self) -> str:
        return f"<Goal {self.target} {self.kind} {self.period} for {self.scope_key}>"


class Leave(db.Model):
    """A stretch of leave HR recorded (local calendar days, both ends included): targets shrink pro rata."""

    __tablename__ = "leave"
    __table_args__ = (Index("ix_leave_user_dates", "user_id", "starts_on", "ends_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
