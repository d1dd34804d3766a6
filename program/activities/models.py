"""Activity ──< Participation ──< ParticipationEvent. Kind-specific detail lives in each kind's package."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from program.accounts.models import User
from program.extensions import db
from program.timeutil import UTCDateTime, utcnow


class ActivityKind(enum.StrEnum):
    RIDE_ALONG = "ride_along"
    SHADOW_DAY = "shadow_day"
    REVIEW_MEETING = "review_meeting"

    @property
    def label(self) -> str:
        return {"ride_along": "Ride-along", "shadow_day": "Shadow day", "review_meeting": "Review meeting"}[self.value]


class ActivityStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class State(enum.StrEnum):
    """The participation ladder, lowest to highest. Order matters: reports rank by it."""

    CANCELLED_BY_USER = "cancelled_by_user"
    CANCELLED_BY_HOST = "cancelled_by_host"
    DECLINED = "declined"
    INVITED = "invited"
    WAITLISTED = "waitlisted"
    OFFERED = "offered"
    BOOKED = "booked"
    NO_SHOW = "no_show"
    ATTENDED = "attended"

    @property
    def rank(self) -> int:
        return list(State).index(self)

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {
    State.CANCELLED_BY_USER: "Cancelled",
    State.CANCELLED_BY_HOST: "Cancelled by host",
    State.DECLINED: "Declined",
    State.INVITED: "Invited",
    State.WAITLISTED: "Waitlisted",
    State.OFFERED: "Seat offered",
    State.BOOKED: "Booked",
    State.NO_SHOW: "No-show",
    State.ATTENDED: "Attended",
}
SEAT_HOLDING = (State.OFFERED.value, State.BOOKED.value)
ACTIVE = (State.WAITLISTED.value, State.OFFERED.value, State.BOOKED.value, State.INVITED.value)
ON_CALENDAR = (State.BOOKED.value, State.ATTENDED.value, State.NO_SHOW.value)


def new_uid() -> str:
    return f"{secrets.token_hex(12)}@tandem"


class Activity(db.Model):
    __tablename__ = "activity"
    __table_args__ = (Index("ix_activity_kind_starts_at", "kind", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    host_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    all_day: Mapped[bool] = mapped_column(default=False)
    timezone: Mapped[str] = mapped_column(String(64))
    location: Mapped[str] = mapped_column(String(300), default="")
    video_url: Mapped[str] = mapped_column(String(500), default="")
    briefing: Mapped[str] = mapped_column(Text, default="")
    seats: Mapped[int | None] = mapped_column()  # None: no seat limit (meetings)
    booking_cutoff_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default=ActivityStatus.SCHEDULED.value)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    late_cancellation: Mapped[bool] = mapped_column(default=False)
    # iCalendar identity: the UID never changes; SEQUENCE goes up with every change riders must see.
    ical_uid: Mapped[str] = mapped_column(String(80), unique=True, default=new_uid)
    ical_sequence: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    host: Mapped[User] = relationship(foreign_keys=[host_id])
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    participations: Mapped[list[Participation]] = relationship(
        back_populates="activity", order_by="Participation.id", cascade="all, delete-orphan"
    )

    @property
    def kind_enum(self) -> ActivityKind:
        return ActivityKind(self.kind)

    @property
    def is_cancelled(self) -> bool:
        return self.status == ActivityStatus.CANCELLED.value

    def has_started(self, now: datetime) -> bool:
        return now >= self.starts_at

    def __repr__(self) -> str:
        return f"<Activity {self.id} {self.kind} {self.title!r}>"


class Participation(db.Model):
    """One person's place in one activity. ``state`` is the newest history row, kept in the same transaction."""

    __tablename__ = "participation"
    __table_args__ = (
        UniqueConstraint("activity_id", "user_id", name="uq_participation_activity_user"),
        Index("ix_participation_user_state", "user_id", "state"),
        Index("ix_participation_activity_state", "activity_id", "state"),
        # The places that can hold a seat, per activity: seat counts (booking, browse, "has a free seat") read
        # only these, a small part of all places.
        Index(
            "ix_participation_seat_holders",
            "activity_id",
            "offer_expires_at",
            postgresql_where=text("state IN ('booked', 'offered')"),
            sqlite_where=text("state IN ('booked', 'offered')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    state: Mapped[str] = mapped_column(String(20))
    state_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    waitlist_rank: Mapped[float | None] = mapped_column()
    offer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rsvp: Mapped[str] = mapped_column(String(10), default="")  # meetings: yes / no / maybe
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    activity: Mapped[Activity] = relationship(back_populates="participations")
    user: Mapped[User] = relationship()
    events: Mapped[list[ParticipationEvent]] = relationship(
        back_populates="participation", order_by="ParticipationEvent.id", cascade="all, delete-orphan"
    )

    @property
    def state_enum(self) -> State:
        return State(self.state)


class ParticipationEvent(db.Model):
    """Append-only history of a participation: who moved it, when, from what, to what, and why."""

    __tablename__ = "participation_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    participation_id: Mapped[int] = mapped_column(ForeignKey("participation.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))  # None: the system (expiry, cron)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")

    participation: Mapped[Participation] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()
