"""Funnel reality check and win/loss playback pages of a review meeting. Thin: parse, call
``program.reviews.funnel``, commit once, flash, redirect.

Who: the facilitator (host, host's manager, admin) edits; team members add their team's ideas;
attendees give deal feedback; leaders, HR, admins and participants read. For anyone else the pages
don't exist (404); a reader trying to edit gets 403.
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms import SelectChoice

from program.activities.models import Activity
from program.debriefs.models import CODE_CATEGORY_LABELS, CodeCategory
from program.errors import DomainError, NotAllowed
from program.extensions import db
from program.formutil import options
from program.reviews import funnel
from program.reviews.funnel_forms import (
    ConfirmForm,
    DealForm,
    DealUploadForm,
    FeedbackForm,
    FunnelForm,
    FunnelUploadForm,
    IdeaForm,
    StageReasonForm,
    SwapForm,
    TeamsForm,
)
from program.reviews.funnel_models import DEFAULT_STAGES, EFFORT_WEIGHTS, DealOutcome
from program.timeutil import utcnow
from program.web import apply_errors, page_args

bp = Blueprint("funnel", __name__, url_prefix="/meetings/funnel")

HELPERS = {"money": funnel.money, "percent": funnel.percent, "points": funnel.points, "average": funnel.average}


@bp.route("/")
@login_required
def index():
    abort(404)


# --- helpers ---------------------------------------------------------------------------------


def _load(activity_id: int) -> tuple[Activity, funnel.Viewer]:
    activity = funnel.get_meeting(activity_id)
    if activity is None:
        abort(404)
    viewer = funnel.viewer_for(current_user, activity)
    if not viewer.can_view:
        abort(404)
    return activity, viewer


def _load_for_edit(activity_id: int) -> tuple[Activity, funnel.Viewer]:
    activity, viewer = _load(activity_id)
    if not viewer.can_edit:
        abort(403)
    return activity, viewer


def _render(template: str, activity: Activity, viewer: funnel.Viewer, active: str, status: int = 200, **context):
    meeting_url = (
        url_for("reviews.detail", activity_id=activity.id) if "reviews.detail" in current_app.view_functions else None
    )
    return render_template(
        template, activity=activity, viewer=viewer, active=active, meeting_url=meeting_url,
        effort_weights=EFFORT_WEIGHTS, **HELPERS, **context,
    ), status


def _problems_to_form(form, exc: funnel.InputProblems) -> None:
    """Row problems go beside their fields; the rest to the top of the form."""
    for p in exc.problems:
        target = None
        if p.row is not None and p.field and p.row < len(form.stages):
            target = getattr(form.stages[p.row].form, p.field, None)
        if target is not None:
            target.errors = [*target.errors, p.sentence]
        else:
            form.form_errors.append(str(p))


def _read_upload(form) -> str | None:
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
            activity, _viewer = _load(kwargs["activity_id"])  # 404 first for those who may not see it
            if activity.is_cancelled:
                flash("This meeting was cancelled; its funnel work can be read but not changed.", "error")
                return redirect(url_for("funnel.workspace", activity_id=activity.id))
        return view(*args, **kwargs)

    return wrapped


def _money_text(cents: int) -> str:
    return str(funnel.money(cents)).replace(",", "")


# --- the funnel --------------------------------------------------------------------------------


def _reason_form(view: funnel.FunnelView, formdata=None) -> StageReasonForm:
    form = StageReasonForm(formdata=formdata) if formdata is not None else StageReasonForm()
    form.stage_id.choices = options([(s.id, s.name) for s in view.transition_stages])
    form.reason_code_id.choices = [
        SelectChoice(c.id, c.label, optgroup=CODE_CATEGORY_LABELS[CodeCategory(c.category)])
        for c in funnel.reason_choices(funnel.STAGE_REASON_CATEGORIES)
    ]
    return form


def _workspace(activity, viewer, reason_form=None, status=200):
    view = funnel.funnel_view(funnel.snapshot_for(activity.id))
    if viewer.can_edit and view is not None and reason_form is None:
        reason_form = _reason_form(view)
    return _render("reviews/funnel_workspace.html", activity, viewer, "funnel", status,
                   funnel=view, reason_form=reason_form, confirm=ConfirmForm())


@bp.route("/<int:activity_id>")
@login_required
def workspace(activity_id: int):
    activity, viewer = _load(activity_id)
    return _workspace(activity, viewer)


@bp.route("/<int:activity_id>/stages", methods=["GET", "POST"])
@login_required
@closed_is_read_only
def stages(activity_id: int):
    activity, viewer = _load_for_edit(activity_id)
    snapshot = funnel.snapshot_for(activity.id)
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
            rows = [funnel.RawStage(e.form.name.data or "", e.form.entering.data or "", f"Row {i + 1}")
                    for i, e in enumerate(form.stages)]
            checked, cents = None, None
            try:
                checked = funnel.check_stages(rows)
            except funnel.InputProblems as exc:
                _problems_to_form(form, exc)
            try:
                cents = funnel.parse_money(form.avg_deal_value.data or "")
            except DomainError as exc:
                apply_errors(form, exc)
            if checked is not None and cents is not None:
                try:
                    funnel.save_funnel(activity, current_user, form.period_label.data or "", cents, checked, utcnow())
                    db.session.commit()
                except funnel.InputProblems as exc:
                    db.session.rollback()
                    form.form_errors.extend(str(p) for p in exc.problems)
                except DomainError as exc:
                    db.session.rollback()
                    apply_errors(form, exc)
                else:
                    flash("The funnel is saved.", "success")
                    return redirect(url_for("funnel.workspace", activity_id=activity.id))
    return _render("reviews/funnel_stages.html", activity, viewer, "funnel", 422 if form.errors else 200, form=form)


@bp.route("/<int:activity_id>/upload", methods=["GET", "POST"])
@login_required
@closed_is_read_only
def upload(activity_id: int):
    activity, viewer = _load_for_edit(activity_id)
    problems: list[str] = []
    if request.method == "GET":
        snapshot = funnel.snapshot_for(activity.id)
        form = FunnelUploadForm(data={
            "period_label": snapshot.period_label if snapshot else "",
            "avg_deal_value": _money_text(snapshot.avg_deal_value_cents) if snapshot else "",
        })
    else:
        form = FunnelUploadForm()
        if form.validate_on_submit():
            content = _read_upload(form)
            cents = None
            try:
                cents = funnel.parse_money(form.avg_deal_value.data or "")
            except DomainError as exc:
                apply_errors(form, exc)
            if content is not None and cents is not None:
                try:
                    checked = funnel.parse_funnel_csv(content)
                    funnel.save_funnel(activity, current_user, form.period_label.data or "", cents, checked, utcnow())
                    db.session.commit()
                except funnel.InputProblems as exc:
                    db.session.rollback()
                    problems = [str(p) for p in exc.problems]
                except DomainError as exc:
                    db.session.rollback()
                    apply_errors(form, exc)
                else:
                    flash(f"The funnel is saved from {form.file.data.filename or 'the file'}: {len(checked)} stages.", "success")
                    return redirect(url_for("funnel.workspace", activity_id=activity.id))
    status = 422 if (form.errors or problems) else 200
    return _render("reviews/funnel_upload.html", activity, viewer, "funnel", status, form=form, problems=problems)


@bp.route("/<int:activity_id>/sample.csv")
@login_required
def sample_csv(activity_id: int):
    _load_for_edit(activity_id)
    body = "stage,entering\r\nLead,1200\r\nMQL,480\r\nSQL,150\r\nOpportunity,60\r\nWon,15\r\n"
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": 'attachment; filename="funnel-sample.csv"'})


@bp.route("/<int:activity_id>/reasons", methods=["POST"])
@login_required
@closed_is_read_only
def add_reason(activity_id: int):
    activity, viewer = _load_for_edit(activity_id)
    view = funnel.funnel_view(funnel.snapshot_for(activity.id))
    if view is None:
        abort(404)
    form = _reason_form(view, request.form)
    if form.validate_on_submit():
        try:
            funnel.set_stage_reason(activity, current_user, form.stage_id.data, form.reason_code_id.data, form.count.data, utcnow())
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            flash("Loss reason recorded.", "success")
            return redirect(url_for("funnel.workspace", activity_id=activity.id, _anchor="funnel-table"))
    return _workspace(activity, viewer, reason_form=form, status=422)


@bp.route("/<int:activity_id>/reasons/<int:reason_id>/delete", methods=["POST"])
@login_required
@closed_is_read_only
def delete_reason(activity_id: int, reason_id: int):
    activity, _viewer = _load_for_edit(activity_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        funnel.remove_stage_reason(activity, current_user, reason_id)
        db.session.commit()
    except DomainError:
        db.session.rollback()
        abort(404)
    flash("Loss reason removed.", "success")
    return redirect(url_for("funnel.workspace", activity_id=activity.id, _anchor="funnel-table"))


# --- mini-teams ------------------------------------------------------------------------------


def _teams_page(activity, viewer, teams_form=None, swap_form=None, status=200):
    teams = funnel.teams_for(activity.id)
    unassigned = funnel.unassigned_attendees(activity.id, teams)
    view = funnel.funnel_view(funnel.snapshot_for(activity.id))
    if viewer.can_edit:
        teams_form = teams_form or TeamsForm()
        swap_form = swap_form or SwapForm()
        people = [(m.user_id, f"{m.name} ({t.name})") for t in teams for m in t.members]
        people += [(m.user_id, f"{m.name} (no team)") for m in unassigned]
        swap_form.user_a.choices = options(people)
        swap_form.user_b.choices = options(people)
        if not swap_form.is_submitted() and len(people) > 1:
            swap_form.user_b.data = people[1][0]  # two different people to start from
    return _render("reviews/funnel_teams.html", activity, viewer, "teams", status, teams=teams, unassigned=unassigned,
                   funnel=view, teams_form=teams_form, swap_form=swap_form,
                   has_ideas=any(i.team_id for i in funnel.ideas_for(activity.id)))


@bp.route("/<int:activity_id>/teams", methods=["GET", "POST"])
@login_required
@closed_is_read_only
def teams(activity_id: int):
    if request.method == "GET":
        activity, viewer = _load(activity_id)
        return _teams_page(activity, viewer)
    activity, viewer = _load_for_edit(activity_id)
    form = TeamsForm()
    if form.validate_on_submit():
        try:
            formed = funnel.form_teams(activity, current_user, utcnow(), seed=form.seed.data)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            flash(f"{len(formed)} mini-teams formed.", "success")
            return redirect(url_for("funnel.teams", activity_id=activity.id))
    return _teams_page(activity, viewer, teams_form=form, status=422)


@bp.route("/<int:activity_id>/teams/swap", methods=["POST"])
@login_required
@closed_is_read_only
def swap(activity_id: int):
    activity, viewer = _load_for_edit(activity_id)
    form = SwapForm()
    if form.validate_on_submit():
        try:
            funnel.swap_people(activity, current_user, form.user_a.data, form.user_b.data)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            flash("Swapped.", "success")
            return redirect(url_for("funnel.teams", activity_id=activity.id))
    return _teams_page(activity, viewer, swap_form=form, status=422)


# --- ideas -----------------------------------------------------------------------------------


def _idea_form(activity, viewer, view, teams, formdata=None) -> IdeaForm | None:
    """The idea form for the facilitator (any team, any stage) or a team member (own team's stages)."""
    if view is None or activity.is_cancelled:
        return None
    form = IdeaForm(formdata=formdata) if formdata is not None else IdeaForm()
    if viewer.can_edit:
        form.team_id.choices = options([("", "— no team (facilitator) —")] + [(t.id, t.name) for t in teams])
        form.stage_id.choices = options([(s.id, s.name) for s in view.transition_stages])
    else:
        own = next((t for t in teams if t.id == viewer.team_id), None)
        if own is None:
            return None
        form.team_id.choices = options([(own.id, own.name)])
        form.stage_id.choices = options(list(own.stages))
    return form


def _ideas_page(activity, viewer, form=None, status=200):
    view = funnel.funnel_view(funnel.snapshot_for(activity.id))
    teams = funnel.teams_for(activity.id)
    ideas = funnel.ideas_for(activity.id)
    form = form or _idea_form(activity, viewer, view, teams)
    own = {t.id for t in teams if t.id == viewer.team_id}
    deletable = {i.id for i in ideas if viewer.can_edit or i.author_id == viewer.user.id or i.team_id in own}
    by_stage = {s.id: [i for i in ideas if i.stage_id == s.id] for s in (view.transition_stages if view else ())}
    return _render("reviews/funnel_ideas.html", activity, viewer, "ideas", status, funnel=view, teams=teams,
                   by_stage=by_stage, form=form, deletable=deletable, confirm=ConfirmForm(),
                   own_team=next((t for t in teams if t.id == viewer.team_id), None))


@bp.route("/<int:activity_id>/ideas", methods=["GET", "POST"])
@login_required
@closed_is_read_only
def ideas(activity_id: int):
    activity, viewer = _load(activity_id)
    if request.method == "GET":
        return _ideas_page(activity, viewer)
    view = funnel.funnel_view(funnel.snapshot_for(activity.id))
    form = _idea_form(activity, viewer, view, funnel.teams_for(activity.id), request.form)
    if form is None:
        abort(403)
    if form.validate_on_submit():
        try:
            funnel.add_idea(activity, current_user, team_id=form.team_id.data, stage_id=form.stage_id.data,
                            title=form.title.data, lift=form.lift.data, confidence=form.confidence.data,
                            effort=form.effort.data, now=utcnow())
            db.session.commit()
        except NotAllowed:
            db.session.rollback()
            abort(403)
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            flash("Idea added.", "success")
            return redirect(url_for("funnel.ideas", activity_id=activity.id))
    return _ideas_page(activity, viewer, form=form, status=422)


@bp.route("/<int:activity_id>/ideas/<int:idea_id>/delete", methods=["POST"])
@login_required
@closed_is_read_only
def delete_idea(activity_id: int, idea_id: int):
    activity, _viewer = _load(activity_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        funnel.delete_idea(activity, current_user, idea_id)
        db.session.commit()
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except DomainError:
        db.session.rollback()
        abort(404)
    flash("Idea deleted.", "success")
    return redirect(url_for("funnel.ideas", activity_id=activity.id))


# --- sensitivity -----------------------------------------------------------------------------


@bp.route("/<int:activity_id>/sensitivity")
@login_required
def sensitivity(activity_id: int):
    activity, viewer = _load(activity_id)
    report = funnel.sensitivity_report(activity.id)
    stage_chart, idea_chart = funnel.sensitivity_charts(report) if report.funnel else (None, None)
    return _render("reviews/funnel_sensitivity.html", activity, viewer, "sensitivity", report=report,
                   stage_chart=stage_chart, idea_chart=idea_chart)


def _export_name(activity: Activity, ext: str) -> str:
    return f"funnel-sensitivity-{activity.id}-{utcnow():%Y-%m-%d}.{ext}"


@bp.route("/<int:activity_id>/sensitivity.csv")
@login_required
def sensitivity_csv(activity_id: int):
    activity, _viewer = _load(activity_id)
    report = funnel.sensitivity_report(activity.id)
    return Response(funnel.sensitivity_csv(report), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{_export_name(activity, "csv")}"'})


@bp.route("/<int:activity_id>/sensitivity.pdf")
@login_required
def sensitivity_pdf(activity_id: int):
    activity, _viewer = _load(activity_id)
    report = funnel.sensitivity_report(activity.id)
    if report.funnel is None:
        abort(404)
    stage_chart, idea_chart = funnel.sensitivity_charts(report)
    html = render_template("reports/pdf/funnel_sensitivity.html", activity=activity, report=report,
                           stage_chart=stage_chart, idea_chart=idea_chart, generated_at=utcnow(),
                           effort_weights=EFFORT_WEIGHTS, **HELPERS)
    pdf = funnel.html_to_pdf(html, current_app.static_folder)
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{_export_name(activity, "pdf")}"'})


# --- win/loss playback -----------------------------------------------------------------------

DEAL_ARGS = ("outcome", "segment", "lead_source")


def _deals_page(activity, viewer, form=None, status=200):
    page, per_page = page_args(25)
    f = {k: (request.args.get(k) or "").strip() for k in DEAL_ARGS}
    if f["outcome"] not in {o.value for o in DealOutcome}:
        f["outcome"] = ""
    pagination = db.paginate(funnel.deals_query(activity.id, funnel.DealFilters(**f)), page=page, per_page=per_page,
                             error_out=False)
    counts, mine = funnel.feedback_counts([d.id for d in pagination.items], current_user)
    segments, sources = funnel.deal_facets(activity.id)
    if viewer.can_edit and not activity.is_cancelled:
        form = form or DealForm()
    return _render("reviews/funnel_deals.html", activity, viewer, "deals", status, pagination=pagination, f=f,
                   counts=counts, mine=mine, segments=segments, sources=sources, outcomes=list(DealOutcome),
                   form=form, confirm=ConfirmForm())


@bp.route("/<int:activity_id>/deals", methods=["GET", "POST"])
@login_required
@closed_is_read_only
def deals(activity_id: int):
    if request.method == "GET":
        activity, viewer = _load(activity_id)
        return _deals_page(activity, viewer)
    activity, viewer = _load_for_edit(activity_id)
    form = DealForm()
    if form.validate_on_submit():
        try:
            deal = funnel.add_deal(activity, current_user, form.name.data, form.segment.data or "", form.outcome.data,
                                   form.lead_source.data or "", utcnow())
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            flash(f"“{deal.name}” added.", "success")
            return redirect(url_for("funnel.deals", activity_id=activity.id))
    return _deals_page(activity, viewer, form=form, status=422)


@bp.route("/<int:activity_id>/deals/upload", methods=["GET", "POST"])
@login_required
@closed_is_read_only
def deals_upload(activity_id: int):
    activity, viewer = _load_for_edit(activity_id)
    form = DealUploadForm()
    problems: list[str] = []
    if form.validate_on_submit():
        content = _read_upload(form)
        if content is not None:
            try:
                added = funnel.import_deals(activity, current_user, content, utcnow())
                db.session.commit()
            except funnel.InputProblems as exc:
                db.session.rollback()
                problems = [str(p) for p in exc.problems]
            except DomainError as exc:
                db.session.rollback()
                apply_errors(form, exc)
            else:
                flash(f"{len(added)} deal(s) imported.", "success")
                return redirect(url_for("funnel.deals", activity_id=activity.id))
    status = 422 if (form.errors or problems) else 200
    return _render("reviews/funnel_deals_upload.html", activity, viewer, "deals", status, form=form, problems=problems)


@bp.route("/<int:activity_id>/deals/<int:deal_id>/delete", methods=["POST"])
@login_required
@closed_is_read_only
def delete_deal(activity_id: int, deal_id: int):
    activity, _viewer = _load_for_edit(activity_id)
    deal = funnel.get_deal(activity.id, deal_id)
    if deal is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        funnel.delete_deal(activity, current_user, deal)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(f"“{deal.name}” deleted.", "success")
    return redirect(url_for("funnel.deals", activity_id=activity.id))


@bp.route("/<int:activity_id>/deals/<int:deal_id>/feedback", methods=["GET", "POST"])
@login_required
@closed_is_read_only
def feedback(activity_id: int, deal_id: int):
    activity, viewer = _load(activity_id)
    deal = funnel.get_deal(activity.id, deal_id)
    if deal is None:
        abort(404)
    if not viewer.can_give_feedback:
        abort(403)
    mine = funnel.feedback_of(deal, current_user)
    category = deal.outcome_enum.code_category
    chosen = [c.reason_code_id for c in mine.codes] if mine else []
    codes = funnel.reason_choices((category,), chosen)
    if request.method == "GET" and mine is not None:
        form = FeedbackForm(data={"lead_quality": mine.lead_quality, "codes": chosen, "note": mine.note})
    else:
        form = FeedbackForm()
    form.codes.choices = options([(c.id, c.label + (" (retired)" if c.retired else "")) for c in codes])
    if form.validate_on_submit():
        try:
            funnel.save_feedback(activity, deal, current_user, form.lead_quality.data, form.codes.data or [],
                                 form.note.data or "", utcnow())
            db.session.commit()
        except NotAllowed:
            db.session.rollback()
            abort(403)
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            flash(f"Your feedback on “{deal.name}” is saved.", "success")
            return redirect(url_for("funnel.deals", activity_id=activity.id))
    status = 422 if form.errors else 200
    return _render("reviews/funnel_feedback.html", activity, viewer, "deals", status, deal=deal, form=form,
                   category_label=CODE_CATEGORY_LABELS[CodeCategory(category)], existing=mine is not None)


@bp.route("/<int:activity_id>/deals/summary")
@login_required
def deals_summary(activity_id: int):
    activity, viewer = _load(activity_id)
    summary = funnel.deal_summary(activity.id)
    from program.charts import bar_chart

    charts = {
        category: bar_chart(f"{CODE_CATEGORY_LABELS[CodeCategory(category)]}: mentions per code",
                            [(r.label, r.mentions) for r in rows], chart_id=f"chart-deal-{category}")
        for category, rows in summary.reasons.items()
    }
    return _render("reviews/funnel_summary.html", activity, viewer, "summary", summary=summary, charts=charts,
                   category_labels={c.value: c.label for c in CodeCategory})
