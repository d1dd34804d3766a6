"""Reviews: meetings scheduled through the service (``schedule``, ``facilitator``, ``place``) and funnel
meetings made directly as rows (``make_meeting``), with the funnel helpers (``save``, ``stage_id``, ``code``)
and a deals CSV."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from program.activities.models import Activity, Participation
from program.debriefs.models import ReasonCode
from program.extensions import db
from program.reviews import meetings
from program.reviews.funnel import inputs, services
from tests.conftest import FIXED_NOW

# --- meetings ------------------------------------------------------------------------------------


def schedule(
    host,
    *,
    starts_in=timedelta(days=3),
    hours=1,
    fmt="funnel_reality_check",
    title="Q4 pipeline",
    people=(),
    teams=(),
    departments=(),
    tz="Europe/London",
    now=FIXED_NOW,
):
    """A meeting scheduled through the service; a past one is scheduled a week before it started."""
    start = (now + starts_in).astimezone(ZoneInfo(tz))
    end = start + timedelta(hours=hours)
    data = meetings.MeetingData(
        title=title,
        format=fmt,
        day=start.date(),
        start=start.time().replace(tzinfo=None),
        end=end.time().replace(tzinfo=None),
        timezone=tz,
        location="Board room",
        agenda="1. The funnel",
    )
    scheduled_at = now if start > now else start - timedelta(days=7)
    activity = meetings.schedule_meeting(
        host,
        data,
        scheduled_at,
        people=[u.id for u in people],
        teams=[t.id for t in teams],
        departments=[d.id for d in departments],
    )
    db.session.flush()
    return activity


def place(activity, user) -> Participation:
    return db.session.scalar(
        select(Participation).where(Participation.activity_id == activity.id, Participation.user_id == user.id)
    )


def facilitator(make, **kw):
    return make.user(role="leader", department=kw.pop("department", "Marketing"), **kw)


# --- the funnel -------------------------------------------------------------------------------

DEFAULT_FUNNEL = [("Lead", 1000), ("MQL", 400), ("SQL", 100), ("Opportunity", 40), ("Won", 10)]


def make_meeting(
    make,
    now,
    *,
    host=None,
    people=(),
    state="attended",
    rsvp="yes",
    starts_in=timedelta(hours=-2),
    title="Funnel reality check",
    kind="review_meeting",
):
    """A review meeting hosted by ``host`` (a marketing leader by default) with ``people`` as participants,
    each in ``state`` — or give (user, state, rsvp) tuples."""
    host = host or make.user(role="leader", department="Marketing")
    start = now + starts_in
    activity = Activity(
        kind=kind,
        title=title,
        host_id=host.id,
        created_by_id=host.id,
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        timezone="Europe/London",
        seats=None,
        booking_cutoff_at=start,
        created_at=now - timedelta(days=10),
    )
    db.session.add(activity)
    db.session.flush()
    for entry in people:
        user, st, answer = entry if isinstance(entry, tuple) else (entry, state, rsvp)
        db.session.add(
            Participation(
                activity_id=activity.id, user_id=user.id, state=st, rsvp=answer, state_changed_at=now, created_at=now
            )
        )
    db.session.flush()
    return activity


def save(activity, actor, stages=DEFAULT_FUNNEL, avg_cents=500_000, now=None, period="Q3 2026"):
    return services.save_funnel(
        activity, actor, period, avg_cents, [inputs.StageInput(n, c) for n, c in stages], now or FIXED_NOW
    )


def code(label: str, category: str) -> ReasonCode:
    return db.session.scalar(select(ReasonCode).where(ReasonCode.label == label, ReasonCode.category == category))


def stage_id(activity, name: str) -> int:
    view = services.funnel_view(services.snapshot_for(activity.id))
    return next(s.id for s in view.stages if s.name == name)


DEALS_CSV = (
    "deal,segment,outcome,lead_source\n"
    "Acme,Enterprise,won,Webinar\n"
    "Globex,Enterprise,lost,Outbound\n"
    "Initech,SMB,no decision,Webinar\n"
    "Hooli,SMB,lost,\n"
)
