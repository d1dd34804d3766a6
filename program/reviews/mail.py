"""Mail about review meetings: invitations with one-click RSVP links, updates and cancellations for people who
were invited but have not said yes, and reminders to owners of action items.

The core's mail already writes to people who answered yes (they are ``booked``): the "booked"
confirmation, updates and cancellations. This module covers the ``invited`` ones, so nobody hears twice.
Invitations carry METHOD:REQUEST with the invitee's PARTSTAT (NEEDS-ACTION, or TENTATIVE after "maybe");
a cancellation carries METHOD:CANCEL with the attendee's raised SEQUENCE (``attendee_sequence``).
The first two functions below are the review-meeting kind's hooks (``meetings.MEETING_KIND``), so they hear
only of meetings; ``remind_action_items`` is a scheduled job, registered in ``program.reviews.init_app``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from program.activities.ics import Attendee, attendee_sequence, invite_ics
from program.activities.kinds import summary_for
from program.activities.models import Activity, ActivityStatus, Participation, State
from program.extensions import db
from program.jobs import claim
from program.mail.services import queue_email
from program.periods import local_today
from program.reviews.models import ActionItem, ActionStatus, RsvpAnswer
from program.web import absolute_url, read_token, sign_token

PARTSTAT = {"": "NEEDS-ACTION", RsvpAnswer.MAYBE.value: "TENTATIVE", RsvpAnswer.YES.value: "ACCEPTED"}


# --- RSVP links ------------------------------------------------------------------------------


def rsvp_token(p: Participation) -> str:
    """A signed token naming the participation and its person; the link shows the answer page (no change on GET)."""
    return sign_token("meeting-rsvp", {"p": p.id, "u": p.user_id})


def read_rsvp_token(token: str) -> tuple[int, int] | None:
    """(participation id, user id) of a token made by ``rsvp_token``, or None."""
    data = read_token("meeting-rsvp", token)
    try:
        return int(data["p"]), int(data["u"])
    except (KeyError, TypeError, ValueError):
        return None


def rsvp_links(p: Participation) -> dict[str, str]:
    token = rsvp_token(p)
    return {a.value: absolute_url("reviews.rsvp_link", token=token, answer=a.value) for a in RsvpAnswer}


def meeting_url(activity: Activity) -> str:
    return absolute_url("reviews.detail", activity_id=activity.id)


# --- invitations, updates, cancellations -----------------------------------------------------


def _ics(p: Participation, method: str, now: datetime) -> bytes:
    activity = p.activity
    url = meeting_url(activity)
    return invite_ics(
        activity,
        Attendee(p.user.email, p.user.name, partstat=PARTSTAT.get(p.rsvp, "NEEDS-ACTION")),
        method=method,
        now=now,
        summary=summary_for(activity, p.user),
        description=((activity.meeting.agenda if activity.meeting else "") + f"\n\nAnswer and details: {url}").strip(),
        url=url,
        sequence=attendee_sequence(p),
    )


def _send(p: Participation, template: str, subject: str, method: str, now: datetime, **extra) -> None:
    activity = p.activity
    queue_email(
        p.user.email,
        template,
        subject,
        ics=_ics(p, method, now),
        ics_method=method,
        person=p.user,
        activity=activity,
        meeting=activity.meeting,
        summary=summary_for(activity, p.user),
        url=meeting_url(activity),
        show_video=True,
        **extra,
    )


def on_meeting_participation(p: Participation, old_state, new_state, actor, now, note, **_) -> None:
    """The kind's ``on_transition``: an invitation when someone is put on the list, a cancellation for those
    still invited when the meeting is called off."""
    activity = p.activity
    invited_by_someone = actor is None or actor.id != p.user_id  # an invitee's own "maybe" is not an invitation
    if new_state == State.INVITED.value and old_state != State.INVITED.value and invited_by_someone:
        _send(
            p,
            "reviews/invitation",
            f"Invitation: {summary_for(activity, p.user)}",
            "REQUEST",
            now,
            links=rsvp_links(p),
            inviter=actor,
        )
    elif new_state == State.CANCELLED_BY_HOST.value and old_state == State.INVITED.value:
        # The core's mail covers people who had said yes; the invitation is in everyone else's calendar too.
        _send(p, "reviews/cancelled", f"Cancelled: {summary_for(activity, p.user)}", "CANCEL", now)


def on_meeting_changed(activity: Activity, change, actor, now, affected, **_) -> None:
    """The kind's ``on_activity_changed``: the invited (not yet booked) get the new time or place."""
    if change not in ("rescheduled", "updated"):
        return
    for p in activity.participations:
        if p.state == State.INVITED.value:  # booked ones get the core's update
            _send(
                p,
                "reviews/updated",
                f"Updated: {summary_for(activity, p.user)}",
                "REQUEST",
                now,
                change=change,
                links=rsvp_links(p),
            )


# --- action item reminders -------------------------------------------------------------------


def remind_action_items(now: datetime) -> int:
    """An owner hears the day before an open action is due (or on the day, if the cron missed it), then once a
    week while it is overdue. Days are the owner's. Changing the due date starts the reminders afresh."""
    items = db.session.scalars(
        select(ActionItem)
        .join(Activity, ActionItem.activity_id == Activity.id)
        .options(joinedload(ActionItem.owner), joinedload(ActionItem.activity).joinedload(Activity.host))
        .where(
            ActionItem.status == ActionStatus.OPEN.value,
            ActionItem.due_date <= (now + timedelta(days=2)).date(),
            Activity.status == ActivityStatus.SCHEDULED.value,
        )
        .order_by(ActionItem.id)
    ).all()
    sent = 0
    for item in items:
        owner = item.owner
        if not owner.active:
            continue
        today = local_today(now, owner.timezone or "UTC")
        due = item.due_date
        if today > due:
            weeks = ((today - due).days - 1) // 7 + 1
            key, when = f"action:{item.id}:{due.isoformat()}:overdue:{weeks}", "overdue"
        elif today >= due - timedelta(days=1):
            key, when = f"action:{item.id}:{due.isoformat()}:due", ("tomorrow" if today < due else "today")
        else:
            continue
        if not claim(key, now):
            continue
        subject = {"overdue": "Overdue action", "today": "Action due today", "tomorrow": "Action due tomorrow"}[when]
        queue_email(
            owner.email,
            "reviews/action_reminder",
            f"{subject}: {item.title}",
            person=owner,
            item=item,
            when=when,
            days_overdue=(today - due).days if when == "overdue" else 0,
            summary=summary_for(item.activity, owner),
            url=meeting_url(item.activity),
        )
        sent += 1
    return sent
