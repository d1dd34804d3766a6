"""Mail about debriefs: the task when it is created, and reminders (before, on the day, weekly overdue)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from program.activities.kinds import summary_for
from program.activities.models import Activity
from program.debriefs.models import DebriefTask
from program.debriefs.signals import task_created
from program.extensions import db
from program.notify.reminders import claim, reminder_job
from program.notify.services import queue_email
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


@task_created.connect
def on_task_created(task: DebriefTask, now, **_):
    _send(task, "debrief_task", "Debrief due")


@reminder_job("debrief reminders")
def remind_debriefs(now: datetime) -> int:
    """One the day before the due date, one on it, then weekly while overdue (manager copied)."""
    tasks = db.session.scalars(
        select(DebriefTask)
        .options(joinedload(DebriefTask.user), joinedload(DebriefTask.activity).joinedload(Activity.host))
        .where(DebriefTask.status == "open", DebriefTask.due_at <= now + timedelta(hours=48))
    ).all()
    sent = 0
    for task in tasks:
        if now > task.due_at:
            week = int((now - task.due_at) // timedelta(days=7)) + 1
            if not claim(f"debrief:{task.id}:overdue:{week}", now):
                continue
            manager = task.user.manager
            _send(task, "debrief_overdue", "Overdue debrief", cc=[manager.email] if manager and manager.active else [],
                  weeks=week)
        elif now >= task.due_at - timedelta(hours=24):
            if not claim(f"debrief:{task.id}:due-day", now):
                continue
            _send(task, "debrief_reminder", "Debrief due today", when="today")
        else:
            if not claim(f"debrief:{task.id}:before", now):
                continue
            _send(task, "debrief_reminder", "Debrief due tomorrow", when="tomorrow")
        sent += 1
    return sent
