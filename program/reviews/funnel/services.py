"""The funnel of a meeting and its ideas: finding the meeting and what the viewer may do, the stages with
their conversions and loss reasons (saved all-or-nothing), and the teams' ideas for their stages.

Stages keep their identity by name, so ideas, team assignments and loss reasons follow them when the funnel
is entered again. Mini-teams are in ``teams``, the ranking in ``sensitivity``, the deals in ``playback``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from program.accounts.models import User
from program.activities.models import Activity, ActivityKind, Participation
from program.activities.services import lock_activity
from program.debriefs.models import CodeCategory, ReasonCode
from program.errors import NotAllowed, ValidationFailed
from program.extensions import db
from program.reviews.funnel.inputs import InputProblems, Problem, StageInput, parse_lift
from program.reviews.funnel.maths import conversions
from program.reviews.funnel.models import (
    Effort,
    FunnelIdea,
    FunnelSnapshot,
    FunnelStage,
    FunnelStageReason,
    FunnelTeam,
    FunnelTeamMember,
)
from program.reviews.funnel.permissions import (
    Viewer,
    can_add_idea,
    can_edit_funnel,
    can_give_feedback,
    can_view_funnel,
    require_edit,
    require_open,
)

STAGE_REASON_CATEGORIES = (CodeCategory.LOSS_REASON.value, CodeCategory.LEAD_QUALITY.value)
FUNNEL_FORMATS = ("funnel_reality_check", "win_loss_playback")


def get_meeting(activity_id: int) -> Activity | None:
    """A review meeting whose format has funnel or playback work (with its host loaded), or None."""
    activity = db.session.scalar(
        select(Activity)
        .options(joinedload(Activity.host))
        .where(Activity.id == activity_id, Activity.kind == ActivityKind.REVIEW_MEETING.value)
    )
    meeting = getattr(activity, "meeting", None) if activity is not None else None
    if meeting is not None and meeting.format not in FUNNEL_FORMATS:
        return None  # a lead-definition session or an "other" meeting has no funnel pages
    return activity


def viewer_for(user: User, activity: Activity) -> Viewer:
    participation = db.session.scalar(
        select(Participation).where(Participation.activity_id == activity.id, Participation.user_id == user.id)
    )
    team_id = db.session.scalar(
        select(FunnelTeamMember.team_id).where(
            FunnelTeamMember.activity_id == activity.id, FunnelTeamMember.user_id == user.id
        )
    )
    return Viewer(
        user=user,
        participation=participation,
        team_id=team_id,
        can_view=can_view_funnel(user, activity, participation),
        can_edit=can_edit_funnel(user, activity),
        can_give_feedback=can_give_feedback(user, activity, participation),
    )


# --- the funnel --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReasonView:
    id: int
    label: str
    category: str
    count: int
    retired: bool


@dataclass(frozen=True)
class StageView:
    id: int
    position: int
    name: str
    entering: int
    conversion: Fraction | None  # None for the last stage
    unknown: bool  # nobody entered it, so its conversion is unknown (counted as 0)
    lost: int | None
    lost_share: Fraction | None
    reasons: tuple[ReasonView, ...]
    is_last: bool


@dataclass(frozen=True)
class FunnelView:
    snapshot_id: int
    period_label: str
    avg_value_cents: int
    stages: tuple[StageView, ...]
    team_seed: str
    updated_at: datetime

    @property
    def transition_stages(self) -> tuple[StageView, ...]:
        return self.stages[:-1]

    @property
    def overall(self) -> Fraction | None:
        """The share of the first stage's prospects that reach the last stage."""
        first = self.stages[0].entering
        return Fraction(self.stages[-1].entering, first) if first else None


def snapshot_for(activity_id: int) -> FunnelSnapshot | None:
    return db.session.scalar(
        select(FunnelSnapshot)
        .options(
            selectinload(FunnelSnapshot.stages)
            .selectinload(FunnelStage.reasons)
            .joinedload(FunnelStageReason.reason_code)
        )
        .where(FunnelSnapshot.activity_id == activity_id)
        .execution_options(populate_existing=True)
    )


