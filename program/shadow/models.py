"""ShadowPairing ──2 ShadowDay (each an all-day Activity); date-change proposals; follow-up actions."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from program.accounts.models import User
from program.activities.models import Activity, Participation
from program.extensions import db
from program.timeutil import UTCDateTime, utcnow


class PairingStatus(enum.StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    COMPLETED = "completed"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class ShadowPairing(db.Model):
    """One sales leader and one marketing leader. A proposal needs the answer of whoever didn't propose
    (both leaders, when HR or an admin proposed); unanswered proposals expire after 7 days."""

    __tablename__ = "shadow_pairing"

    id: Mapped[int] = mapped_column(primary_key=True)
    sales_leader_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    marketing_leader_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    status: Mapped[str] = mapped_column(String(20), default=PairingStatus.PROPOSED.value, index=True)
    sales_answer: Mapped[str] = mapped_column(String(10), default="pending")  # pending | accepted | declined
    marketing_answer: Mapped[str] = mapped_column(String(10), default="pending")
    decline_reason: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    # The proposed dates (local dates in each host's timezone): sales day = marketing leader visits sales.
    sales_day_date: Mapped[date] = mapped_column(Date)
    marketing_day_date: Mapped[date] = mapped_column(Date)
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The two days, once accepted: in each, the other leader visits the host's world.
    sales_day_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id"))
    marketing_day_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id"))

    sales_leader: Mapped[User] = relationship(foreign_keys=[sales_leader_id])
    marketing_leader: Mapped[User] = relationship(foreign_keys=[marketing_leader_id])
    proposed_by: Mapped[User] = relationship(foreign_keys=[proposed_by_id])
    sales_day: Mapped[Activity | None] = relationship(foreign_keys=[sales_day_id])
    marketing_day: Mapped[Activity | None] = relationship(foreign_keys=[marketing_day_id])

    @property
    def leaders(self) -> tuple[User, User]:
        return self.sales_leader, self.marketing_leader

    def partner_of(self, user: User) -> User:
        return self.marketing_leader if user.id == self.sales_leader_id else self.sales_leader

    @property
    def days(self) -> list[Activity]:
        return [d for d in (self.sales_day, self.marketing_day) if d is not None]


class ShadowDay(db.Model):
    """The shadow-day detail of an activity: which pairing, and the host's agenda."""

    __tablename__ = "shadow_day"

    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True)
    pairing_id: Mapped[int] = mapped_column(ForeignKey("shadow_pairing.id", ondelete="CASCADE"), index=True)
    agenda: Mapped[str] = mapped_column(Text, default="")

    activity: Mapped[Activity] = relationship(backref=db.backref("shadow", uselist=False, lazy="joined"))
    pairing: Mapped[ShadowPairing] = relationship()


class DateChange(db.Model):
    """Either leader proposes a new date for a day; the other confirms (or rejects)."""

    __tablename__ = "shadow_date_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), index=True)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    new_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | confirmed | rejected
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    activity: Mapped[Activity] = relationship()
    proposed_by: Mapped[User] = relationship()


class FollowUpKind(enum.StrEnum):
    SHARED = "shared"
    ENCOURAGED = "encouraged"
    REPORTED = "reported"

    @property
    def label(self) -> str:
        return {
            "shared": "I shared what I learned with my team",
            "encouraged": "I encouraged named colleagues to reach out to the other function",
            "reported": "I reported back to my manager or the leadership group",
        }[self.value]

    @property
    def evidence_hint(self) -> str:
        return {
            "shared": "When and how (team meeting, written summary…)",
            "encouraged": "Whom you encouraged, and to reach out to whom",
            "reported": "To whom, when and how",
        }[self.value]


class FollowUpStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    DROPPED = "dropped"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class FollowUp(db.Model):
    """One of the three follow-up actions after a shadow day, tracked to done (or dropped with a reason)."""

    __tablename__ = "shadow_follow_up"

    id: Mapped[int] = mapped_column(primary_key=True)
    participation_id: Mapped[int] = mapped_column(ForeignKey("participation.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default=FollowUpStatus.OPEN.value)
    done_on: Mapped[date | None] = mapped_column(Date)
    evidence: Mapped[str] = mapped_column(Text, default="")
    drop_reason: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    participation: Mapped[Participation] = relationship()
    user: Mapped[User] = relationship()

    @property
    def kind_enum(self) -> FollowUpKind:
        return FollowUpKind(self.kind)
