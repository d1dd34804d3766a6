"""Who is invited to a review meeting, and the ladder of their answers: invite, RSVP, attendance.

The participation ladder for a meeting:

- invited (``INVITED``): on the list, no answer yet, or answered *maybe* (``rsvp == "maybe"``);
- answered *yes* → ``BOOKED`` (it is on their calendar feed and dashboard, like a booked seat);
- answered *no* → ``DECLINED``;
- after the start the facilitator marks attended / no-show. Someone who never answered (or said no and came
  anyway) goes straight from invited (declined) to attended — there is no detour through booked, so nobody
  gets a "booked" mail after the meeting. Attendance creates the debrief task (the debriefs' subscriber).

Every change is a history row through the core's ``transition`` (or, for a first invitation, a row from
nothing to invited, announced like a transition), so the kind's ``on_transition`` hook sends the mail.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from program.accounts.models import Department, Team, User
from program.activities import services as core
from program.activities.kinds import kind_transitioned
from program.activities.models import Activity, ActivityKind, Participation, ParticipationEvent, State
from program.activities.signals import participation_changed
from program.errors import InvalidTransition, NotAllowed, NotFound, ValidationFailed
from program.extensions import db
from program.reviews.models import RsvpAnswer
from program.reviews.permissions import can_manage_meeting, can_take_attendance

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
    people, teams, departments = (
        list(dict.fromkeys(people or ())),
        list(dict.fromkeys(teams or ())),
        list(dict.fromkeys(departments or ())),
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
        members = (
            db.session.scalars(
                _invitable_people_stmt().where(
                    or_(User.team_id.in_(ids), User.id.in_(select(Team.manager_id).where(Team.id.in_(ids))))
                )
            ).all()
            if ids
            else []
        )
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
        raise ValidationFailed("Please correct the marked fields.", errors=errors)
    return sorted(found.values(), key=lambda pair: (pair[0].name, pair[0].id))


def _first_invitation(activity: Activity, user: User, actor: User, now: datetime, note: str) -> Participation:
    """A new place on the list: the first history row goes from nothing to invited."""
    p = Participation(activity=activity, user=user, state=State.INVITED.value, state_changed_at=now, created_at=now)
    db.session.add(p)
    p.events.append(
        ParticipationEvent(actor_id=actor.id, at=now, from_state=None, to_state=State.INVITED.value, note=note)
    )
    db.session.flush()
    participation_changed.send(p, old_state=None, new_state=State.INVITED.value, actor=actor, now=now, note=note)
    kind_transitioned(p, old_state=None, new_state=State.INVITED.value, actor=actor, now=now, note=note)
    return p


def invite_resolved(
    activity: Activity, actor: User, invitees: list[tuple[User, str]], now: datetime
) -> list[Participation]:
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


def invite_people(
    activity: Activity, actor: User, users: list[User], now: datetime, note: str = "invited"
) -> list[Participation]:
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
    return invite_resolved(activity, actor, [(u, note) for u in users], now)


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
    return invite_resolved(activity, actor, invitees, now)


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