def funnel_view(snapshot: FunnelSnapshot | None) -> FunnelView | None:
    """The funnel with each stage's conversion, loss and loss reasons."""
    if snapshot is None or not snapshot.stages:
        return None
    stages = snapshot.stages
    convs = conversions([s.entering for s in stages])
    views = []
    for i, stage in enumerate(stages):
        last = i == len(stages) - 1
        unknown = not last and stage.entering == 0
        lost = None if last else stage.entering - stages[i + 1].entering
        views.append(
            StageView(
                id=stage.id,
                position=i,
                name=stage.name,
                entering=stage.entering,
                conversion=None if last or unknown else convs[i],
                unknown=unknown,
                lost=lost,
                lost_share=None if last or unknown else 1 - convs[i],
                reasons=tuple(
                    ReasonView(r.id, r.reason_code.label, r.reason_code.category, r.count, r.reason_code.retired)
                    for r in stage.reasons
                ),
                is_last=last,
            )
        )
    return FunnelView(
        snapshot.id,
        snapshot.period_label,
        snapshot.avg_deal_value_cents,
        tuple(views),
        snapshot.team_seed,
        snapshot.updated_at,
    )


def save_funnel(
    activity: Activity,
    actor: User,
    period_label: str,
    avg_value_cents: int,
    stages: Sequence[StageInput],
    now: datetime,
) -> FunnelSnapshot:
    """Replace the meeting's funnel with these stages (already checked by ``check_stages``).

    Stages keep their identity by name, so ideas, team assignments and loss reasons follow them.
    A stage that has ideas can't be removed or become the last stage (it would lose its
    conversion), and a loss reason can't count more prospects than are now lost at its stage.
    """
    require_edit(actor, activity)
    activity = lock_activity(activity.id)
    if len(stages) < 2:
        raise ValidationFailed("Give at least two stages.")
    if avg_value_cents < 0:
        raise ValidationFailed("The average deal value can't be negative.", field="avg_deal_value")
    snapshot = snapshot_for(activity.id)
    if snapshot is None:
        snapshot = FunnelSnapshot(activity_id=activity.id, created_at=now)
        db.session.add(snapshot)
    existing = {s.name.casefold(): s for s in snapshot.stages}
    ideas_per_stage = dict(
        db.session.execute(
            select(FunnelIdea.stage_id, func.count(FunnelIdea.id))
            .where(FunnelIdea.activity_id == activity.id)
            .group_by(FunnelIdea.stage_id)
        ).all()
    )
    wanted = {s.name.casefold() for s in stages}
    problems = []
    for key, stage in existing.items():
        if key not in wanted and ideas_per_stage.get(stage.id):
            problems.append(
                f"“{stage.name}” has {ideas_per_stage[stage.id]} idea(s); delete them before removing the stage."
            )
    last = existing.get(stages[-1].name.casefold())
    if last is not None and ideas_per_stage.get(last.id):
        problems.append(f"“{last.name}” has ideas, so it can't be the last stage (the last stage has no conversion).")
    for i, item in enumerate(stages):
        stage = existing.get(item.name.casefold())
        if stage is None or not stage.reasons:
            continue
        lost = 0 if i == len(stages) - 1 else item.entering - stages[i + 1].entering
        too_many = [r for r in stage.reasons if r.count > lost]
        if too_many:
            problems.append(
                f"“{stage.name}” would lose {lost:,} prospect(s) but its loss reason "
                f"“{too_many[0].reason_code.label}” counts {too_many[0].count:,}; lower or remove it first."
            )
    if problems:
        raise InputProblems([Problem(None, None, p) for p in problems])
    kept = []
    for position, item in enumerate(stages):
        stage = existing.get(item.name.casefold())
        if stage is None:
            stage = FunnelStage(name=item.name, position=position, entering=item.entering)
        stage.name, stage.position, stage.entering = item.name, position, item.entering
        kept.append(stage)
    snapshot.stages = kept  # removed stages go (delete-orphan), with their team assignments
    snapshot.period_label = period_label.strip()[:80]
    snapshot.avg_deal_value_cents = avg_value_cents
    snapshot.updated_by_id = actor.id
    snapshot.updated_at = now
    db.session.flush()
    return snapshot


