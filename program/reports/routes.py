"""The HR participation report, its exports (CSV streamed; XLSX and PDF as background jobs) and the
export audit. HR and admins only; an export is also visible to whoever asked for it. Others get 404.
"""

from __future__ import annotations

import io

from flask import (
    Blueprint,
    Response,
    abort,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_login import current_user, login_required
from wtforms import HiddenField
from wtforms.validators import AnyOf

from program.extensions import db
from program.filters import viewer_timezone
from program.periods import local_today
from program.reports import exporters, jobs
from program.reports.models import ExportFormat, ExportJob, JobState
from program.reports.permissions import can_see_export, can_view_reports
from program.reports.services import ReportFilters, build_report, describe_filters, filter_options
from program.timeutil import utcnow
from program.validation import TandemForm
from program.web import client_ip, page_args

bp = Blueprint("reports", __name__, url_prefix="/reports")

JOB_FORMATS = (ExportFormat.XLSX.value, ExportFormat.PDF.value)


class ExportForm(TandemForm):
    """Start a background export; the filters ride along as hidden fields named like the page's."""

    format = HiddenField(validators=[AnyOf(JOB_FORMATS)])


def _require_reports() -> None:
    if not can_view_reports(current_user):
        abort(404)


def _filters(source) -> ReportFilters:
    return ReportFilters.from_args(source, local_today(utcnow(), viewer_timezone()))


class _Page:
    """A page of an in-memory list, shaped like Flask-SQLAlchemy's pagination for the pager macro."""

    def __init__(self, items: list, page: int, per_page: int) -> None:
        self.total = len(items)
        self.per_page = per_page
        self.pages = max((self.total + per_page - 1) // per_page, 1)
        self.page = min(page, self.pages)
        self.items = items[(self.page - 1) * per_page : self.page * per_page]
        self.has_prev, self.has_next = self.page > 1, self.page < self.pages
        self.prev_num, self.next_num = self.page - 1, self.page + 1


@bp.route("/")
@login_required
def participation():
    _require_reports()
    now = utcnow()
    tz = viewer_timezone()
    filters = _filters(request.args)
    report = build_report(filters, tz, now)
    page, per_page = page_args(50)
    return render_template(
        "reports/participation.html",
        report=report,
        charts=report.charts,
        page=_Page(report.rows, page, per_page),
        f=filters,
        args=filters.args(),
        choices=filter_options(local_today(now, tz)),
    )


@bp.route("/participation.csv")
@login_required
def participation_csv():
    """The report as CSV, streamed from a server-side cursor (never built in memory); logged first."""
    _require_reports()
    now = utcnow()
    tz = viewer_timezone()
    filters = _filters(request.args)
    jobs.log_export(current_user, ExportFormat.CSV.value, filters, now, ip=client_ip())
    db.session.commit()
    return Response(
        stream_with_context(exporters.csv_stream(filters, tz, now)),
        content_type=ExportFormat.CSV.mimetype,
        headers={"Content-Disposition": f'attachment; filename="{exporters.filename(filters, "csv")}"'},
    )


@bp.route("/exports", methods=["POST"])
@login_required
def start_export():
    _require_reports()
    form = ExportForm()
    if not form.validate_on_submit():
        abort(400)
    now = utcnow()
    filters = _filters(request.form)
    job = jobs.create_job(current_user, form.format.data, filters, viewer_timezone(), now, ip=client_ip())
    db.session.commit()  # the export task is queued when this commits
    return redirect(url_for("reports.export_job", job_id=job.id))


def _job_or_404(job_id: int) -> ExportJob:
    job = db.session.get(ExportJob, job_id)
    if job is None or not can_see_export(current_user, job):
        abort(404)
    return job


@bp.route("/exports/<int:job_id>")
@login_required
def export_job(job_id: int):
    job = _job_or_404(job_id)
    described = describe_filters([job.filters])[0]
    response = make_response(
        render_template(
            "reports/job.html",
            job=job,
            described=described,
            available=jobs.has_file(job),
            states=JobState,
        )
    )
    if not job.finished:
        # Reload every two seconds until the file is ready: no script needed (the CSP allows none inline).
        response.headers["Refresh"] = "2"
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/exports/<int:job_id>/download")
@login_required
def download_export(job_id: int):
    job = _job_or_404(job_id)
    content = jobs.job_content(job)
    if content is None:
        abort(404)
    mimetype = job.format.mimetype.split(";")[0]  # send_file adds the charset itself for text
    return send_file(io.BytesIO(content), mimetype=mimetype, as_attachment=True, download_name=job.filename)


@bp.route("/exports/audit")
@login_required
def audit():
    _require_reports()
    page, per_page = page_args(50)
    pagination = jobs.audit_page(page, per_page)
    entries = list(pagination.items)
    described = describe_filters([e.filters for e in entries])
    return render_template("reports/audit.html", pagination=pagination, rows=list(zip(entries, described, strict=True)))
