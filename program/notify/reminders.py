"""Cron-driven notices. ``flask send-reminders`` runs every registered job; each is idempotent.

A job sends a notice only after recording its unique key in ``sent_notice`` inside a savepoint, so
running the command twice (or from two hosts at once) never sends the same notice twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from program.activities.kinds import summary_for
from program.activities.models import Activity, ActivityStatus, Participation, State
from program.extensions import db
from program.jobs import claim, register_job
from program.mail.services import queue_email
from program.notify.activity_mail import activity_url


def _expire_offers(now: datetime) -> int:
    from program.activities.services import expire_offers

    return expire_offers(now)


register_job("expired offers passed on", _expire_offers)


def reminder_job(name: str):
    """(Transitional) register a job with the base job registry."""

    def decorator(fn):
        register_job(name, fn)
        return fn

    return decorator


def day_word(starts_at: datetime, now: datetime, tz: str) -> str:
    """How the participant would name the start day, on their own calendar: "Today", "Tomorrow", or the weekday
    and date (after a short night when the clocks go forward, 24 hours ahead can be the day after tomorrow)."""
    zone = ZoneInfo(tz or "UTC")
    start_day = starts_at.astimezone(zone).date()
    days = (start_day - now.astimezone(zone).date()).days
    return {0: "Today", 1: "Tomorrow"}.get(days, start_day.strftime("%A %d %b"))


@reminder_job("activity reminders (24 hours before)")
def remind_upcoming(now: datetime) -> int:
    """Every booked participant hears once, about 24 hours before the start (again if it moves); the subject
    names the start day as the participant sees it ("Today: …" for someone who booked on the day)."""
    rows = db.session.scalars(
        select(Participation)
        .join(Activity)
        .options(joinedload(Participation.activity).joinedload(Activity.host), joinedload(Participation.user))
        .where(
            Participation.state == State.BOOKED.value,
            Activity.status == ActivityStatus.SCHEDULED.value,
            Activity.starts_at > now,
            Activity.starts_at <= now + timedelta(hours=24),
        )
    ).all()
    sent = 0
    for p in rows:
        activity = p.activity
        if not claim(f"reminder-24h:{p.id}:{activity.starts_at.isoformat()}", now):
            continue
        summary = summary_for(activity, p.user)
        queue_email(
            p.user.email,
            "activities/reminder",
            f"{day_word(activity.starts_at, now, p.user.timezone)}: {summary}",
            person=p.user,
            activity=activity,
            summary=summary,
            url=activity_url(activity),
            show_video=True,
        )
        sent += 1
    return sent
