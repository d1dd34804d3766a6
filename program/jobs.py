"""Scheduled jobs: each domain registers its own in its ``init_app``; ``flask send-reminders`` runs them all.

Every job takes ``now`` and returns how many things it did. A job that sends a notice first records the
notice's unique key with ``claim`` (inside a savepoint), so running the command twice, or on two hosts at
once, never sends the same notice twice. This module knows no domain.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import click
from flask import Flask
from sqlalchemy import String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from program.extensions import db
from program.timeutil import UTCDateTime, utcnow

ScheduledJob = Callable[[datetime], int]
# schedule name → job name → job, in registration order (the order of DOMAINS)
_SCHEDULES: dict[str, dict[str, ScheduledJob]] = {"reminders": {}}


class SentNotice(db.Model):
    """One row per reminder or notice sent by a scheduled job; the unique key makes the job idempotent."""

    __tablename__ = "sent_notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def register_job(name: str, job: ScheduledJob, schedule: str = "reminders") -> None:
    """Add ``job`` to a schedule ("reminders": every few minutes). Registering the same name again replaces
    it, so building several apps (as the tests do) never runs a job twice."""
    _SCHEDULES.setdefault(schedule, {})[name] = job


def registered_jobs(schedule: str = "reminders") -> list[str]:
    return list(_SCHEDULES.get(schedule, {}))


def run_scheduled(now: datetime, schedule: str = "reminders") -> list[tuple[str, int]]:
    """Run every job of the schedule at ``now``; (job name, count) for each, in registration order."""
    return [(name, job(now)) for name, job in list(_SCHEDULES.get(schedule, {}).items())]


def run_all(now: datetime) -> list[tuple[str, int]]:
    """Everything ``flask send-reminders`` runs."""
    return run_scheduled(now, "reminders")


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


def init_app(app: Flask) -> None:
    """``flask send-reminders``: the command cron calls every few minutes."""

    @app.cli.command("send-reminders")
    def send_reminders_command() -> None:
        """Send due reminders and pass on expired offers. Idempotent: safe from cron every few minutes."""
        results = run_all(utcnow())
        db.session.commit()
        for name, count in results:
            click.echo(f"{name}: {count}")
