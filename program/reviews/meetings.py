"""Joint review meetings: the kind, scheduling, editing, notes, cancelling, and what the meeting pages read.

A meeting is an activity of kind ``review_meeting`` with no seat limit; its host is the facilitator and its
invitees are participations (``invitations``: invite, answer, attendance). Action items are in ``actions``,
the lead definition in ``lead_definitions``; the meeting's mail in ``mail``, called through the kind's hooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import joinedload

from program.accounts.models import User
from program.activities import services as core
from program.activities.kinds import KindInfo
from program.activities.models import Activity, ActivityKind, ActivityStatus, Participation, State
from program.activities.times import validate_time_window
from program.errors import InvalidTransition, NotAllowed, ValidationFailed
from program.extensions import db
from program.periods import local_today
from program.reviews import mail
from program.reviews.invitations import invite_resolved, resolve_invitees
from program.reviews.models import FORMAT_LABELS, ReviewMeeting, RsvpAnswer
from program.reviews.permissions import can_manage_meeting, can_schedule_meetings, sees_all_meetings

MAX_HOURS = 8


# --- the kind --------------------------------------------------------------------------------


def format_label(value: str) -> str:
    return FORMAT_LABELS.get(value, value)


def meeting_summary(activity: Activity, reveal: bool) -> str:
    """ "Funnel Reality Check: Q4 pipeline" — the title in mail, calendars and lists."""
    meeting = activity.meeting
    return f"{format_label(meeting.format) if meeting else 'Review meeting'}: {activity.title}"


# Registered by ``program.reviews.init_app``. Invitations, updates and cancellations for the invited (not yet
# booked) go out from the kind's hooks; the core's mail covers the booked.
MEETING_KIND = KindInfo(
    summary=meeting_summary,
    endpoint="reviews.detail",
    reveals_private=lambda activity, viewer: True,
    own_attendance=True,
    on_transition=mail.on_meeting_participation,
    on_activity_changed=mail.on_meeting_changed,
)


def today_for(user: User, now: datetime) -> date:
    """The date it is for this person now (their timezone)."""
    return local_today(now, user.timezone or "UTC")


# --- scheduling ------------------------------------------------------------------------------


@dataclass
class MeetingData:
    title: str
    format: str
    day: date | None
    start: time | None
    end: time | None
    timezone: str
    location: str = ""
    video_url: str = ""
    agenda: str = ""


def _validate(data: MeetingData, now: datetime, existing: Activity | None) -> tuple[dict[str, str], dict]:
    errors: dict[str, str] = {}
    values: dict = {}
    data.title = (data.title or "").strip()
    if not data.title:
        errors["title"] = "Give the meeting a title."
    elif len(data.title) > 200:
        errors["title"] = "At most 200 characters."
    if data.format not in FORMAT_LABELS:
        errors["format"] = "Choose the meeting's format."
    time_errors, starts, ends = validate_time_window(
        data.day,
        data.start,
        data.end,
        data.timezone,
        now,
        noun="meeting",
        max_hours=MAX_HOURS,
        current_start=existing.starts_at if existing is not None else None,
    )
    errors.update(time_errors)
    if starts is not None:
        values["starts_at"], values["ends_at"] = starts, ends
    data.location = (data.location or "").strip()
    data.video_url = (data.video_url or "").strip()
    if not data.location and not data.video_url:
        errors["location"] = "Give a room or address, or a video link."
    if data.video_url:
        parts = urlsplit(data.video_url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            errors["video_url"] = "Give a full link starting with https://."
    data.agenda = (data.agenda or "").strip()
    return errors, values


def schedule_meeting(
    actor: User,
    data: MeetingData,
    now: datetime,
    *,
    people: list[int] | tuple[int, ...] = (),
    teams: list[int] | tuple[int, ...] = (),
    departments: list[int] | tuple[int, ...] = (),
) -> Activity:
    """A leader, HR or an admin schedules a meeting and facilitates it; the invitees get an invitation each."""
    if not can_schedule_meetings(actor):
        raise NotAllowed("Only leaders, HR and admins schedule review meetings.")
    errors, values = _validate(data, now, None)
    invitees: list[tuple[User, str]] = []
    try:
        invitees = resolve_invitees(people, teams, departments)
    except ValidationFailed as exc:
        errors.update(getattr(exc, "errors", {}))
    if errors:
        raise ValidationFailed("Please correct the marked fields.", errors=errors)
    starts_at = values["starts_at"]
    activity = Activity(
        kind=ActivityKind.REVIEW_MEETING.value,
        title=data.title,
        host=actor,
        created_by=actor,
        starts_at=starts_at,
        ends_at=values["ends_at"],
        timezone=data.timezone,
        location=data.location,
        video_url=data.video_url,
        briefing=data.agenda,
        seats=None,
        booking_cutoff_at=starts_at,  # no booking: answers close at the start
        created_at=now,
        updated_at=now,
    )
    db.session.add(activity)
    db.session.flush()
    db.session.add(ReviewMeeting(activity=activity, format=data.format, agenda=data.agenda))
    db.session.flush()
    invite_resolved(activity, actor, invitees, now)
    return activity


def meeting_data_from(activity: Activity) -> MeetingData:
    zone = ZoneInfo(activity.timezone)
    start, end = activity.starts_at.astimezone(zone), activity.ends_at.astimezone(zone)
    return MeetingData(
        title=activity.title,
        format=activity.meeting.format,
        day=start.date(),
        start=start.time().replace(tzinfo=None),
        end=end.time().replace(tzinfo=None),
        timezone=activity.timezone,
        location=activity.location,
        video_url=activity.video_url,
        agenda=activity.meeting.agenda,
    )


def _check_open(activity: Activity, now: datetime, what: str) -> None:
    if activity.is_cancelled:
        raise InvalidTransition(f"This meeting was cancelled; it can't {what}.")
    if activity.has_started(now):
        raise InvalidTransition(f"This meeting has started; it can't {what}.")


def update_meeting(actor: User, activity: Activity, data: MeetingData, now: datetime) -> Activity:
    """The facilitator side edits a meeting before it starts. A new time or place sends everyone invited an
    updated invitation (SEQUENCE + 1): the booked ones through the core's mail, the invited ones through ours."""
    if not can_manage_meeting(actor, activity):
        raise NotAllowed("You can't edit this meeting.")
    _check_open(activity, now, "be edited")
    activity = core.lock_activity(activity.id)
    errors, values = _validate(data, now, activity)
    if errors:
        raise ValidationFailed("Please correct the marked fields.", errors=errors)
    time_changed = values["starts_at"] != activity.starts_at or values["ends_at"] != activity.ends_at
    place_changed = data.location != activity.location or data.video_url != activity.video_url
    activity.title = data.title
    activity.starts_at, activity.ends_at = values["starts_at"], values["ends_at"]
    activity.booking_cutoff_at = values["starts_at"]
    activity.timezone = data.timezone
    activity.location, activity.video_url = data.location, data.video_url
    activity.briefing = data.agenda
    activity.updated_at = now
    activity.meeting.format = data.format
    activity.meeting.agenda = data.agenda
    db.session.flush()
    core.reschedule_or_update(activity, actor, now, time_changed=time_changed, place_changed=place_changed)
    return activity


