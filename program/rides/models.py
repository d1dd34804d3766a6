"""The ride-along detail of an activity: which call it is."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from program.activities.models import Activity
from program.extensions import db

SEGMENTS = ["Enterprise", "Mid-Market", "SMB", "Public Sector"]
FUNNEL_STAGES = ["Lead", "MQL", "SQL", "Opportunity", "Negotiation", "Customer"]
CALL_TYPES = [
    ("discovery", "Discovery"),
    ("demo", "Demo"),
    ("negotiation", "Negotiation"),
    ("renewal", "Renewal / QBR"),
    ("other", "Other"),
]
CALL_TYPE_LABELS = dict(CALL_TYPES)


class RideAlongCall(db.Model):
    __tablename__ = "ride_along_call"

    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True)
    account_name: Mapped[str] = mapped_column(String(200))
    segment: Mapped[str] = mapped_column(String(40), index=True)
    funnel_stage: Mapped[str] = mapped_column(String(40), index=True)
    call_type: Mapped[str] = mapped_column(String(20), index=True)
    hide_account: Mapped[bool] = mapped_column(default=False)

    activity: Mapped[Activity] = relationship(backref=db.backref("ride", uselist=False, lazy="joined"))

    @property
    def call_type_label(self) -> str:
        return CALL_TYPE_LABELS.get(self.call_type, self.call_type)
