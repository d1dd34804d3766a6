"""Background exports: jobs are database rows, so their state survives a worker restart.

Rules kept here:
- asking for an export writes the job (queued) and its audit row in one transaction;
- a worker claims a job with one conditional UPDATE (queued, or running with a heartbeat older than
  EXPORT_STALE_SECONDS — a dead worker's job), so two workers never run the same job;
- while it runs, the worker reports progress and a heartbeat every EXPORT_HEARTBEAT_SECONDS; every
  write is conditional on it still owning the job;
- the file is written under EXPORT_DIR (default ``instance/exports``) to a temporary name and renamed
  when complete; it is kept for EXPORT_KEEP_HOURS, then ``flask run-export-jobs`` deletes it;
- where a job runs is EXPORT_JOBS_MODE: "thread" (a daemon thread started by the request, with its own
  app context; the default), "inline" (in the request: tests) or "queue" (only the CLI runs jobs).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import joinedload

from program.accounts.models import User
from program.extensions import db
from program.reports import exporters
from program.reports.models import ExportAudit, ExportFormat, ExportJob, JobState
from program.reports.services import ReportFilters
from program.reports.worker import export_dir, log, run_job, setting
from program.timeutil import utcnow


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
    return job


def start_job(job_id: int) -> threading.Thread | None:
    """Run a committed job where EXPORT_JOBS_MODE says; returns the thread when one was started."""
    mode = setting("EXPORT_JOBS_MODE")
    if mode == "inline":
        run_job(job_id)
        return None
    if mode == "thread":
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        thread = threading.Thread(target=_thread_main, args=(app, job_id), name=f"export-{job_id}", daemon=True)
        thread.start()
        return thread
    return None  # "queue": `flask run-export-jobs` picks it up


def _thread_main(app: Flask, job_id: int) -> None:
    with app.app_context():
        try:
            run_job(job_id)
        except Exception:  # noqa: BLE001 — a background thread has no one else to tell
            log.exception("export job %s crashed", job_id)
        finally:
            db.session.remove()


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
    folder = export_dir()
    for job in jobs:
        if job.file_path:
            path = Path(job.file_path).resolve()
            if path.is_relative_to(folder):
                path.unlink(missing_ok=True)
        job.state = JobState.EXPIRED.value
        job.file_path = ""
        job.message = "Expired"
    db.session.commit()
    return len(jobs)


def job_file(job: ExportJob) -> Path | None:
    """The finished file, if it is still there and inside the export folder."""
    if job.state != JobState.DONE.value or not job.file_path:
        return None
    path = Path(job.file_path).resolve()
    if not path.is_relative_to(export_dir()) or not path.is_file():
        return None
    return path


@click.command("run-export-jobs")
@with_appcontext
def run_export_jobs_command() -> None:
    """Run queued export jobs and take over ones a dead worker left running; delete expired files.
    Safe from cron every minute: a job is only ever run by one worker."""
    now = utcnow()
    ran = run_pending(now)
    purged = purge_expired(utcnow())
    click.echo(f"export jobs run: {ran}")
    click.echo(f"expired export files deleted: {purged}")
