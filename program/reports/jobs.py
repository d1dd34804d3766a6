"""Background exports: jobs are database rows, so their state survives a worker restart.

Rules kept here:
- asking for an export writes the job (queued) and its audit row in one transaction, and the
  ``reports.export`` task is deferred on the ``exports`` queue when that transaction commits (a worker
  process in production, never a web worker; the embedded runner's export thread on SQLite);
- a worker claims a job with one conditional UPDATE (queued, or running with a heartbeat older than
  EXPORT_STALE_SECONDS — a dead worker's job), so two workers never run the same job;
- while it runs, the worker reports progress and a heartbeat every EXPORT_HEARTBEAT_SECONDS; every
  write is conditional on it still owning the job;
- the finished file is stored in the database (``export_file``) in the transaction that marks the job
  done, so any host can serve it; it is kept for EXPORT_KEEP_HOURS, then the hourly purge deletes it;
- the sweep queues again a job that waits too long or whose worker stopped beating.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import joinedload

from program.accounts.models import User
from program.extensions import db
from program.jobs import defer, defer_after_commit, deliver_before_exit
from program.reports import exporters
from program.reports.models import ExportAudit, ExportFile, ExportFormat, ExportJob, JobState
from program.reports.services import ReportFilters
from program.reports.worker import run_job, setting
from program.timeutil import utcnow

EXPORT_TASK = "reports.export"


def log_export(
    user: User, kind: str, filters: ReportFilters, now: datetime, *, job: ExportJob | None = None, ip: str = ""
) -> ExportAudit:
    """Record who exported what, when and with which filters (same transaction as the export itself)."""
    audit = ExportAudit(user_id=user.id, at=now, kind=kind, filters_json=filters.to_json(), job=job, ip=ip[:64])
    db.session.add(audit)
    db.session.flush()
    return audit


def audit_page(page: int, per_page: int) -> Pagination:
    """The export audit, newest first, with who exported and the job (if any)."""
    stmt = (
        select(ExportAudit)
        .options(joinedload(ExportAudit.user), joinedload(ExportAudit.job))
        .order_by(ExportAudit.at.desc(), ExportAudit.id.desc())
    )
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)


def create_job(user: User, kind: str, filters: ReportFilters, tz: str, now: datetime, *, ip: str = "") -> ExportJob:
    """Queue an export of the participation report and log it."""
    fmt = ExportFormat(kind)
    job = ExportJob(
        kind=fmt.value,
        filters_json=filters.to_json(),
        tz=tz,
        as_of=now,
        state=JobState.QUEUED.value,
        message="Waiting to start",
        filename=exporters.filename(filters, fmt.value),
        created_by_id=user.id,
        created_at=now,
    )
    db.session.add(job)
    db.session.flush()
    log_export(user, fmt.value, filters, now, job=job, ip=ip)
    defer_after_commit(EXPORT_TASK, lock=f"export:{job.id}", job_id=job.id)
    return job


def pending_jobs(now: datetime) -> list[int]:
    """Jobs waiting for a worker: queued ones, and running ones whose worker stopped beating."""
    stale_before = now - timedelta(seconds=int(setting("EXPORT_STALE_SECONDS")))
    return list(
        db.session.scalars(
            select(ExportJob.id)
            .where(
                or_(
                    ExportJob.state == JobState.QUEUED.value,
                    and_(ExportJob.state == JobState.RUNNING.value, ExportJob.heartbeat_at < stale_before),
                )
            )
            .order_by(ExportJob.created_at, ExportJob.id)
        )
    )


def sweep(now: datetime) -> int:
    """Queue again the jobs nobody is running: queued for longer than the grace time (the deferral was lost),
    or running with a stale heartbeat (the worker died). A job that is already waiting is not queued twice."""
    grace = now - timedelta(seconds=int(current_app.config["JOBS_SWEEP_GRACE_SECONDS"]))
    waiting = [
        job_id
        for job_id, created_at, state in db.session.execute(
            select(ExportJob.id, ExportJob.created_at, ExportJob.state).where(ExportJob.id.in_(pending_jobs(now)))
        )
        if state == JobState.RUNNING.value or created_at < grace
    ]
    db.session.commit()
    for job_id in waiting:
        defer(EXPORT_TASK, lock=f"export:{job_id}", job_id=job_id)
    return len(waiting)


def run_pending(now: datetime) -> int:
    """Run every waiting job (``flask run-export-jobs``); returns how many this process completed."""
    done = 0
    for job_id in pending_jobs(now):
        done += run_job(job_id)
    return done


def purge_expired(now: datetime) -> int:
    """Delete the files of finished exports past their expiry; the job row stays (as "expired")."""
    jobs = db.session.scalars(
        select(ExportJob).where(ExportJob.state == JobState.DONE.value, ExportJob.expires_at <= now)
    ).all()
    if jobs:
        db.session.execute(delete(ExportFile).where(ExportFile.job_id.in_([job.id for job in jobs])))
    for job in jobs:
        job.state = JobState.EXPIRED.value
        job.message = "Expired"
    db.session.commit()
    return len(jobs)


def has_file(job: ExportJob) -> bool:
    """Whether the finished file can be downloaded (without loading it)."""
    if job.state != JobState.DONE.value:
        return False
    return db.session.scalar(select(ExportFile.job_id).where(ExportFile.job_id == job.id)) is not None


def job_content(job: ExportJob) -> bytes | None:
    """The finished file, if it is still kept."""
    if job.state != JobState.DONE.value:
        return None
    return db.session.scalar(select(ExportFile.content).where(ExportFile.job_id == job.id))


@click.command("run-export-jobs")
@with_appcontext
def run_export_jobs_command() -> None:
    """Run queued export jobs here and take over ones a dead worker left running; delete expired files.
    For cron users without `flask worker`; safe every minute: a job is only ever run by one worker."""
    deliver_before_exit()
    now = utcnow()
    ran = run_pending(now)
    purged = purge_expired(utcnow())
    click.echo(f"export jobs run: {ran}")
    click.echo(f"expired export files deleted: {purged}")
