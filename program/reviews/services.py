"""Joint review meetings: schedule, invite, RSVP, attendance, notes, action items, and the lead definition.

A meeting is an activity of kind ``review_meeting`` with no seat limit; its host is the facilitator and its
invitees are participations. The participation ladder for a meeting:

- invited (``INVITED``): on the list, no answer yet, or answered *maybe* (``rsvp == "maybe"``);
- answered *yes* → ``BOOKED`` (it is on their calendar feed and dashboard, like a booked seat);
- answered *no* → ``DECLINED``;
- after the start the facilitator marks attended / no-show. Someone who never answered (or said no and came
  anyway) goes straight from invited (declined) to attended — there is no detour through booked, so nobody
  gets a "booked" mail after the meeting. Attendance creates the debrief task (the debriefs' subscriber).

Every change is a history row through the core's ``transition`` (or, for a first invitation, a row from
nothing to invited) and fires ``participation_changed``; mail subscribes in ``program.notify.meeting_mail``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from program.accounts.models import Department, Team, User
from program.activities import services as core
from program.activities.kinds import KindInfo, register_kind
from program.activities.models import (
    Activity,
    ActivityKind,
    ActivityStatus,
    Participation,
    ParticipationEvent,
    State,
)
from program.activities.signals import participation_changed
from program.errors import InvalidTransition, NotAllowed, NotFound, ValidationFailed
from program.extensions import db
from program.reviews.models import (
    FORMAT_LABELS,
    ActionItem,
    ActionStatus,
    LeadDefinition,
    MeetingFormat,
    ReviewMeeting,
    RsvpAnswer,
)
from program.reviews.permissions import (
    can_add_action,
    can_edit_action,
    can_manage_meeting,
    can_record_lead_definition,
    can_schedule_meetings,
    can_take_attendance,
    can_update_action_status,
    sees_all_meetings,
    signoff_side,
)

MAX_HOURS = 8
INVITABLE_FUNCTIONS = ("sales", "marketing")
RSVP_STATES = {
    RsvpAnswer.YES.value: State.BOOKED,
    RsvpAnswer.NO.value: State.DECLINED,
    RsvpAnswer.MAYBE.value: State.INVITED,
}
# States from which an invitee may (still) answer, and from which a new invitation re-opens the place.
ANSWERABLE = (State.INVITED.value, State.BOOKED.value, State.DECLINED.value, State.CANCELLED_BY_USER.value)
REINVITABLE = (State.DECLINED.value, State.CANCELLED_BY_USER.value)
MARKABLE = (State.INVITED.value, State.BOOKED.value, State.DECLINED.value, State.ATTENDED.value, State.NO_SHOW.value)


# --- the kind --------------------------------------------------------------------------------


def format_label(value: str) -> str:
    return FORMAT_LABELS.get(value, value)


def meeting_summary(activity: Activity, reveal: bool) -> str:
    """"Funnel Reality Check: Q4 pipeline" — the title in mail, calendars and lists."""
    meeting = activity.meeting
    return f"{format_label(meeting.format) if meeting else 'Review meeting'}: {activity.title}"


register_kind(
    ActivityKind.REVIEW_MEETING.value,
    KindInfo(summary=meeting_summary, endpoint="reviews.detail", reveals_private=lambda activity, viewer: True,
             own_attendance=True),
)


def _raise(errors: dict[str, str]) -> None:
    exc = ValidationFailed("Please correct the marked fields.")
    exc.errors = errors  # type: ignore[attr-defined]
    raise exc


def today_for(user: User, now: datetime) -> date:
    """The date it is for this person now (their timezone)."""
    return now.astimezone(ZoneInfo(user.timezone or "UTC")).date()


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
    time_errors, starts, ends = core.validate_time_window(
        data.day, data.start, data.end, data.timezone, now, noun="meeting", max_hours=MAX_HOURS,
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
        _raise(errors)
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
    _invite_resolved(activity, actor, invitees, now)
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
        _raise(errors)
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


# --- invitations -----------------------------------------------------------------------------


def _invitable_people_stmt():
    return (
        select(User)
        .join(Department, User.department_id == Department.id)
        .where(User.active.is_(True), Department.function.in_(INVITABLE_FUNCTIONS))
    )


def invitable_people() -> list[User]:
    """Active people in sales and marketing departments, by name."""
    return list(db.session.scalars(_invitable_people_stmt().options(joinedload(User.team)).order_by(User.name)))


def invitable_teams() -> list[Team]:
    return list(
        db.session.scalars(
            select(Team)
            .join(Department, Team.department_id == Department.id)
            .where(Department.function.in_(INVITABLE_FUNCTIONS))
            .order_by(Department.name, Team.name)
        )
    )


def invitable_departments() -> list[Department]:
    return list(
        db.session.scalars(
            select(Department).where(Department.function.in_(INVITABLE_FUNCTIONS)).order_by(Department.name)
        )
    )


def resolve_invitees(
    people: list[int] | tuple[int, ...] = (),
    teams: list[int] | tuple[int, ...] = (),
    departments: list[int] | tuple[int, ...] = (),
) -> list[tuple[User, str]]:
    """People, teams and whole departments → the active sales and marketing people they stand for.

    A team stands for its active members and its manager; a department for its active members. Each person
    comes once, with a note saying how they were invited (kept in the participation's history).
    """
    people, teams, departments = list(dict.fromkeys(people or ())), list(dict.fromkeys(teams or ())), list(
        dict.fromkeys(departments or ())
    )
    errors: dict[str, str] = {}
    found: dict[int, tuple[User, str]] = {}
    if people:
        users = {u.id: u for u in db.session.scalars(_invitable_people_stmt().where(User.id.in_(people)))}
        if len(users) != len(people):
            errors["people"] = "Invite active people from sales and marketing only."
        for uid in people:
            if uid in users:
                found.setdefault(uid, (users[uid], "invited"))
    if teams:
        team_rows = {t.id: t for t in invitable_teams() if t.id in teams}
        if len(team_rows) != len(teams):
            errors["teams"] = "Choose sales and marketing teams only."
        ids = list(team_rows)
        members = db.session.scalars(
            _invitable_people_stmt().where(
                or_(User.team_id.in_(ids), User.id.in_(select(Team.manager_id).where(Team.id.in_(ids))))
            )
        ).all() if ids else []
        for u in members:
            team = team_rows.get(u.team_id) or next((t for t in team_rows.values() if t.manager_id == u.id), None)
            found.setdefault(u.id, (u, f"invited with the team {team.name}" if team else "invited with a team"))
    if departments:
        dept_rows = {d.id: d for d in invitable_departments() if d.id in departments}
        if len(dept_rows) != len(departments):
            errors["departments"] = "Choose the sales or the marketing department."
        for u in db.session.scalars(_invitable_people_stmt().where(User.department_id.in_(list(dept_rows)))):
            found.setdefault(u.id, (u, f"invited with the department {dept_rows[u.department_id].name}"))
    if errors:
        _raise(errors)
    return sorted(found.values(), key=lambda pair: (pair[0].name, pair[0].id))


def _first_invitation(activity: Activity, user: User, actor: User, now: datetime, note: str) -> Participation:
    """A new place on the list: the first history row goes from nothing to invited."""
    p = Participation(activity=activity, user=user, state=State.INVITED.value, state_changed_at=now, created_at=now)
    db.session.add(p)
    p.events.append(ParticipationEvent(actor_id=actor.id, at=now, from_state=None, to_state=State.INVITED.value, note=note))
    db.session.flush()
    participation_changed.send(p, old_state=None, new_state=State.INVITED.value, actor=actor, now=now, note=note)
    return p


def _invite_resolved(activity: Activity, actor: User, invitees: list[tuple[User, str]], now: datetime) -> list[Participation]:
    invited: list[Participation] = []
    for user, note in invitees:
        if user.id == activity.host_id or not user.active:
            continue
        p = core.find_participation(activity.id, user.id)
        if p is None:
            invited.append(_first_invitation(activity, user, actor, now, note))
        elif p.state in REINVITABLE:
            p.rsvp = ""
            core.transition(p, State.INVITED, actor, now, note=f"{note} again")
            invited.append(p)
    return invited


def invite_people(activity: Activity, actor: User, users: list[User], now: datetime, note: str = "invited") -> list[Participation]:
    """Invite these people (the facilitator is skipped; those already on the list are left as they are;
    someone who declined is invited again). Returns the places that were (re)opened; each gets an invitation."""
    if not can_manage_meeting(actor, activity):
        raise NotAllowed("Only the facilitator invites people to this meeting.")
    activity = core.lock_activity(activity.id)
    if activity.kind != ActivityKind.REVIEW_MEETING.value:
        raise NotFound("This is not a review meeting.")
    if activity.is_cancelled:
        raise InvalidTransition("This meeting was cancelled.")
    if now >= activity.ends_at:
        raise InvalidTransition("This meeting is over; invitations are closed.")
    return _invite_resolved(activity, actor, [(u, note) for u in users], now)


def invite(
    activity: Activity,
    actor: User,
    now: datetime,
    *,
    people: list[int] | tuple[int, ...] = (),
    teams: list[int] | tuple[int, ...] = (),
    departments: list[int] | tuple[int, ...] = (),
) -> list[Participation]:
    """Invite people, teams and departments by id (as the page sends them)."""
    if not can_manage_meeting(actor, activity):
        raise NotAllowed("Only the facilitator invites people to this meeting.")
    if not (people or teams or departments):
        raise ValidationFailed("Choose people, teams or a department to invite.", field="people")
    invitees = resolve_invitees(people, teams, departments)
    activity = core.lock_activity(activity.id)
    if activity.is_cancelled:
        raise InvalidTransition("This meeting was cancelled.")
    if now >= activity.ends_at:
        raise InvalidTransition("This meeting is over; invitations are closed.")
    return _invite_resolved(activity, actor, invitees, now)


def rsvp(p: Participation, actor: User, answer: str, now: datetime) -> Participation:
    """The invitee answers yes (→ booked), no (→ declined) or maybe (→ invited), until the meeting starts.

    Answering the same again changes nothing; every change is a history row noting the answer.
    """
    if p.user_id != actor.id:
        raise NotAllowed("That is someone else's invitation.")
    if answer not in RSVP_STATES:
        raise ValidationFailed("Answer yes, no or maybe.", field="answer")
    activity = core.lock_activity(p.activity_id)
    db.session.refresh(p)
    if activity.kind != ActivityKind.REVIEW_MEETING.value:
        raise NotFound("This is not a review meeting.")
    if activity.is_cancelled:
        raise InvalidTransition("This meeting was cancelled.")
    if activity.has_started(now):
        raise InvalidTransition("This meeting has started; answers are closed.")
    if p.state not in ANSWERABLE:
        raise InvalidTransition("You are no longer on the invitation list of this meeting.")
    target = RSVP_STATES[answer]
    if p.rsvp == answer and p.state == target.value:
        return p
    p.rsvp = answer
    core.transition(p, target, actor, now, note=f"answered {answer}")
    return p


def take_attendance(p: Participation, actor: User, attended: bool, now: datetime) -> Participation:
    """After the start, the facilitator side marks an invitee attended or no-show, whatever they answered:
    people come without answering, or come after all. Someone who said no is not marked a no-show."""
    if not can_take_attendance(actor, p):
        raise NotAllowed("You can't mark attendance for this person.")
    activity = p.activity
    if activity.is_cancelled:
        raise InvalidTransition("This meeting was cancelled.")
    if not activity.has_started(now):
        raise InvalidTransition("Attendance can be marked once the meeting has started.")
    if p.state not in MARKABLE:
        raise InvalidTransition("Only invited people can be marked.")
    if p.state in (State.BOOKED.value, State.ATTENDED.value, State.NO_SHOW.value):
        return core.mark_attendance(p, actor, attended, now)
    if p.state == State.DECLINED.value and not attended:
        raise InvalidTransition(f"{p.user.name} answered no; mark them only if they came after all.")
    note = "had not answered" if p.state == State.INVITED.value and not p.rsvp else f"had answered {p.rsvp or 'no'}"
    core.transition(p, State.ATTENDED if attended else State.NO_SHOW, actor, now, note=note)
    return p


# --- reading ---------------------------------------------------------------------------------


def meeting_or_none(activity_id: int) -> Activity | None:
    activity = db.session.get(Activity, activity_id)
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


# --- action items ----------------------------------------------------------------------------


@dataclass
class ActionData:
    title: str
    owner_id: int | None
    due_date: date | None
    status: str = ActionStatus.OPEN.value


def action_owners(activity: Activity) -> list[User]:
    """Who can own an action: active sales and marketing people, and the facilitator."""
    people = invitable_people()
    if activity.host.active and all(u.id != activity.host_id for u in people):
        people = sorted([*people, activity.host], key=lambda u: u.name)
    return people


def _validate_action(activity: Activity, actor: User, data: ActionData, now: datetime, existing: ActionItem | None) -> dict:
    errors: dict[str, str] = {}
    data.title = (data.title or "").strip()
    if not data.title:
        errors["title"] = "Say what is to be done."
    elif len(data.title) > 300:
        errors["title"] = "At most 300 characters."
    owner = db.session.get(User, data.owner_id) if data.owner_id else None
    if owner is None:
        errors["owner_id"] = "Choose who owns this action."
    elif existing is None or owner.id != existing.owner_id:
        if not owner.active or not (owner.function in INVITABLE_FUNCTIONS or owner.id == activity.host_id):
            errors["owner_id"] = "Choose an active person from sales or marketing."
    if data.due_date is None:
        errors["due_date"] = "Give a due date."
    elif (existing is None or data.due_date != existing.due_date) and data.due_date < today_for(actor, now):
        errors["due_date"] = "The due date can't be in the past."
    if data.status not in {s.value for s in ActionStatus}:
        errors["status"] = "Choose open, done or dropped."
    if errors:
        _raise(errors)
    return {"owner": owner}


def add_action(activity: Activity, actor: User, data: ActionData, now: datetime) -> ActionItem:
    """The facilitator side or an invitee records an action item: what, who, by when."""
    mine = core.find_participation(activity.id, actor.id)
    if not can_add_action(actor, activity, mine):
        raise NotAllowed("Only the facilitator and the invitees add action items to this meeting.")
    if activity.is_cancelled:
        raise InvalidTransition("This meeting was cancelled.")
    data.status = ActionStatus.OPEN.value
    values = _validate_action(activity, actor, data, now, None)
    item = ActionItem(
        activity=activity,
        title=data.title,
        owner=values["owner"],
        due_date=data.due_date,
        status=ActionStatus.OPEN.value,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    db.session.add(item)
    db.session.flush()
    return item


def _set_status(item: ActionItem, status: str, now: datetime) -> None:
    if status == item.status:
        return
    item.status = status
    item.closed_at = None if status == ActionStatus.OPEN.value else now


def update_action(item: ActionItem, actor: User, data: ActionData, now: datetime) -> ActionItem:
    """The facilitator side changes an action's title, owner, due date or status."""
    if not can_edit_action(actor, item):
        raise NotAllowed("Only the meeting's facilitator edits this action item.")
    values = _validate_action(item.activity, actor, data, now, item)
    item.title, item.owner, item.due_date = data.title, values["owner"], data.due_date
    _set_status(item, data.status, now)
    item.updated_at = now
    db.session.flush()
    return item


def set_action_status(item: ActionItem, actor: User, status: str, now: datetime) -> ActionItem:
    """The owner (or the facilitator side) marks an action done, dropped, or open again."""
    if not can_update_action_status(actor, item):
        raise NotAllowed("Only the owner and the facilitator update this action item.")
    if status not in {s.value for s in ActionStatus}:
        raise ValidationFailed("Choose open, done or dropped.", field="status")
    _set_status(item, status, now)
    item.updated_at = now
    db.session.flush()
    return item


def actions_of(activity: Activity) -> list[ActionItem]:
    return list(
        db.session.scalars(
            select(ActionItem)
            .options(joinedload(ActionItem.owner))
            .where(ActionItem.activity_id == activity.id)
            .order_by(ActionItem.status != ActionStatus.OPEN.value, ActionItem.due_date, ActionItem.id)
        )
    )


def carried_over_actions(activity: Activity, limit: int = 100) -> list[ActionItem]:
    """Action items still open from earlier meetings of the same format (cancelled ones had none to carry).

    The previous meeting's open items come first; items that stayed open across several meetings keep coming
    back until someone closes them, so nothing falls off the table.
    """
    return list(
        db.session.scalars(
            select(ActionItem)
            .join(Activity, ActionItem.activity_id == Activity.id)
            .join(ReviewMeeting, ReviewMeeting.activity_id == Activity.id)
            .options(joinedload(ActionItem.owner), joinedload(ActionItem.activity))
            .where(
                ReviewMeeting.format == activity.meeting.format,
                Activity.starts_at < activity.starts_at,
                Activity.id != activity.id,
                ActionItem.status == ActionStatus.OPEN.value,
            )
            .order_by(Activity.starts_at.desc(), ActionItem.due_date, ActionItem.id)
            .limit(limit)
        ).unique()
    )


def action_or_none(activity: Activity, action_id: int) -> ActionItem | None:
    item = db.session.get(ActionItem, action_id)
    if item is None or item.activity_id != activity.id:
        return None
    return item


# --- the lead definition ---------------------------------------------------------------------


def _with_people(stmt):
    return stmt.options(
        joinedload(LeadDefinition.created_by),
        joinedload(LeadDefinition.sales_signoff_by),
        joinedload(LeadDefinition.marketing_signoff_by),
    )


def current_lead_definition(today: date) -> LeadDefinition | None:
    """The definition in force on ``today``: the newest version signed off by both sides whose effective date
    has come. Signers are loaded, so a template can show them without a query."""
    return db.session.scalar(
        _with_people(select(LeadDefinition))
        .where(
            LeadDefinition.sales_signoff_by_id.is_not(None),
            LeadDefinition.marketing_signoff_by_id.is_not(None),
            LeadDefinition.effective_date <= today,
        )
        .order_by(LeadDefinition.version.desc())
        .limit(1)
    )


def lead_definitions(activity: Activity | None = None) -> list[LeadDefinition]:
    """Every version, newest first (or those recorded at one meeting)."""
    stmt = _with_people(select(LeadDefinition)).options(joinedload(LeadDefinition.activity))
    if activity is not None:
        stmt = stmt.where(LeadDefinition.activity_id == activity.id)
    return list(db.session.scalars(stmt.order_by(LeadDefinition.version.desc())).unique())


def definition_status(defn: LeadDefinition, current: LeadDefinition | None, today: date) -> tuple[str, str]:
    """(key, label) of a version: current, scheduled, superseded, not_adopted, awaiting."""
    newer_in_force = current is not None and current.version > defn.version
    if current is not None and current.id == defn.id:
        return "current", "In force"
    if defn.is_signed_off:
        if newer_in_force:
            return "superseded", "Superseded"
        return "scheduled", f"Signed off; in force from {defn.effective_date:%d %b %Y}"
    if newer_in_force:
        return "not_adopted", "Not adopted (a newer version is in force)"
    missing = [side for side, who in (("sales", defn.sales_signoff_by_id), ("marketing", defn.marketing_signoff_by_id)) if who is None]
    return "awaiting", "Awaiting sign-off by " + " and ".join(f"a {side} leader" for side in missing)


def record_lead_definition(
    actor: User, criteria: str, effective_date: date | None, now: datetime, activity: Activity | None = None
) -> LeadDefinition:
    """Record a new version of the definition (optionally at a lead-definition session). It takes force only
    once a sales leader and a marketing leader have signed it off; earlier versions stay as they are."""
    if activity is not None and (activity.meeting is None or activity.meeting.format != MeetingFormat.LEAD_DEFINITION.value):
        raise ValidationFailed("Lead definitions are recorded at lead-definition sessions.")
    if not can_record_lead_definition(actor, activity):
        raise NotAllowed("Only leaders, admins and the session's facilitator record a lead definition.")
    if activity is not None and activity.is_cancelled:
        raise InvalidTransition("This meeting was cancelled.")
    errors: dict[str, str] = {}
    criteria = (criteria or "").strip()
    if not criteria:
        errors["criteria"] = "Write down the criteria of a qualified lead."
    elif len(criteria) > 10000:
        errors["criteria"] = "At most 10,000 characters."
    if effective_date is None:
        errors["effective_date"] = "Give the date from which it applies."
    if errors:
        _raise(errors)
    for _attempt in range(3):
        version = (db.session.scalar(select(func.max(LeadDefinition.version))) or 0) + 1
        defn = LeadDefinition(
            version=version,
            criteria=criteria,
            effective_date=effective_date,
            activity=activity,
            created_by=actor,
            created_at=now,
        )
        try:
            with db.session.begin_nested():
                db.session.add(defn)
        except IntegrityError:  # someone recorded the same version number at the same moment: take the next
            continue
        return defn
    raise InvalidTransition("Someone else is recording a definition right now; try again.")


def sign_off_lead_definition(defn: LeadDefinition, actor: User, now: datetime) -> LeadDefinition:
    """A sales leader signs for sales, a marketing leader for marketing; each side once. A version older than
    the one in force can no longer be adopted. The database guards the slot, so two leaders of one side
    signing at once can't both succeed."""
    side = signoff_side(actor)
    if side is None:
        raise NotAllowed("Only a sales leader or a marketing leader signs off a lead definition.")
    current = current_lead_definition(today_for(actor, now))
    if current is not None and current.version > defn.version:
        raise InvalidTransition(f"Version {current.version} is already in force; record a new version instead.")
    by, at = (
        (LeadDefinition.sales_signoff_by_id, LeadDefinition.sales_signoff_at)
        if side == "sales"
        else (LeadDefinition.marketing_signoff_by_id, LeadDefinition.marketing_signoff_at)
    )
    result = db.session.execute(
        update(LeadDefinition)
        .where(LeadDefinition.id == defn.id, by.is_(None))
        .values({by: actor.id, at: now})
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(defn)
    if result.rowcount != 1:
        signer = defn.sales_signoff_by if side == "sales" else defn.marketing_signoff_by
        raise InvalidTransition(f"{signer.name if signer else 'Someone'} has already signed off for {side}.")
    return defn