def update_notes(actor: User, activity: Activity, notes: str, now: datetime) -> ReviewMeeting:
    """The facilitator side keeps the notes — before, during and after the meeting."""
    if not can_manage_meeting(actor, activity):
        raise NotAllowed("Only the facilitator keeps the notes.")
    if activity.is_cancelled:
        raise InvalidTransition("This meeting was cancelled.")
    notes = (notes or "").strip()
    if len(notes) > 20000:
        raise ValidationFailed("Notes can be at most 20,000 characters.", field="notes")
    meeting = activity.meeting
    meeting.notes = notes
    meeting.notes_updated_at = now
    meeting.notes_updated_by_id = actor.id
    db.session.flush()
    return meeting


def cancel_meeting(actor: User, activity: Activity, reason: str, now: datetime) -> list[Participation]:
    """Cancel for everyone (the core's rule: before the start, by the facilitator side); all invitees are told."""
    if not can_manage_meeting(actor, activity):
        raise NotAllowed("You can't cancel this meeting.")
    return core.cancel_activity(activity, actor, reason, now)


# --- reading ---------------------------------------------------------------------------------


def meeting_or_none(activity_id: int) -> Activity | None:
    """The review meeting (with its facilitator loaded), or None when there is no such meeting."""
    activity = db.session.scalar(select(Activity).options(joinedload(Activity.host)).where(Activity.id == activity_id))
    if activity is None or activity.kind != ActivityKind.REVIEW_MEETING.value or activity.meeting is None:
        return None
    return activity


