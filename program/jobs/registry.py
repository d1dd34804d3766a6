"""What the job engine runs: tasks (one piece of work, deferred with JSON arguments) and schedules (periodic
runs of registered jobs), both registered by each domain in its ``init_app``. This module knows no domain.

A task is a function called with keyword arguments inside an app context; its work is committed when it
returns and rolled back when it raises (the runner then retries it with backoff, up to ``max_attempts``).
A scheduled job takes ``now`` and returns how many things it did; each job of a schedule runs in its own
transaction, so one failing job spoils no other. A job that sends a notice first records the notice's
unique key with ``claim`` in the same transaction as the outbox row of that notice: the notice is recorded
and queued together, or neither (and the next run tries again).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from program.extensions import db
from program.timeutil import UTCDateTime, utcnow

log = logging.getLogger("tandem.jobs")

QUEUES = ("mail", "default", "exports")


@dataclass(frozen=True)
class Task:
    name: str
    fn: Callable[..., Any]
    queue: str = "default"
    max_attempts: int = 5
    backoff: int = 3  # seconds; waits backoff ** (attempt + 1): 3, 9, 27, 81 … (procrastinate's exponential_wait)

    def wait(self, attempts: int) -> int:
        """Seconds before the next try after ``attempts`` failed ones."""
        return int(self.backoff ** (attempts + 1))


_TASKS: dict[str, Task] = {}

ScheduledJob = Callable[[datetime], int]
# schedule name → job name → job, in registration order (the order of DOMAINS)
_SCHEDULES: dict[str, dict[str, ScheduledJob]] = {"sweep": {}, "reminders": {}, "hourly": {}, "weekly": {}}
# schedule → the config key holding its cron expression (the defaults are in program/config.py)
SCHEDULE_CRON = {
    "sweep": "JOBS_SWEEP_CRON",
    "reminders": "JOBS_REMINDERS_CRON",
    "hourly": "JOBS_HOURLY_CRON",
    "weekly": "JOBS_WEEKLY_CRON",
}


def register_task(
    name: str, fn: Callable[..., Any], *, queue: str = "default", max_attempts: int = 5, backoff: int = 3
):
    """Make ``fn`` deferrable as ``name`` on ``queue``. Registering the same name again replaces it."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; queues are {', '.join(QUEUES)}")
    _TASKS[name] = Task(name, fn, queue, max_attempts, backoff)


def get_task(name: str) -> Task:
    return _TASKS[name]


def registered_tasks() -> list[Task]:
    return list(_TASKS.values())


def register_job(name: str, job: ScheduledJob, schedule: str = "reminders") -> None:
    """Add ``job`` to a schedule: "sweep" (every minute), "reminders" (every few minutes), "hourly" or
    "weekly". Registering the same name again replaces it, so building several apps (as the tests do) never
    runs a job twice."""
    if schedule not in _SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; schedules are {', '.join(_SCHEDULES)}")
    for jobs in _SCHEDULES.values():
        jobs.pop(name, None)
    _SCHEDULES[schedule][name] = job


def schedules() -> list[str]:
    return list(_SCHEDULES)


def registered_jobs(schedule: str = "reminders") -> list[str]:
    return list(_SCHEDULES.get(schedule, {}))


class ScheduleFailed(RuntimeError):
    """One or more jobs of a schedule raised; the others ran and were committed."""


def run_scheduled(now: datetime, schedule: str = "reminders") -> list[tuple[str, int]]:
    """Run every job of the schedule at ``now``, each in its own transaction; (job name, count) for each, in
    registration order. Raises ScheduleFailed at the end if any job raised."""
    results, failed = [], []
    for name, job in list(_SCHEDULES.get(schedule, {}).items()):
        try:
            count = job(now)
            db.session.commit()
        except Exception:  # noqa: BLE001 — logged and reported; the other jobs still run
            db.session.rollback()
            log.exception("scheduled job %r failed", name)
            failed.append(name)
            count = -1
        results.append((name, count))
    if failed:
        raise ScheduleFailed(f"{schedule}: {', '.join(failed)} failed (see the log)")
    return results


def run_all(now: datetime) -> list[tuple[str, int]]:
    """Everything ``flask send-reminders`` runs: the reminders, hourly and sweep schedules."""
    results: list[tuple[str, int]] = []
    for schedule in ("reminders", "hourly", "sweep"):
        results += run_scheduled(now, schedule)
    return results


class SentNotice(db.Model):
    """One row per reminder or notice sent by a scheduled job (and per periodic run of the embedded runner);
    the unique key makes the job idempotent."""

    __tablename__ = "sent_notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def purge_periodic_records(now: datetime) -> int:
    """Forget the once-per-period records of schedule runs older than two days (reminder keys stay)."""
    from datetime import timedelta

    from sqlalchemy import delete

    result = db.session.execute(
        delete(SentNotice).where(SentNotice.key.like("periodic:%"), SentNotice.sent_at < now - timedelta(days=2))
    )
    return result.rowcount


def claim(key: str, now: datetime) -> bool:
    """Record that the notice ``key`` is being sent; False when it was sent before."""
    if db.session.scalar(select(SentNotice.id).where(SentNotice.key == key)) is not None:
        return False
    try:
        with db.session.begin_nested():
            db.session.add(SentNotice(key=key, sent_at=now))
    except IntegrityError:
        return False
    return True
