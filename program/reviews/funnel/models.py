"""Funnel reality check and win/loss playback: the data a review meeting works on.

Everything hangs off the meeting's ``Activity`` (kind ``review_meeting``), not off the meetings
package's own detail row, so the two can evolve separately::

    Activity ──1 FunnelSnapshot ──< FunnelStage ──< FunnelStageReason ── ReasonCode
        ├──< FunnelTeam ──< FunnelTeamMember ── User
        │        └──< FunnelTeamStage ── FunnelStage
        ├──< FunnelIdea (a team's idea for a stage: lift, confidence, effort)
        └──< PlaybackDeal ──< DealFeedback ──< DealFeedbackCode ── ReasonCode

Money is stored in whole cents and lifts in hundredths of a percentage point (integers), so no
float or driver-dependent decimal ever touches the maths.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from program.accounts.models import User
from program.activities.models import Activity
from program.extensions import db
from program.timeutil import UTCDateTime, utcnow

if TYPE_CHECKING:  # the shared codebook lives in debriefs; referred to by name to keep imports one-way
    from program.debriefs.models import ReasonCode

DEFAULT_STAGES = ("Lead", "MQL", "SQL", "Opportunity", "Won")


class Effort(enum.StrEnum):
    S = "S"
    M = "M"
    L = "L"

    @property
    def weight(self) -> int:
        return EFFORT_WEIGHTS[self]

    @property
    def label(self) -> str:
        return {"S": "S (small)", "M": "M (medium)", "L": "L (large)"}[self.value]


EFFORT_WEIGHTS = {Effort.S: 1, Effort.M: 2, Effort.L: 3}


class DealOutcome(enum.StrEnum):
    WON = "won"
    LOST = "lost"
    NO_DECISION = "no_decision"

    @property
    def label(self) -> str:
        return {"won": "Won", "lost": "Lost", "no_decision": "No decision"}[self.value]

    @property
    def code_category(self) -> str:
        """Won deals are explained with why-buy codes; lost and stalled ones with loss reasons."""
        return "why_buy" if self is DealOutcome.WON else "loss_reason"


class FunnelSnapshot(db.Model):
    """The funnel of one period, as the facilitator entered or uploaded it for one meeting."""

    __tablename__ = "funnel_snapshot"
    __table_args__ = (CheckConstraint("avg_deal_value_cents >= 0", name="avg_value_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), unique=True)
    period_label: Mapped[str] = mapped_column(String(80), default="")
    avg_deal_value_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    # The seed the mini-teams were drawn with (kept so a draw can be explained and repeated).
    team_seed: Mapped[str] = mapped_column(String(64), default="")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    activity: Mapped[Activity] = relationship()
    updated_by: Mapped[User | None] = relationship()
    stages: Mapped[list[FunnelStage]] = relationship(
        back_populates="snapshot", order_by="FunnelStage.position", cascade="all, delete-orphan"
    )


class FunnelStage(db.Model):
    __tablename__ = "funnel_stage"
    __table_args__ = (
        UniqueConstraint("snapshot_id", "name", name="uq_funnel_stage_snapshot_name"),
        CheckConstraint("entering >= 0", name="entering_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("funnel_snapshot.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(String(60))
    entering: Mapped[int] = mapped_column(BigInteger)

    snapshot: Mapped[FunnelSnapshot] = relationship(back_populates="stages")
    reasons: Mapped[list[FunnelStageReason]] = relationship(
        back_populates="stage", cascade="all, delete-orphan", order_by="FunnelStageReason.count.desc()"
    )


class FunnelStageReason(db.Model):
    """How many prospects were lost at a stage for one reason code (loss reason or lead-quality issue)."""

    __tablename__ = "funnel_stage_reason"
    __table_args__ = (
        UniqueConstraint("stage_id", "reason_code_id", name="uq_funnel_stage_reason_stage_code"),
        CheckConstraint("count > 0", name="count_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("funnel_stage.id", ondelete="CASCADE"), index=True)
    reason_code_id: Mapped[int] = mapped_column(ForeignKey("reason_code.id"), index=True)
    count: Mapped[int] = mapped_column()

    stage: Mapped[FunnelStage] = relationship(back_populates="reasons")
    reason_code: Mapped[ReasonCode] = relationship("ReasonCode")


class FunnelTeam(db.Model):
    """A mini-team of a meeting: a pair (or one three), working on the stages assigned to it."""

    __tablename__ = "funnel_team"
    __table_args__ = (UniqueConstraint("activity_id", "number", name="uq_funnel_team_activity_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    members: Mapped[list[FunnelTeamMember]] = relationship(
        back_populates="team", cascade="all, delete-orphan", order_by="FunnelTeamMember.id"
    )
    stage_links: Mapped[list[FunnelTeamStage]] = relationship(
        back_populates="team", cascade="all, delete-orphan", order_by="FunnelTeamStage.id"
    )

    @property
    def name(self) -> str:
        return f"Team {self.number}"


class FunnelTeamMember(db.Model):
    __tablename__ = "funnel_team_member"
    # One team per person per meeting; activity_id is repeated here so the database can say so.
    __table_args__ = (UniqueConstraint("activity_id", "user_id", name="uq_funnel_team_member_activity_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    team_id: Mapped[int] = mapped_column(ForeignKey("funnel_team.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)

    team: Mapped[FunnelTeam] = relationship(back_populates="members")
    user: Mapped[User] = relationship()


class FunnelTeamStage(db.Model):
    __tablename__ = "funnel_team_stage"
    __table_args__ = (UniqueConstraint("team_id", "stage_id", name="uq_funnel_team_stage_team_stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("funnel_team.id", ondelete="CASCADE"), index=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("funnel_stage.id", ondelete="CASCADE"), index=True)

    team: Mapped[FunnelTeam] = relationship(back_populates="stage_links")
    stage: Mapped[FunnelStage] = relationship()


class FunnelIdea(db.Model):
    """An improvement idea for one stage: the expected lift in that stage's conversion, how sure, how hard."""

    __tablename__ = "funnel_idea"
    __table_args__ = (
        CheckConstraint("lift_centi_pp > 0 AND lift_centi_pp <= 10000", name="lift_in_range"),
        CheckConstraint("confidence >= 0 AND confidence <= 100", name="confidence_in_range"),
        Index("ix_funnel_idea_activity_stage", "activity_id", "stage_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("funnel_team.id", ondelete="SET NULL"), index=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("funnel_stage.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    # Expected lift of the stage's conversion in hundredths of a percentage point (250 = +2.5 pp).
    lift_centi_pp: Mapped[int] = mapped_column()
    confidence: Mapped[int] = mapped_column()  # 0–100 %
    effort: Mapped[str] = mapped_column(String(1))  # S / M / L
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    team: Mapped[FunnelTeam | None] = relationship()
    stage: Mapped[FunnelStage] = relationship()
    author: Mapped[User] = relationship()


class PlaybackDeal(db.Model):
    """A recent deal played back in a win/loss meeting."""

    __tablename__ = "playback_deal"
    __table_args__ = (UniqueConstraint("activity_id", "name", name="uq_playback_deal_activity_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    segment: Mapped[str] = mapped_column(String(60), default="")
    outcome: Mapped[str] = mapped_column(String(12))
    lead_source: Mapped[str] = mapped_column(String(80), default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    feedback: Mapped[list[DealFeedback]] = relationship(
        back_populates="deal", cascade="all, delete-orphan", order_by="DealFeedback.id"
    )

    @property
    def outcome_enum(self) -> DealOutcome:
        return DealOutcome(self.outcome)


class DealFeedback(db.Model):
    """One attendee's structured feedback on one deal (one per person per deal; editable)."""

    __tablename__ = "deal_feedback"
    __table_args__ = (
        UniqueConstraint("deal_id", "user_id", name="uq_deal_feedback_deal_user"),
        CheckConstraint("lead_quality >= 1 AND lead_quality <= 5", name="lead_quality_1_to_5"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("playback_deal.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    lead_quality: Mapped[int] = mapped_column()
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    deal: Mapped[PlaybackDeal] = relationship(back_populates="feedback")
    user: Mapped[User] = relationship()
    codes: Mapped[list[DealFeedbackCode]] = relationship(
        back_populates="feedback", cascade="all, delete-orphan", order_by="DealFeedbackCode.id"
    )


class DealFeedbackCode(db.Model):
    __tablename__ = "deal_feedback_code"
    __table_args__ = (UniqueConstraint("feedback_id", "reason_code_id", name="uq_deal_feedback_code_feedback_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    feedback_id: Mapped[int] = mapped_column(ForeignKey("deal_feedback.id", ondelete="CASCADE"), index=True)
    reason_code_id: Mapped[int] = mapped_column(ForeignKey("reason_code.id"), index=True)

    feedback: Mapped[DealFeedback] = relationship(back_populates="codes")
    reason_code: Mapped[ReasonCode] = relationship("ReasonCode")
