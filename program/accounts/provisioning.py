"""The provisioning log: every change an identity provider made to people and groups (through SCIM, or a person
created at their first single sign-on) — who, what, when, before → after. ``record`` writes one entry in the
transaction of the change."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from program.extensions import db
from program.timeutil import UTCDateTime, utcnow


class ProvisioningEvent(db.Model):
    """One provisioning change: a person or group created, updated, deactivated or deleted through SCIM (or a
    person created at their first single sign-on)."""

    __tablename__ = "provisioning_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120))  # "scim:<token name>" or "sso:<issuer>"
    action: Mapped[str] = mapped_column(String(40))  # created | updated | deactivated | reactivated | deleted …
    resource_type: Mapped[str] = mapped_column(String(20))  # User | Group
    resource_id: Mapped[str] = mapped_column(String(64))
    before_json: Mapped[str] = mapped_column(Text, default="{}")
    after_json: Mapped[str] = mapped_column(Text, default="{}")

    @property
    def before(self) -> dict[str, Any]:
        return json.loads(self.before_json or "{}")

    @property
    def after(self) -> dict[str, Any]:
        return json.loads(self.after_json or "{}")


def record(
    actor: str,
    action: str,
    resource_type: str,
    resource_id: object,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime,
) -> ProvisioningEvent:
    event = ProvisioningEvent(
        at=now,
        actor=actor[:120],
        action=action[:40],
        resource_type=resource_type[:20],
        resource_id=str(resource_id)[:64],
        before_json=json.dumps(before or {}, sort_keys=True, default=str),
        after_json=json.dumps(after or {}, sort_keys=True, default=str),
    )
    db.session.add(event)
    return event


def log_page(page: int, per_page: int, actor: str = "", resource_id: str = "") -> Pagination:
    """The provisioning log, newest first, filterable by actor and resource id."""
    stmt = select(ProvisioningEvent).order_by(ProvisioningEvent.at.desc(), ProvisioningEvent.id.desc())
    if actor:
        stmt = stmt.where(ProvisioningEvent.actor == actor)
    if resource_id:
        stmt = stmt.where(ProvisioningEvent.resource_id == resource_id)
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)
