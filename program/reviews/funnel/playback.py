"""The win/loss playback: the meeting's deal list (typed or imported from CSV), each attendee's feedback on a
deal, and the summary by reason code, lead source and segment.

Feedback is one entry per attendee per deal: lead quality 1–5, reason codes of the category the outcome calls
for (why-buy for won deals, loss reasons otherwise), free text. The facilitator keeps the deal list.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from program.accounts.models import User
from program.activities.models import Activity, Participation
from program.activities.services import lock_activity
from program.debriefs.models import CodeCategory, ReasonCode
from program.errors import NotAllowed, ValidationFailed
from program.extensions import db
from program.reviews.funnel.inputs import check_deal, parse_deals_csv
from program.reviews.funnel.models import DealFeedback, DealFeedbackCode, DealOutcome, PlaybackDeal
from program.reviews.funnel.permissions import can_give_feedback, require_edit, require_open
from program.reviews.funnel.services import reason_choices


def deal_names(activity_id: int) -> list[str]:
    return list(db.session.scalars(select(PlaybackDeal.name).where(PlaybackDeal.activity_id == activity_id)))


def add_deal(
    activity: Activity, actor: User, name: str, segment: str, outcome: str, lead_source: str, now: datetime
) -> PlaybackDeal:
    require_edit(actor, activity)
    deal, problems = check_deal(name, segment, outcome, lead_source)
    if problems:
        field_name, message = problems[0]
        raise ValidationFailed(message[0].upper() + message[1:], field=field_name)
    if deal.name.casefold() in {n.casefold() for n in deal_names(activity.id)}:
        raise ValidationFailed(f"“{deal.name}” is already in the list.", field="name")
    row = PlaybackDeal(
        activity_id=activity.id,
        name=deal.name,
        segment=deal.segment,
        outcome=deal.outcome,
        lead_source=deal.lead_source,
        created_by_id=actor.id,
        created_at=now,
    )
    db.session.add(row)
    db.session.flush()
    return row


def import_deals(activity: Activity, actor: User, content: str, now: datetime) -> list[PlaybackDeal]:
    """Every row of a deals CSV, or none of them (``InputProblems`` names each bad line)."""
    require_edit(actor, activity)
    lock_activity(activity.id)
    deals = parse_deals_csv(content, deal_names(activity.id))
    rows = [
        PlaybackDeal(
            activity_id=activity.id,
            name=d.name,
            segment=d.segment,
            outcome=d.outcome,
            lead_source=d.lead_source,
            created_by_id=actor.id,
            created_at=now,
        )
        for d in deals
    ]
    db.session.add_all(rows)
    db.session.flush()
    return rows


def get_deal(activity_id: int, deal_id: int) -> PlaybackDeal | None:
    deal = db.session.scalar(
        select(PlaybackDeal)
        .options(selectinload(PlaybackDeal.feedback).selectinload(DealFeedback.codes))
        .where(PlaybackDeal.id == deal_id, PlaybackDeal.activity_id == activity_id)
        .execution_options(populate_existing=True)
    )
    return deal


def delete_deal(activity: Activity, actor: User, deal: PlaybackDeal) -> None:
    require_edit(actor, activity)
    db.session.delete(deal)
    db.session.flush()


@dataclass(frozen=True)
class DealFilters:
    outcome: str = ""
    segment: str = ""
    lead_source: str = ""


def deals_query(activity_id: int, filters: DealFilters):
    stmt = select(PlaybackDeal).where(PlaybackDeal.activity_id == activity_id)
    if filters.outcome:
        stmt = stmt.where(PlaybackDeal.outcome == filters.outcome)
    if filters.segment:
        stmt = stmt.where(PlaybackDeal.segment == filters.segment)
    if filters.lead_source:
        stmt = stmt.where(PlaybackDeal.lead_source == filters.lead_source)
    return stmt.order_by(PlaybackDeal.name, PlaybackDeal.id)


def deal_facets(activity_id: int) -> tuple[list[str], list[str]]:
    """The segments and lead sources of the meeting's deals, for the filters."""
    rows = db.session.execute(
        select(PlaybackDeal.segment, PlaybackDeal.lead_source).where(PlaybackDeal.activity_id == activity_id)
    ).all()
    return sorted({r[0] for r in rows if r[0]}), sorted({r[1] for r in rows if r[1]})


def feedback_counts(deal_ids: Sequence[int], user: User) -> tuple[dict[int, int], set[int]]:
    """How many people gave feedback on each deal, and which deals this user has given it on."""
    if not deal_ids:
        return {}, set()
    counts = dict(
        db.session.execute(
            select(DealFeedback.deal_id, func.count(DealFeedback.id))
            .where(DealFeedback.deal_id.in_(deal_ids))
            .group_by(DealFeedback.deal_id)
        ).all()
    )
    mine = set(
        db.session.scalars(
            select(DealFeedback.deal_id).where(DealFeedback.deal_id.in_(deal_ids), DealFeedback.user_id == user.id)
        )
    )
    return counts, mine


def feedback_of(deal: PlaybackDeal, user: User) -> DealFeedback | None:
    return next((f for f in deal.feedback if f.user_id == user.id), None)