def reason_choices(category_filter: Sequence[str], keep_ids: Iterable[int] = ()) -> list[ReasonCode]:
    """Codes of these categories in codebook order: the active ones, and retired ones already chosen."""
    keep = list(keep_ids)
    stmt = select(ReasonCode).where(ReasonCode.category.in_(list(category_filter)))
    stmt = (
        stmt.where((ReasonCode.retired.is_(False)) | (ReasonCode.id.in_(keep)))
        if keep
        else stmt.where(ReasonCode.retired.is_(False))
    )
    order = {c: i for i, c in enumerate(category_filter)}
    codes = list(db.session.scalars(stmt.order_by(ReasonCode.position, ReasonCode.id)))
    return sorted(codes, key=lambda c: order.get(c.category, 99))


def set_stage_reason(
    activity: Activity, actor: User, stage_id: int, reason_code_id: int, count: int, now: datetime
) -> FunnelStageReason:
    """Record that ``count`` prospects were lost at a stage for a reason (replacing an earlier count
    for the same code). Loss reasons and lead-quality codes only; never more than were lost there."""
    require_edit(actor, activity)
    lock_activity(activity.id)
    view = funnel_view(snapshot_for(activity.id))
    stage = next((s for s in view.stages if s.id == stage_id), None) if view else None
    if stage is None:
        raise ValidationFailed("Choose a stage of this funnel.", field="stage_id")
    code = db.session.get(ReasonCode, reason_code_id)
    if code is None or code.category not in STAGE_REASON_CATEGORIES:
        raise ValidationFailed("Choose a loss reason or a lead-quality code.", field="reason_code_id")
    if code.retired:
        raise ValidationFailed(f"“{code.label}” is retired from the codebook.", field="reason_code_id")
    if stage.is_last:
        raise ValidationFailed(f"Nobody is lost at “{stage.name}”: it is the last stage.", field="stage_id")
    if count < 1:
        raise ValidationFailed("Count at least one prospect.", field="count")
    if count > (stage.lost or 0):
        raise ValidationFailed(f"Only {stage.lost:,} prospect(s) were lost at “{stage.name}”.", field="count")
    stage_row = db.session.get(FunnelStage, stage_id)
    row = next((r for r in stage_row.reasons if r.reason_code_id == reason_code_id), None)
    if row is None:
        row = FunnelStageReason(reason_code_id=reason_code_id, count=count, reason_code=code)
        stage_row.reasons.append(row)
    row.count = count
    db.session.flush()
    return row


def remove_stage_reason(activity: Activity, actor: User, reason_id: int) -> None:
    require_edit(actor, activity)
    row = db.session.scalar(
        select(FunnelStageReason)
        .join(FunnelStage, FunnelStage.id == FunnelStageReason.stage_id)
        .join(FunnelSnapshot, FunnelSnapshot.id == FunnelStage.snapshot_id)
        .where(FunnelStageReason.id == reason_id, FunnelSnapshot.activity_id == activity.id)
    )
    if row is None:
        raise ValidationFailed("That loss reason is not on this funnel.")
    row.stage.reasons.remove(row)  # delete-orphan: removed from the stage and from the database
    db.session.flush()


# --- ideas -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdeaView:
    id: int
    title: str
    stage_id: int
    stage_name: str
    team_id: int | None
    team_name: str
    lift_centi_pp: int
    confidence: int
    effort: str
    author_id: int
    author_name: str


