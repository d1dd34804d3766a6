"""One worker running one export job (the ``reports.export`` task, on the ``exports`` queue): claiming it (one
conditional UPDATE, so only one worker wins), a heartbeat from its own thread while the work goes on, progress
as it writes, and the finished file stored in the database in the same transaction that marks the job done —
so any host can serve it, and a worker killed mid-way leaves nothing half-done. Every write is conditional on
the worker still owning the job.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
import socket
import threading
import time
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import and_, or_, update

from program.extensions import db
from program.periods import local_today
from program.reports import exporters
from program.reports.models import ExportFile, ExportFormat, ExportJob, JobState
from program.reports.services import ReportFilters, build_report, describe_filters
from program.timeutil import to_zone, utcnow

log = logging.getLogger("tandem.exports")

DEFAULTS = {
    "EXPORT_KEEP_HOURS": 24,
    "EXPORT_STALE_SECONDS": 120,
    "EXPORT_HEARTBEAT_SECONDS": 10,
}


def setting(name: str):
    return current_app.config.get(name, DEFAULTS.get(name))


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{secrets.token_hex(3)}"[:100]


def claim(job_id: int, worker: str, now: datetime) -> bool:
    """Take the job if it is queued or its worker has gone quiet; one conditional UPDATE, so only one wins."""
    stale_before = now - timedelta(seconds=int(setting("EXPORT_STALE_SECONDS")))
    result = db.session.execute(
        update(ExportJob)
        .where(
            ExportJob.id == job_id,
            or_(
                ExportJob.state == JobState.QUEUED.value,
                and_(ExportJob.state == JobState.RUNNING.value, ExportJob.heartbeat_at < stale_before),
            ),
        )
        .values(
            state=JobState.RUNNING.value,
            worker=worker,
            started_at=now,
            heartbeat_at=now,
            attempts=ExportJob.attempts + 1,
            progress=0,
            message="Starting",
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def _mine(job_id: int, worker: str, **values) -> bool:
    """Update the job only while this worker still owns it; commits."""
    result = db.session.execute(
        update(ExportJob)
        .where(ExportJob.id == job_id, ExportJob.worker == worker, ExportJob.state == JobState.RUNNING.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


class Heartbeat:
    """Touches the job's heartbeat every few seconds from its own thread while the work goes on."""

    def __init__(self, app: Flask, job_id: int, worker: str, every: float) -> None:
        self.app, self.job_id, self.worker, self.every = app, job_id, worker, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"export-{job_id}-heartbeat", daemon=True)

    def _run(self) -> None:
        with self.app.app_context():
            try:
                while not self._stop.wait(self.every):
                    try:
                        _mine(self.job_id, self.worker, heartbeat_at=utcnow())
                    except Exception:  # noqa: BLE001 — a missed beat is retried; the work must go on
                        db.session.rollback()
            finally:
                db.session.remove()

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def report_meta(job: ExportJob, filters: ReportFilters) -> list[tuple[str, str]]:
    org = current_app.config.get("ORG_NAME", "")
    described = describe_filters([filters.args()])[0]
    generated = to_zone(job.as_of, job.tz).strftime("%d %b %Y %H:%M %Z")
    return [("Organisation", org), *described, ("Generated", generated)]


ROWS_PER_PAGE = 30


def pdf_progress(job_id: int, worker: str, rows: int):
    """Turns WeasyPrint's steps into the job's progress: layout pages move it from 55 % to 90 %, writing the
    file to 95 %. At most one update a second."""
    pages = max(rows // ROWS_PER_PAGE + 2, 1)
    last = {"at": 0.0}

    def on_step(message: str) -> None:
        if "Creating layout - Page" in message:
            page = int(message.rsplit(" ", 1)[-1]) if message.rsplit(" ", 1)[-1].isdigit() else 1
            percent, text = 55 + min(35 * page // pages, 35), f"Laying out page {page}"
        elif "Creating PDF" in message:
            percent, text = 92, "Writing the PDF"
        else:
            return
        now = time.monotonic()
        if now - last["at"] >= 1.0:
            last["at"] = now
            _mine(job_id, worker, progress=percent, message=text, heartbeat_at=utcnow())

    return on_step


def _content(job_id: int, worker: str, kind: str, report, meta) -> bytes:
    """The finished file's bytes, reporting progress as it is written."""
    if kind == ExportFormat.XLSX.value:
        lines = exporters.lines_of(report.rows)

        def step(percent: int) -> None:
            _mine(job_id, worker, progress=40 + percent * 55 // 100, heartbeat_at=utcnow())

        out = io.BytesIO()
        exporters.write_xlsx(out, lines, meta, title="Participation report", progress=step)
        return out.getvalue()
    if kind == ExportFormat.PDF.value:
        org = current_app.config.get("ORG_NAME", "")
        html = exporters.report_html(report, meta, dict(meta).get("Generated", ""), org)
        _mine(job_id, worker, progress=50, message="Laying out the PDF", heartbeat_at=utcnow())
        return exporters.render_pdf(html, pdf_progress(job_id, worker, len(report.rows)))
    text = io.StringIO()
    text.write(exporters.BOM + exporters.csv_line(exporters.header()))
    for line_kind, item in exporters.report_lines(report.rows):
        text.write(exporters.csv_line(exporters.line_cells(line_kind, item)))
    return text.getvalue().encode("utf-8")


def _store(job_id: int, worker: str, content: bytes, rows: int) -> bool:
    """Store the file and mark the job done, in one transaction, only while this worker owns the job."""
    done_at = utcnow()
    db.session.merge(ExportFile(job_id=job_id, content=content))
    result = db.session.execute(
        update(ExportJob)
        .where(ExportJob.id == job_id, ExportJob.worker == worker, ExportJob.state == JobState.RUNNING.value)
        .values(
            state=JobState.DONE.value,
            progress=100,
            message="Ready",
            size=len(content),
            rows=rows,
            finished_at=done_at,
            heartbeat_at=done_at,
            expires_at=done_at + timedelta(hours=float(setting("EXPORT_KEEP_HOURS"))),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # another worker took the job over meanwhile; its file wins
        db.session.rollback()
        return False
    db.session.commit()
    return True


def run_job(job_id: int, worker: str | None = None) -> bool:
    """Claim and run one job; False when someone else has it (or it is finished)."""
    worker = worker or _worker_name()
    if not claim(job_id, worker, utcnow()):
        return False
    job = db.session.get(ExportJob, job_id)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with Heartbeat(app, job_id, worker, float(setting("EXPORT_HEARTBEAT_SECONDS"))):
        try:
            _mine(job_id, worker, progress=5, message="Collecting the rows", heartbeat_at=utcnow())
            filters = ReportFilters.from_args(job.filters, local_today(job.as_of, job.tz))
            report = build_report(filters, job.tz, job.as_of)
            meta = report_meta(job, filters)
            kind = job.kind
            db.session.commit()  # end the read transaction before the long write
            _mine(job_id, worker, progress=40, message="Writing the file", heartbeat_at=utcnow())
            content = _content(job_id, worker, kind, report, meta)
            return _store(job_id, worker, content, len(report.rows))
        except Exception as exc:  # noqa: BLE001 — any failure is reported on the job's page
            db.session.rollback()
            log.exception("export job %s failed", job_id)
            _mine(
                job_id,
                worker,
                state=JobState.FAILED.value,
                message="Failed",
                error=f"{type(exc).__name__}: {exc}"[:2000],
                finished_at=utcnow(),
            )
            return False


def run_export(job_id: int) -> None:
    """The ``reports.export`` task."""
    run_job(job_id)
