"""Accounts: users with a role, a department, a team and a manager; sign-in bookkeeping."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from program.extensions import db
from program.timeutil import UTCDateTime, utcnow


class Role(enum.StrEnum):
    STAFF = "staff"
    LEADER = "leader"
    HR = "hr"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return {"staff": "Staff", "leader": "Leader", "hr": "HR", "admin": "Admin"}[self.value]


ROLE_CHOICES = [(r.value, r.label) for r in Role]


def new_session_token() -> str:
    return secrets.token_urlsafe(16)


class Department(db.Model):
    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    # "sales" / "marketing" mark the two functions the programme pairs; others are "other".
    function: Mapped[str] = mapped_column(String(20), default="other")

    def __repr__(self) -> str:
        return f"<Department {self.name}>"


class Team(db.Model):
    __tablename__ = "team"
    __table_args__ = (db.UniqueConstraint("department_id", "name", name="uq_team_department_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", use_alter=True))
    # Provisioning: the identity provider's own id for this group (SCIM externalId).
    external_id: Mapped[str | None] = mapped_column(String(255))

    department: Mapped[Department] = relationship(lazy="joined")
    manager: Mapped[User | None] = relationship(foreign_keys=[manager_id], post_update=True)


class User(UserMixin, db.Model):
    __tablename__ = "user"
    __table_args__ = (Index("ix_user_name", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default=Role.STAFF.value)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    active: Mapped[bool] = mapped_column(default=True)
    # Part of the login cookie; changing it signs the user out everywhere (copied cookies die too).
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # Single sign-on: the identity provider's stable subject for this person (set at the first SSO sign-in).
    oidc_sub: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Provisioning: the identity provider's own id for this person (SCIM externalId).
    external_id: Mapped[str | None] = mapped_column(String(255), index=True)

    department: Mapped[Department | None] = relationship()
    team: Mapped[Team | None] = relationship(foreign_keys=[team_id])
    manager: Mapped[User | None] = relationship(remote_side=[id], foreign_keys=[manager_id])

    # Flask-Login
    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def is_active(self) -> bool:  # deactivated people can't sign in
        return self.active

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    def has_role(self, *roles: Role | str) -> bool:
        wanted = {r.value if isinstance(r, Role) else r for r in roles}
        return self.role in wanted

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value

    @property
    def is_hr(self) -> bool:
        return self.role in (Role.HR.value, Role.ADMIN.value)

    @property
    def function(self) -> str:
        return self.department.function if self.department else "other"

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class LoginAttempt(db.Model):
    """One row per sign-in attempt (and per password reset, a proof of identity too), so throttling holds
    across workers and hosts. Attempts refused by the throttle are not recorded: they checked nothing."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_email_at", "email", "at"), Index("ix_login_attempt_ip_at", "ip", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str] = mapped_column(String(64), default="")
    success: Mapped[bool] = mapped_column(default=False)
    # "sign_in": a password was checked; "reset": a reset link was used (always a success).
    kind: Mapped[str] = mapped_column(String(16), default="sign_in", server_default="sign_in")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PasswordResetRequest(db.Model):
    """One row per accepted "forgot password" request, for any address (known or not): the throttle counts them."""

    __tablename__ = "password_reset_request"
    __table_args__ = (
        Index("ix_password_reset_request_email_at", "email", "at"),
        Index("ix_password_reset_request_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ThrottleKey(db.Model):
    """A row per throttled address or client (per purpose). An attempt locks its rows before it counts,
    so concurrent attempts for the same address or client are counted one after another."""

    __tablename__ = "throttle_key"

    scope: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(254), primary_key=True)
    touched_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PasswordResetToken(db.Model):
    """A single-use, expiring reset link. Only the token's hash is stored."""

    __tablename__ = "password_reset_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class PeopleImport(db.Model):
    """An uploaded people CSV waiting between preview and confirm (kept in the DB so any worker can confirm)."""

    __tablename__ = "people_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    filename: Mapped[str] = mapped_column(String(255), default="")
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