def ideas_for(activity_id: int) -> list[IdeaView]:
    ideas = db.session.scalars(
        select(FunnelIdea)
        .options(joinedload(FunnelIdea.stage), joinedload(FunnelIdea.team), joinedload(FunnelIdea.author))
        .where(FunnelIdea.activity_id == activity_id)
        .order_by(FunnelIdea.id)
    )
    return [
        IdeaView(
            i.id,
            i.title,
            i.stage_id,
            i.stage.name,
            i.team_id,
            i.team.name if i.team else "Facilitator",
            i.lift_centi_pp,
            i.confidence,
            i.effort,
            i.author_id,
            i.author.name,
        )
        for i in ideas
    ]


def add_idea(
    activity: Activity,
    actor: User,
    *,
    team_id: int | None,
    stage_id: int,
    title: str,
    lift: Decimal | str | None,
    confidence: int | None,
    effort: str,
    now: datetime,
) -> FunnelIdea:
    """A team's idea for one of its stages (the facilitator may add one for any team and stage)."""
    require_open(activity)
    own_team = db.session.scalar(
        select(FunnelTeamMember.team_id).where(
            FunnelTeamMember.activity_id == activity.id, FunnelTeamMember.user_id == actor.id
        )
    )
    facilitator = can_edit_funnel(actor, activity)
    if team_id is None and not facilitator:
        team_id = own_team
    if not can_add_idea(actor, activity, own_team, team_id):
        raise NotAllowed("Only members of a team (and the facilitator) add its ideas.")
    team = db.session.get(FunnelTeam, team_id) if team_id is not None else None
    if team_id is not None and (team is None or team.activity_id != activity.id):
        raise ValidationFailed("Choose one of this meeting's teams.", field="team_id")
    snapshot = snapshot_for(activity.id)
    stages = snapshot.stages if snapshot else []
    stage = next((s for s in stages if s.id == stage_id), None)
    if stage is None:
        raise ValidationFailed("Choose a stage of this funnel.", field="stage_id")
    if stage is stages[-1]:
        raise ValidationFailed(f"“{stage.name}” is the last stage: it has no conversion to lift.", field="stage_id")
    if not facilitator and team is not None and stage_id not in {link.stage_id for link in team.stage_links}:
        raise ValidationFailed(f"“{stage.name}” is not one of {team.name}'s stages.", field="stage_id")
    title = (title or "").strip()
    if not title:
        raise ValidationFailed("Say what the idea is.", field="title")
    if len(title) > 200:
        raise ValidationFailed("Keep the idea under 200 characters.", field="title")
    centi = parse_lift(lift)
    if confidence is None or not 0 <= confidence <= 100:
        raise ValidationFailed("Give a confidence between 0 and 100 %.", field="confidence")
    if effort not in {e.value for e in Effort}:
        raise ValidationFailed("Choose an effort: S, M or L.", field="effort")
    idea = FunnelIdea(
        activity_id=activity.id,
        team_id=team_id,
        stage_id=stage_id,
        title=title,
        lift_centi_pp=centi,
        confidence=confidence,
        effort=effort,
        author_id=actor.id,
        created_at=now,
    )
    db.session.add(idea)
    db.session.flush()
    return idea


def delete_idea(activity: Activity, actor: User, idea_id: int) -> None:
    """The author, a member of the idea's team, or the facilitator removes an idea."""
    require_open(activity)
    idea = db.session.get(FunnelIdea, idea_id)
    if idea is None or idea.activity_id != activity.id:
        raise ValidationFailed("That idea is not in this meeting.")
    own_team = db.session.scalar(
        select(FunnelTeamMember.team_id).where(
            FunnelTeamMember.activity_id == activity.id, FunnelTeamMember.user_id == actor.id
        )
    )
    if not (idea.author_id == actor.id or can_add_idea(actor, activity, own_team, idea.team_id)):
        raise NotAllowed("Only its author, its team or the facilitator can delete an idea.")
    db.session.delete(idea)
    db.session.flush()
