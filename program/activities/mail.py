"""Mail about activities: booking confirmations and invites, waitlist offers, cancellations, updates.

The core's mail is the same for every kind, so it subscribes to the core's signals (in ``activities.init_app``)
rather than the services calling it. Invites carry an ICS part built by ``program.activities.ics``
(METHOD:REQUEST for new and changed, METHOD:CANCEL for cancelled).
"""

from __future__ import annotations

from datetime import datetime

from program.activities.ics import Attendee, attendee_sequence, invite_ics
from program.activities.kinds import kind_info, summary_for
from program.activities.models import Activity, Participation, State
from program.activities.services import current_offer_id, waitlist_position
from program.mail.services import queue_email
from program.web import absolute_url, read_token, sign_token

SEAT = (State.BOOKED.value, State.OFFERED.value)


def offer_token(p: Participation) -> str:
    """The one-click link's token: the place, its person, and the open offer it answers (its history row)."""
    return sign_token("offer", {"p": p.id, "u": p.user_id, "o": current_offer_id(p)})


def read_offer_token(token: str) -> tuple[int, int, int] | None:
    """(participation id, user id, offer id), or None for a forged token. Links sent before tokens named
    their offer read as offer 0, which matches none: they are refused like a settled offer's."""
    data = read_token("offer", token)
    if data is None:
        return None
    try:
        return int(data["p"]), int(data["u"]), int(data.get("o") or 0)
    except (KeyError, TypeError, ValueError):
        return None


def activity_url(activity: Activity) -> str:
    return absolute_url(kind_info(activity).endpoint, activity_id=activity.id)


def _invite(p: Participation, method: str, now: datetime) -> bytes:
    activity = p.activity
    return invite_ics(
        activity,
        Attendee(p.user.email, p.user.name),
        method=method,
        now=now,
        summary=summary_for(activity, p.user),
        description=(activity.briefing or "") + f"\n\nDetails: {activity_url(activity)}",
        url=activity_url(activity),
        sequence=attendee_sequence(p),
    )


def _send(p: Participation, template: str, subject: str, method: str | None, now: datetime, **extra) -> None:
    activity = p.activity
    queue_email(
        p.user.email,
        template,
        subject,
        ics=_invite(p, method, now) if method else None,
        ics_method=method or "",
        person=p.user,
        activity=activity,
        summary=summary_for(activity, p.user),
        url=activity_url(activity),
        show_video=p.state == State.BOOKED.value,
        **extra,
    )


def on_participation_changed(p: Participation, old_state, new_state, actor, now, note, position=None, **_):
    """``position``: the waitlist place when the service already counted it (a booking does)."""
    summary = summary_for(p.activity, p.user)
    if new_state == State.BOOKED.value and old_state != State.BOOKED.value:
        _send(p, "activities/booked", f"Booked: {summary}", "REQUEST", now)
    elif new_state == State.WAITLISTED.value and old_state != State.WAITLISTED.value:
        _send(
            p,
            "activities/waitlisted",
            f"On the waitlist: {summary}",
            None,
            now,
            position=position or waitlist_position(p),
        )
    elif new_state == State.OFFERED.value:
        _send(
            p,
            "activities/offer",
            f"A seat is free for you: {summary}",
            None,
            now,
            offer_url=absolute_url("activities.offer", token=offer_token(p)),
            expires_at=p.offer_expires_at,
        )
    elif new_state == State.CANCELLED_BY_USER.value and old_state in SEAT:
        _send(p, "activities/cancelled_by_you", f"Cancelled: {summary}", "CANCEL", now)
    elif new_state == State.DECLINED.value and note == "offer expired":
        _send(p, "activities/offer_expired", f"Offer expired: {summary}", None, now)
    elif new_state == State.CANCELLED_BY_HOST.value and (old_state in SEAT or old_state == State.WAITLISTED.value):
        # (invitees without a seat, e.g. to meetings, hear from their kind's own mail)
        _send(
            p,
            "activities/cancelled_by_host",
            f"{'Late cancellation' if p.activity.late_cancellation else 'Cancelled'}: {summary}",
            "CANCEL" if old_state in SEAT else None,
            now,
            had_seat=old_state in SEAT,
        )


def on_activity_changed(activity: Activity, change, actor, now, affected, **_):
    if change in ("rescheduled", "updated"):
        for p in affected:
            if p.state in SEAT:
                _send(
                    p, "activities/updated", f"Updated: {summary_for(activity, p.user)}", "REQUEST", now, change=change
                )