def save_feedback(
    activity: Activity,
    deal: PlaybackDeal,
    actor: User,
    lead_quality: int | None,
    code_ids: Sequence[int],
    note: str,
    now: datetime,
) -> DealFeedback:
    """Create or replace this attendee's feedback on a deal."""
    require_open(activity)
    participation = db.session.scalar(
        select(Participation).where(Participation.activity_id == activity.id, Participation.user_id == actor.id)
    )
    if not can_give_feedback(actor, activity, participation):
        raise NotAllowed("Only the meeting's attendees record feedback on its deals.")
    if lead_quality is None or not 1 <= lead_quality <= 5:
        raise ValidationFailed("Rate the lead quality from 1 to 5.", field="lead_quality")
    note = (note or "").strip()
    if len(note) > 2000:
        raise ValidationFailed("Keep the note under 2,000 characters.", field="note")
    existing = feedback_of(deal, actor)
    before = {c.reason_code_id for c in existing.codes} if existing else set()
    wanted = list(dict.fromkeys(code_ids))
    category = deal.outcome_enum.code_category
    allowed = {c.id for c in reason_choices((category,), before)}
    if any(cid not in allowed for cid in wanted):
        kind = "why-buy reasons" if category == CodeCategory.WHY_BUY.value else "loss reasons"
        raise ValidationFailed(f"Choose {kind}: this deal was {deal.outcome_enum.label.lower()}.", field="codes")
    if existing is None:
        existing = DealFeedback(deal_id=deal.id, user_id=actor.id, lead_quality=lead_quality, created_at=now)
        db.session.add(existing)
        deal.feedback.append(existing)
    existing.lead_quality = lead_quality
    existing.note = note
    existing.updated_at = now
    # Keep the rows of codes still chosen (the unique key would clash if they were deleted and re-added).
    existing.codes = [c for c in existing.codes if c.reason_code_id in wanted] + [
        DealFeedbackCode(reason_code_id=cid) for cid in wanted if cid not in before
    ]
    db.session.flush()
    return existing


@dataclass(frozen=True)
class ReasonTally:
    label: str
    category: str
    mentions: int
    deals: int
    share: Fraction | None  # of the mentions in its category
    retired: bool


@dataclass(frozen=True)
class GroupTally:
    label: str
    deals: int
    won: int
    lost: int
    no_decision: int
    feedback: int
    avg_lead_quality: Fraction | None

    @property
    def win_rate(self) -> Fraction | None:
        return Fraction(self.won, self.deals) if self.deals else None


@dataclass(frozen=True)
class DealSummary:
    deals: int
    feedback: int
    reasons: dict[str, list[ReasonTally]]  # category → tallies, most mentioned first
    by_lead_source: list[GroupTally]
    by_segment: list[GroupTally]
    notes: list[tuple[str, str, str]]  # (deal, outcome label, note) — unattributed


NOT_GIVEN = "(not given)"


def deal_summary(activity_id: int) -> DealSummary:
    """The meeting's deals and feedback, aggregated by reason code, lead source and segment."""
    deals = list(
        db.session.scalars(
            select(PlaybackDeal)
            .options(
                selectinload(PlaybackDeal.feedback)
                .selectinload(DealFeedback.codes)
                .joinedload(DealFeedbackCode.reason_code)
            )
            .where(PlaybackDeal.activity_id == activity_id)
            .order_by(PlaybackDeal.name)
            .execution_options(populate_existing=True)
        )
    )
    mentions: Counter = Counter()
    deals_per_code: dict[int, set[int]] = defaultdict(set)
    codes: dict[int, ReasonCode] = {}
    notes = []
    for deal in deals:
        for fb in deal.feedback:
            for c in fb.codes:
                mentions[c.reason_code_id] += 1
                deals_per_code[c.reason_code_id].add(deal.id)
                codes[c.reason_code_id] = c.reason_code
            if fb.note:
                notes.append((deal.name, deal.outcome_enum.label, fb.note))
    per_category: dict[str, int] = Counter()
    for cid, n in mentions.items():
        per_category[codes[cid].category] += n
    reasons: dict[str, list[ReasonTally]] = defaultdict(list)
    for cid, n in sorted(mentions.items(), key=lambda kv: (-kv[1], codes[kv[0]].position, codes[kv[0]].label)):
        code = codes[cid]
        reasons[code.category].append(
            ReasonTally(
                code.label,
                code.category,
                n,
                len(deals_per_code[cid]),
                Fraction(n, per_category[code.category]),
                code.retired,
            )
        )

    def tally(key) -> list[GroupTally]:
        groups: dict[str, list[PlaybackDeal]] = defaultdict(list)
        for deal in deals:
            groups[key(deal) or NOT_GIVEN].append(deal)
        out = []
        for label, members in groups.items():
            ratings = [fb.lead_quality for d in members for fb in d.feedback]
            out.append(
                GroupTally(
                    label,
                    len(members),
                    sum(d.outcome == DealOutcome.WON.value for d in members),
                    sum(d.outcome == DealOutcome.LOST.value for d in members),
                    sum(d.outcome == DealOutcome.NO_DECISION.value for d in members),
                    len(ratings),
                    Fraction(sum(ratings), len(ratings)) if ratings else None,
                )
            )
        return sorted(out, key=lambda g: (-g.deals, g.label == NOT_GIVEN, g.label))

    return DealSummary(
        deals=len(deals),
        feedback=sum(len(d.feedback) for d in deals),
        reasons=dict(reasons),
        by_lead_source=tally(lambda d: d.lead_source),
        by_segment=tally(lambda d: d.segment),
        notes=notes,
    )
