"""Mail about debriefs: the task when it is created, and reminders (before, on the day, weekly overdue).
``debriefs.init_app`` registers ``remind_debriefs`` as the "debrief reminders" job."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from program.activities.kinds import summary_for
from program.activities.models import Activity
from program.debriefs.models import DebriefTask, TaskStatus
from program.extensions import db
from program.jobs import claim
from program.mail.services import queue_email
from program.web import absolute_url


def _send(task: DebriefTask, template: str, subject: str, cc: list[str] | None = None, **extra) -> None:
    summary = summary_for(task.activity, task.user)
    queue_email(
        task.user.email,
        template,
        f"{subject}: {summary}",
        cc=cc or [],
        person=task.user,
        task=task,
        summary=summary,
        url=absolute_url("debriefs.task", task_id=task.id),
        **extra,
    )


def send_task(task: DebriefTask) -> None:
    """The new task, to the person who owes the debrief."""
    _send(task, "debriefs/task", "Debrief due")


def reminder_stage(due_at: datetime, now: datetime, tz: str) -> str | None:
    """Which debrief reminder fits ``now``, on the writer's local days (in ``tz``): "overdue" once the due moment
    has passed, "due-day" on the due day, "before" on the day before it, otherwise None. Local days, not
    24-hour steps, so a DST change on the way never makes a reminder name the wrong day."""
    if now > due_at:
        return "overdue"
    zone = ZoneInfo(tz)
    days_left = (due_at.astimezone(zone).date() - now.astimezone(zone).date()).days
    return {0: "due-day", 1: "before"}.get(days_left)


def remind_debriefs(now: datetime) -> int:
    """One the day before the due date, one on it, then weekly while overdue (manager copied)."""
    tasks = db.session.scalars(
        select(DebriefTask)
        .options(joinedload(DebriefTask.user), joinedload(DebriefTask.activity).joinedload(Activity.host))
        # the writer's day before the due day can start up to 49 hours before the due moment (a 25-hour day)
        .where(DebriefTask.status == TaskStatus.OPEN.value, DebriefTask.due_at <= now + timedelta(hours=72))
    ).all()
    sent = 0
    for task in tasks:
        tz = task.user.timezone or "UTC"
        stage = reminder_stage(task.due_at, now, tz)
        if stage == "overdue":
            week = int((now - task.due_at) // timedelta(days=7)) + 1
            if not claim(f"debrief:{task.id}:overdue:{week}", now):
                continue
            manager = task.user.manager
            zone = ZoneInfo(tz)
            days_late = max((now.astimezone(zone).date() - task.due_at.astimezone(zone).date()).days, 1)
            cc = [manager.email] if manager and manager.active else []
            _send(
                task,
                "debriefs/overdue",
                "Overdue debrief",
                cc=cc,
                weeks=week,
                days_late=days_late,
                manager_copied=bool(cc),
            )
        elif stage == "due-day":
            if not claim(f"debrief:{task.id}:due-day", now):
                continue
            _send(task, "debriefs/reminder", "Debrief due today", when="today")
        elif stage == "before":
            if not claim(f"debrief:{task.id}:before", now):
                continue
            _send(task, "debriefs/reminder", "Debrief due tomorrow", when="tomorrow")
        else:
            continue
        sent += 1
    return sent
