"""Demo funnel work: the numbers, loss reasons, mini-teams and ideas of the past Funnel Reality Check, and
the deal list (with a little early feedback) of the upcoming win/loss playback. Idempotent: a meeting
that already has a funnel, or deals, is left alone. Built through the services of ``program.reviews.funnel``.

The meetings themselves come from the meetings seed, found by their format: the latest past Funnel Reality
Check and the next upcoming win/loss playback.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from program.accounts.models import User
from program.activities.models import Activity, ActivityKind, ActivityStatus
from program.debriefs.models import ReasonCode
from program.extensions import db
from program.reviews.funnel import playback, services
from program.reviews.funnel import teams as mini_teams
from program.reviews.funnel.inputs import StageInput
from program.reviews.funnel.models import FunnelSnapshot, PlaybackDeal
from program.reviews.funnel.permissions import is_attendee
from program.reviews.models import ReviewMeeting

FUNNEL = [("Lead", 1240), ("MQL", 496), ("SQL", 119), ("Opportunity", 52), ("Won", 14)]
AVG_DEAL_CENTS = 2_400_000  # 24,000.00
STAGE_REASONS = {
    "Lead": [("lead_quality", "Wrong persona", 310), ("lead_quality", "Too early", 240)],
    "MQL": [("lead_quality", "No budget", 150), ("lead_quality", "Wrong segment", 90)],
    "SQL": [("loss_reason", "No decision", 38), ("loss_reason", "Product fit", 12)],
    "Opportunity": [("loss_reason", "Lost to competitor", 19), ("loss_reason", "Price", 13)],
}
# stage → ideas (title, lift in pp, confidence %, effort)
IDEAS = {
    "Lead": [
        ("Retire the webinar-only MQL trigger", "3", 70, "S"),
        ("Persona check on paid social forms", "2", 50, "M"),
    ],
    "MQL": [
        ("Weekly 15-minute rejected-SQL review with Demand Gen", "4", 60, "S"),
        ("Route MQLs to reps within one hour", "5", 45, "M"),
    ],
    "SQL": [
        ("Budget-holder question on the demo request form", "6", 55, "S"),
        ("Mutual action plan after the first demo", "4", 40, "L"),
    ],
    "Opportunity": [
        ("Proposal review with a second rep", "3", 65, "M"),
        ("Reference call offered to every Enterprise deal", "2.5", 70, "S"),
    ],
}
DEALS = [
    ("Northwind Traders renewal", "Mid-Market", "won", "Webinar"),
    ("Globex analytics", "Mid-Market", "lost", "Outbound"),
    ("Initech migration", "Mid-Market", "no_decision", "Webinar"),
    ("Umbrella Health pilot", "Enterprise", "won", "Referral"),
    ("Stark Logistics expansion", "Mid-Market", "lost", "Paid search"),
    ("Wayne Foods rollout", "Mid-Market", "won", "Event"),
    ("Hooli Cloud", "Mid-Market", "lost", "Webinar"),
    ("Vandelay Imports", "SMB", "no_decision", "Outbound"),
    ("Soylent Retail", "Mid-Market", "won", "Referral"),
    ("Tyrell Systems", "Enterprise", "lost", "Event"),
]
# deal → early feedback (lead quality, codes, note), given by the first invitees who said yes
FEEDBACK = {
    "Globex analytics": (2, ["Lost to competitor", "Price"], "Their incumbent matched our price in the last week."),
    "Hooli Cloud": (2, ["No decision"], "Webinar lead; nobody owned the problem."),
    "Northwind Traders renewal": (4, ["Saves time", "Integrates with their stack"], ""),
    "Wayne Foods rollout": (5, ["Peer recommendation"], "Came via their sister company."),
    "Stark Logistics expansion": (3, ["Price"], ""),
}


def _meeting(fmt: str, now: datetime, *, past: bool) -> Activity | None:
    """The latest past (or next upcoming) scheduled review meeting of this format."""
    stmt = select(Activity).where(
        Activity.kind == ActivityKind.REVIEW_MEETING.value, Activity.status == ActivityStatus.SCHEDULED.value
    )
    stmt = stmt.join(ReviewMeeting, ReviewMeeting.activity_id == Activity.id).where(ReviewMeeting.format == fmt)
    if past:
        stmt = stmt.where(Activity.starts_at < now).order_by(Activity.starts_at.desc(), Activity.id.desc())
    else:
        stmt = stmt.where(Activity.starts_at >= now).order_by(Activity.starts_at, Activity.id)
    return db.session.scalars(stmt.limit(1)).first()


def _code(category: str, label: str) -> ReasonCode | None:
    return db.session.scalar(select(ReasonCode).where(ReasonCode.category == category, ReasonCode.label == label))


def _seed_funnel(meeting: Activity, now: datetime) -> str:
    if db.session.scalar(select(FunnelSnapshot.id).where(FunnelSnapshot.activity_id == meeting.id)):
        return ", funnel check already seeded"
    host = meeting.host
    at = meeting.starts_at
    services.save_funnel(meeting, host, "Last quarter", AVG_DEAL_CENTS, [StageInput(n, c) for n, c in FUNNEL], at)
    view = services.funnel_view(services.snapshot_for(meeting.id))
    stage_ids = {s.name: s.id for s in view.stages}
    for stage, reasons in STAGE_REASONS.items():
        for category, label, count in reasons:
            code = _code(category, label)
            if code is not None and not code.retired:
                services.set_stage_reason(meeting, host, stage_ids[stage], code.id, count, at)
    teams: list[mini_teams.TeamView] = []
    if len(mini_teams.meeting_attendees(meeting.id)) >= 2:
        mini_teams.form_teams(meeting, host, at, seed="demo-frc")
        teams = mini_teams.teams_for(meeting.id)
    ideas = 0
    for stage, items in IDEAS.items():
        team = next((t for t in teams if any(name == stage for _, name in t.stages)), None)
        for n, (title, lift, confidence, effort) in enumerate(items):
            author = db.session.get(User, team.members[n % len(team.members)].user_id) if team else host
            services.add_idea(
                meeting,
                author,
                team_id=team.id if team else None,
                stage_id=stage_ids[stage],
                title=title,
                lift=lift,
                confidence=confidence,
                effort=effort,
                now=at,
            )
            ideas += 1
    return f", funnel check with {len(teams)} mini-teams and {ideas} ideas"


def _seed_deals(meeting: Activity, now: datetime) -> str:
    if db.session.scalar(select(func.count(PlaybackDeal.id)).where(PlaybackDeal.activity_id == meeting.id)):
        return ", playback deals already seeded"
    host = meeting.host
    deals = {
        name: playback.add_deal(meeting, host, name, segment, outcome, source, now)
        for name, segment, outcome, source in DEALS
    }
    givers = [p.user for p in meeting.participations if is_attendee(p) and p.rsvp == "yes"][:2]
    given = 0
    for i, (name, (quality, labels, note)) in enumerate(FEEDBACK.items()):
        if not givers:
            break
        deal = deals[name]
        codes = [c.id for c in (_code(deal.outcome_enum.code_category, label) for label in labels) if c is not None]
        playback.save_feedback(meeting, deal, givers[i % len(givers)], quality, codes, note, now)
        given += 1
    return f", {len(deals)} playback deals ({given} with feedback)"


def seed_funnel(now: datetime) -> str:
    """Seed the funnel work into the demo meetings that exist; returns a summary fragment."""
    summary = ""
    past = _meeting("funnel_reality_check", now, past=True)
    if past is not None:
        summary += _seed_funnel(past, now)
    upcoming = _meeting("win_loss_playback", now, past=False)
    if upcoming is not None:
        summary += _seed_deals(upcoming, now)
    db.session.flush()
    return summary
