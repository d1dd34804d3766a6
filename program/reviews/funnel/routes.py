"""Funnel reality check pages of a review meeting: the funnel (form or CSV), its loss reasons and the
sensitivity ranking (page, CSV, PDF), with the helpers every page of the blueprint uses. The same "funnel"
blueprint carries the mini-teams and ideas (``team_routes``) and the win/loss playback (``playback_routes``).
Thin: parse, call one service, commit once, flash, redirect.

Who: the facilitator (host, host's manager, admin) edits; team members add their team's ideas;
attendees give deal feedback; leaders, HR, admins and participants read. For anyone else the pages
don't exist (404); a reader trying to edit gets 403.
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms import SelectChoice

from program.activities.models import Activity
from program.debriefs.models import CODE_CATEGORY_LABELS, CodeCategory
from program.errors import DomainError
from program.extensions import db
from program.formutil import options
from program.pdf import html_to_pdf
from program.reviews.funnel import sensitivity as ranking
from program.reviews.funnel import services
from program.reviews.funnel.forms import FunnelForm, FunnelUploadForm, StageReasonForm
from program.reviews.funnel.inputs import InputProblems, RawStage, check_stages, parse_funnel_csv, parse_money
from program.reviews.funnel.maths import average, money, percent, points
from program.reviews.funnel.models import DEFAULT_STAGES, EFFORT_WEIGHTS
from program.reviews.funnel.permissions import Viewer
from program.timeutil import utcnow
from program.web import ConfirmForm, apply_errors, save_form

bp = Blueprint("funnel", __name__, url_prefix="/meetings/funnel")

HELPERS = {"money": money, "percent": percent, "points": points, "average": average}


@bp.route("/")
@login_required
def index():
    abort(404)


# --- helpers ---------------------------------------------------------------------------------


def load(activity_id: int) -> tuple[Activity, Viewer]:
    """The meeting and what the viewer may do; 404 when it has no funnel pages or isn't theirs to see."""
    activity = services.get_meeting(activity_id)
    if activity is None:
        abort(404)
    viewer = services.viewer_for(current_user, activity)
    if not viewer.can_view:
        abort(404)
    return activity, viewer


def load_for_edit(activity_id: int) -> tuple[Activity, Viewer]:
    activity, viewer = load(activity_id)
    if not viewer.can_edit:
        abort(403)
    return activity, viewer


def render(template: str, activity: Activity, viewer: Viewer, active: str, status: int = 200, **context):
    return render_template(
        template,
        activity=activity,
        viewer=viewer,
        active=active,
        meeting_url=url_for("reviews.detail", activity_id=activity.id),
        effort_weights=EFFORT_WEIGHTS,
        **HELPERS,
        **context,
    ), status


def _problems_to_form(form, exc: InputProblems) -> None:
    """Row problems go beside their fields; the rest to the top of the form."""
    for p in exc.problems:
        target = None
        if p.row is not None and p.field and p.row < len(form.stages):
            target = getattr(form.stages[p.row].form, p.field, None)
        if target is not None:
            target.errors = [*target.errors, p.sentence]
        else:
            form.form_errors.append(str(p))


def read_upload(form) -> str | None:
    raw = form.file.data.read()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        form.file.errors = [*form.file.errors, "The file is not UTF-8 text. Save it as “CSV UTF-8” and try again."]
        return None


