"""The core's scheduled job: the reminder about 24 hours before an activity (registered in ``activities.init_app``
with the base ``program.jobs``, beside passing on expired offers). Idempotent through ``jobs.claim``."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from program.activities.kinds import summary_for
from program.activities.mail import activity_url
from program.activities.models import Activity, ActivityStatus, Participation, State
from program.extensions import db
from program.jobs import claim
from program.mail.services import queue_email


def day_word(starts_at: datetime, now: datetime, tz: str) -> str:
    """How the participant would name the start day, on their own calendar: "Today", "Tomorrow", or the weekday
    and date (after a short night when the clocks go forward, 24 hours ahead can be the day after tomorrow)."""
    zone = ZoneInfo(tz or "UTC")
    start_day = starts_at.astimezone(zone).date()
    days = (start_day - now.astimezone(zone).date()).days
    return {0: "Today", 1: "Tomorrow"}.get(days, start_day.strftime("%A %d %b"))


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
