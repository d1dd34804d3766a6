"""Joint review meetings: the meeting detail of an activity, its action items, and the lead definition.

ReviewMeeting ──1 Activity (kind review_meeting; the host is the facilitator; invitees are Participations)
ActionItem >── Activity (the meeting it came from)
LeadDefinition >── Activity (optional: the lead-definition session that agreed it)
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from program.accounts.models import User
from program.activities.models import Activity
from program.extensions import db
from program.timeutil import UTCDateTime, utcnow


class MeetingFormat(enum.StrEnum):
    FUNNEL_REALITY_CHECK = "funnel_reality_check"
    WIN_LOSS_PLAYBACK = "win_loss_playback"
    LEAD_DEFINITION = "lead_definition"
    OTHER = "other"

    @property
    def label(self) -> str:
        return FORMAT_LABELS[self.value]


FORMAT_LABELS = {
    MeetingFormat.FUNNEL_REALITY_CHECK.value: "Funnel Reality Check",
    MeetingFormat.WIN_LOSS_PLAYBACK.value: "Win/loss playback",
    MeetingFormat.LEAD_DEFINITION.value: "Lead-definition session",
    MeetingFormat.OTHER.value: "Review meeting",
}
FORMAT_CHOICES = [
    (MeetingFormat.FUNNEL_REALITY_CHECK.value, "Funnel Reality Check"),
    (MeetingFormat.WIN_LOSS_PLAYBACK.value, "Win/loss playback"),
    (MeetingFormat.LEAD_DEFINITION.value, "Lead-definition session"),
    (MeetingFormat.OTHER.value, "Other"),
]


class RsvpAnswer(enum.StrEnum):
    YES = "yes"
    NO = "no"
    MAYBE = "maybe"

    @property
    def label(self) -> str:
        return {"yes": "Yes", "no": "No", "maybe": "Maybe"}[self.value]


class ReviewMeeting(db.Model):
    """The meeting detail of an activity: which format, the agenda, and the notes taken."""

    __tablename__ = "review_meeting"

    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True)
    format: Mapped[str] = mapped_column(String(30), index=True)
    agenda: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    notes_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notes_updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    activity: Mapped[Activity] = relationship(
        backref=db.backref("meeting", uselist=False, lazy="joined", cascade="all, delete-orphan")
    )
    notes_updated_by: Mapped[User | None] = relationship()

    @property
    def format_label(self) -> str:
        return FORMAT_LABELS.get(self.format, self.format)


class ActionStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    DROPPED = "dropped"

    @property
    def label(self) -> str:
        return {"open": "Open", "done": "Done", "dropped": "Dropped"}[self.value]


ACTION_STATUS_CHOICES = [(s.value, s.label) for s in ActionStatus]


class ActionItem(db.Model):
    """Something a meeting agreed someone will do, by a date. Open items follow the format to its next meeting."""

    __tablename__ = "action_item"
    __table_args__ = (
        Index("ix_action_item_status_due", "status", "due_date"),
        Index("ix_action_item_owner_status", "owner_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    owner_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default=ActionStatus.OPEN.value)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    activity: Mapped[Activity] = relationship()
    owner: Mapped[User] = relationship(foreign_keys=[owner_id])
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])

    @property
    def status_label(self) -> str:
        return ActionStatus(self.status).label

    @property
    def is_open(self) -> bool:
        return self.status == ActionStatus.OPEN.value


class LeadDefinition(db.Model):
    """One version of the agreed definition of a qualified lead.

    It is in force once one sales leader and one marketing leader have signed it off and its effective date
    has come; the newest such version is the current one. Every version is kept.
    """

    __tablename__ = "lead_definition"
    __table_args__ = (UniqueConstraint("version", name="uq_lead_definition_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column()
    criteria: Mapped[str] = mapped_column(Text)
    effective_date: Mapped[date] = mapped_column(Date)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id", ondelete="SET NULL"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sales_signoff_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    sales_signoff_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    marketing_signoff_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    marketing_signoff_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    activity: Mapped[Activity | None] = relationship()
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    sales_signoff_by: Mapped[User | None] = relationship(foreign_keys=[sales_signoff_by_id])
    marketing_signoff_by: Mapped[User | None] = relationship(foreign_keys=[marketing_signoff_by_id])

    @property
    def is_signed_off(self) -> bool:
        return self.sales_signoff_by_id is not None and self.marketing_signoff_by_id is not None

    def is_in_force_on(self, today: date) -> bool:
        return self.is_signed_off and self.effective_date <= today