def closed_is_read_only(view):
    """A change to a cancelled meeting's funnel work: say so and go back to its page, changing nothing."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if request.method == "POST":
            activity, _viewer = load(kwargs["activity_id"])  # 404 first for those who may not see it
            if activity.is_cancelled:
                flash("This meeting was cancelled; its funnel work can be read but not changed.", "error")
                return redirect(url_for("funnel.workspace", activity_id=activity.id))
        return view(*args, **kwargs)

    return wrapped


def _money_text(cents: int) -> str:
    return str(money(cents)).replace(",", "")


# --- the funnel --------------------------------------------------------------------------------


def _reason_form(view: services.FunnelView, formdata=None) -> StageReasonForm:
    form = StageReasonForm(formdata=formdata) if formdata is not None else StageReasonForm()
    form.stage_id.choices = options([(s.id, s.name) for s in view.transition_stages])
    form.reason_code_id.choices = [
        SelectChoice(c.id, c.label, optgroup=CODE_CATEGORY_LABELS[CodeCategory(c.category)])
        for c in services.reason_choices(services.STAGE_REASON_CATEGORIES)
    ]
    return form


def _workspace(activity, viewer, reason_form=None, status=200):
    view = services.funnel_view(services.snapshot_for(activity.id))
    if viewer.can_edit and view is not None and reason_form is None:
        reason_form = _reason_form(view)
    return render(
        "reviews/funnel_workspace.html", activity, viewer, "funnel", status, funnel=view, reason_form=reason_form
    )


@bp.route("/<int:activity_id>")
@login_required
def workspace(activity_id: int):
    activity, viewer = load(activity_id)
    return _workspace(activity, viewer)


@bp.route("/<int:activity_id>/stages", methods=["GET", "POST"])
@login_required
@closed_is_read_only
def stages(activity_id: int):
    activity, viewer = load_for_edit(activity_id)
    snapshot = services.snapshot_for(activity.id)
    if request.method == "GET":
        if snapshot is not None and snapshot.stages:
            rows = [{"name": s.name, "entering": str(s.entering)} for s in snapshot.stages]
            data = {"period_label": snapshot.period_label, "avg_deal_value": _money_text(snapshot.avg_deal_value_cents)}
        else:
            rows = [{"name": name, "entering": ""} for name in DEFAULT_STAGES]
            data = {"period_label": "", "avg_deal_value": ""}
        form = FunnelForm(data={**data, "stages": rows})
        while len(form.stages) < len(rows) + 3:
            form.stages.append_entry()
    else:
        form = FunnelForm()
        if form.validate_on_submit():
            rows = [
                RawStage(e.form.name.data or "", e.form.entering.data or "", f"Row {i + 1}")
                for i, e in enumerate(form.stages)
            ]
            checked, cents = None, None
            try:
                checked = check_stages(rows)
            except InputProblems as exc:
                _problems_to_form(form, exc)
            try:
                cents = parse_money(form.avg_deal_value.data or "")
            except DomainError as exc:
                apply_errors(form, exc)
            if checked is not None and cents is not None:
                try:
                    services.save_funnel(activity, current_user, form.period_label.data or "", cents, checked, utcnow())
                    db.session.commit()
                except InputProblems as exc:  # the funnel as a whole: ideas or loss reasons on a stage
                    db.session.rollback()
                    form.form_errors.extend(str(p) for p in exc.problems)
                except DomainError as exc:
                    db.session.rollback()
                    apply_errors(form, exc)
                else:
                    flash("The funnel is saved.", "success")
                    return redirect(url_for("funnel.workspace", activity_id=activity.id))
    return render("reviews/funnel_stages.html", activity, viewer, "funnel", 422 if form.errors else 200, form=form)


@bp.route("/<int:activity_id>/upload", methods=["GET", "POST"])
@login_required
@closed_is_read_only
def upload(activity_id: int):
    activity, viewer = load_for_edit(activity_id)
    problems: list[str] = []
    if request.method == "GET":
        snapshot = services.snapshot_for(activity.id)
        form = FunnelUploadForm(
            data={
                "period_label": snapshot.period_label if snapshot else "",
                "avg_deal_value": _money_text(snapshot.avg_deal_value_cents) if snapshot else "",
            }
        )
    else:
        form = FunnelUploadForm()
        if form.validate_on_submit():
            content = read_upload(form)
            cents = None
            try:
                cents = parse_money(form.avg_deal_value.data or "")
            except DomainError as exc:
                apply_errors(form, exc)
            if content is not None and cents is not None:
                try:
                    checked = parse_funnel_csv(content)
                    services.save_funnel(activity, current_user, form.period_label.data or "", cents, checked, utcnow())
                    db.session.commit()
                except InputProblems as exc:  # every bad line, named
                    db.session.rollback()
                    problems = [str(p) for p in exc.problems]
                except DomainError as exc:
                    db.session.rollback()
                    apply_errors(form, exc)
                else:
                    flash(
                        f"The funnel is saved from {form.file.data.filename or 'the file'}: {len(checked)} stages.",
                        "success",
                    )
                    return redirect(url_for("funnel.workspace", activity_id=activity.id))
    status = 422 if (form.errors or problems) else 200
    return render("reviews/funnel_upload.html", activity, viewer, "funnel", status, form=form, problems=problems)


@bp.route("/<int:activity_id>/sample.csv")
@login_required
def sample_csv(activity_id: int):
    load_for_edit(activity_id)
    body = "stage,entering\r\nLead,1200\r\nMQL,480\r\nSQL,150\r\nOpportunity,60\r\nWon,15\r\n"
    return Response(
        body, mimetype="text/csv", headers={"Content-Disposition": 'attachment; filename="funnel-sample.csv"'}
    )


@bp.route("/<int:activity_id>/reasons", methods=["POST"])
@login_required
@closed_is_read_only
def add_reason(activity_id: int):
    activity, viewer = load_for_edit(activity_id)
    view = services.funnel_view(services.snapshot_for(activity.id))
    if view is None:
        abort(404)
    form = _reason_form(view, request.form)
    if form.validate_on_submit():
        saved, _ = save_form(
            form,
            lambda: services.set_stage_reason(
                activity, current_user, form.stage_id.data, form.reason_code_id.data, form.count.data, utcnow()
            ),
        )
        if saved:
            flash("Loss reason recorded.", "success")
            return redirect(url_for("funnel.workspace", activity_id=activity.id, _anchor="funnel-table"))
    return _workspace(activity, viewer, reason_form=form, status=422)


@bp.route("/<int:activity_id>/reasons/<int:reason_id>/delete", methods=["POST"])
@login_required
@closed_is_read_only
def delete_reason(activity_id: int, reason_id: int):
    activity, _viewer = load_for_edit(activity_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        services.remove_stage_reason(activity, current_user, reason_id)
        db.session.commit()
    except DomainError:  # a reason of another meeting, or one already removed: there is nothing here
        db.session.rollback()
        abort(404)
    flash("Loss reason removed.", "success")
    return redirect(url_for("funnel.workspace", activity_id=activity.id, _anchor="funnel-table"))


# --- sensitivity -----------------------------------------------------------------------------


@bp.route("/<int:activity_id>/sensitivity")
@login_required
def sensitivity(activity_id: int):
    activity, viewer = load(activity_id)
    report = ranking.sensitivity_report(activity.id)
    stage_chart, idea_chart = ranking.sensitivity_charts(report) if report.funnel else (None, None)
    return render(
        "reviews/funnel_sensitivity.html",
        activity,
        viewer,
        "sensitivity",
        report=report,
        stage_chart=stage_chart,
        idea_chart=idea_chart,
    )


def _export_name(activity: Activity, ext: str) -> str:
    return f"funnel-sensitivity-{activity.id}-{utcnow():%Y-%m-%d}.{ext}"


@bp.route("/<int:activity_id>/sensitivity.csv")
@login_required
def sensitivity_csv(activity_id: int):
    activity, _viewer = load(activity_id)
    report = ranking.sensitivity_report(activity.id)
    return Response(
        ranking.sensitivity_csv(report),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{_export_name(activity, "csv")}"'},
    )


@bp.route("/<int:activity_id>/sensitivity.pdf")
@login_required
def sensitivity_pdf(activity_id: int):
    activity, _viewer = load(activity_id)
    report = ranking.sensitivity_report(activity.id)
    if report.funnel is None:
        abort(404)
    stage_chart, idea_chart = ranking.sensitivity_charts(report)
    html = render_template(
        "reports/pdf/funnel_sensitivity.html",
        activity=activity,
        report=report,
        stage_chart=stage_chart,
        idea_chart=idea_chart,
        generated_at=utcnow(),
        effort_weights=EFFORT_WEIGHTS,
        **HELPERS,
    )
    return Response(
        html_to_pdf(html),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{_export_name(activity, "pdf")}"'},
    )