def meetings_stmt(viewer: User, now: datetime, *, show: str = "upcoming", fmt: str = ""):
    """The meetings this person may see, upcoming (soonest first, including running ones) or past (latest first)."""
    stmt = (
        select(Activity)
        .join(ReviewMeeting, ReviewMeeting.activity_id == Activity.id)
        .options(joinedload(Activity.host))
        .where(Activity.kind == ActivityKind.REVIEW_MEETING.value)
    )
    if not sees_all_meetings(viewer):
        mine = select(Participation.activity_id).where(Participation.user_id == viewer.id)
        reports = select(User.id).where(User.manager_id == viewer.id)
        stmt = stmt.where(or_(Activity.host_id == viewer.id, Activity.id.in_(mine), Activity.host_id.in_(reports)))
    if fmt in FORMAT_LABELS:
        stmt = stmt.where(ReviewMeeting.format == fmt)
    if show == "past":
        return stmt.where(Activity.ends_at < now).order_by(Activity.starts_at.desc(), Activity.id.desc())
    return stmt.where(Activity.ends_at >= now).order_by(Activity.starts_at, Activity.id)


def participations_for(user: User, activity_ids: list[int]) -> dict[int, Participation]:
    if not activity_ids:
        return {}
    rows = db.session.scalars(
        select(Participation).where(Participation.user_id == user.id, Participation.activity_id.in_(activity_ids))
    )
    return {p.activity_id: p for p in rows}


@dataclass(frozen=True)
class AnswerCounts:
    invited: int = 0
    yes: int = 0
    maybe: int = 0
    no: int = 0
    attended: int = 0


def answer_counts(activity_ids: list[int]) -> dict[int, AnswerCounts]:
    """Invited / yes / maybe / no / attended per meeting, in one query. Answers count as given, so a past
    meeting still shows who had said yes after attendance was taken."""
    if not activity_ids:
        return {}
    live = Participation.state.in_(
        [State.INVITED.value, State.BOOKED.value, State.DECLINED.value, State.ATTENDED.value, State.NO_SHOW.value]
    )

    def count_if(cond):
        return func.sum(case((cond, 1), else_=0))

    rows = db.session.execute(
        select(
            Participation.activity_id,
            count_if(live),
            count_if(live & (Participation.rsvp == RsvpAnswer.YES.value)),
            count_if(live & (Participation.rsvp == RsvpAnswer.MAYBE.value)),
            count_if(Participation.state == State.DECLINED.value),
            count_if(Participation.state == State.ATTENDED.value),
        )
        .where(Participation.activity_id.in_(activity_ids))
        .group_by(Participation.activity_id)
    ).all()
    counts = {aid: AnswerCounts() for aid in activity_ids}
    for aid, invited, yes, maybe, no, attended in rows:
        counts[aid] = AnswerCounts(int(invited or 0), int(yes or 0), int(maybe or 0), int(no or 0), int(attended or 0))
    return counts


def invitees(activity: Activity) -> list[Participation]:
    return list(
        db.session.scalars(
            select(Participation)
            .join(User, Participation.user_id == User.id)
            .options(joinedload(Participation.user).joinedload(User.team))
            .where(Participation.activity_id == activity.id)
            .order_by(User.name, Participation.id)
        )
    )


def previous_meeting(activity: Activity) -> Activity | None:
    """The latest earlier meeting of the same format that took place (not cancelled)."""
    return db.session.scalar(
        select(Activity)
        .join(ReviewMeeting, ReviewMeeting.activity_id == Activity.id)
        .where(
            ReviewMeeting.format == activity.meeting.format,
            Activity.starts_at < activity.starts_at,
            Activity.id != activity.id,
            Activity.status == ActivityStatus.SCHEDULED.value,
        )
        .order_by(Activity.starts_at.desc(), Activity.id.desc())
        .limit(1)
    )
