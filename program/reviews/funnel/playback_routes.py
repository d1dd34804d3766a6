"""Win/loss playback pages of a review meeting (the "funnel" blueprint of ``routes``): the deal list (typed
or uploaded), each attendee's feedback on a deal, and the summary by reason code, lead source and segment."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user, login_required

from program.charts import bar_chart
from program.debriefs.models import CODE_CATEGORY_LABELS, CodeCategory
from program.errors import DomainError, NotAllowed
from program.extensions import db
from program.formutil import options
from program.reviews.funnel import playback, services
from program.reviews.funnel.forms import DealForm, DealUploadForm, FeedbackForm
from program.reviews.funnel.inputs import InputProblems
from program.reviews.funnel.models import DealOutcome
from program.reviews.funnel.routes import bp, closed_is_read_only, load, load_for_edit, read_upload, render
from program.timeutil import utcnow
from program.web import ConfirmForm, apply_errors, page_args, run_post, save_form

DEAL_ARGS = ("outcome", "segment", "lead_source")


def _deals_page(activity, viewer, form=None, status=200):
    page, per_page = page_args(25)
    f = {k: (request.args.get(k) or "").strip() for k in DEAL_ARGS}
    if f["outcome"] not in {o.value for o in DealOutcome}:
        f["outcome"] = ""
    pagination = db.paginate(
        playback.deals_query(activity.id, playback.DealFilters(**f)), page=page, per_page=per_page, error_out=False
    )
    counts, mine = playback.feedback_counts([d.id for d in pagination.items], current_user)
    segments, sources = playback.deal_facets(activity.id)
    if viewer.can_edit and not activity.is_cancelled:
        form = form or DealForm()
    return render(
        "reviews/funnel_deals.html",
        activity,
        viewer,
        "deals",
        status,
        pagination=pagination,
        f=f,
        counts=counts,
        mine=mine,
        segments=segments,
        sources=sources,
        outcomes=list(DealOutcome),
        form=form,
    )


@bp.route("/<int:activity_id>/deals", methods=["GET", "POST"])
@login_required
@closed_is_read_only
def deals(activity_id: int):
    if request.method == "GET":
        activity, viewer = load(activity_id)
        return _deals_page(activity, viewer)
    activity, viewer = load_for_edit(activity_id)
    form = DealForm()
    if form.validate_on_submit():
        saved, deal = save_form(
            form,
            lambda: playback.add_deal(
                activity,
                current_user,
                form.name.data,
                form.segment.data or "",
                form.outcome.data,
                form.lead_source.data or "",
                utcnow(),
            ),
        )
        if saved:
            flash(f"“{deal.name}” added.", "success")
            return redirect(url_for("funnel.deals", activity_id=activity.id))
    return _deals_page(activity, viewer, form=form, status=422)


@bp.route("/<int:activity_id>/deals/upload", methods=["GET", "POST"])
@login_required
@closed_is_read_only
def deals_upload(activity_id: int):
    activity, viewer = load_for_edit(activity_id)
    form = DealUploadForm()
    problems: list[str] = []
    if form.validate_on_submit():
        content = read_upload(form)
        if content is not None:
            try:
                added = playback.import_deals(activity, current_user, content, utcnow())
                db.session.commit()
            except InputProblems as exc:
                db.session.rollback()
                problems = [str(p) for p in exc.problems]
            except DomainError as exc:
                db.session.rollback()
                apply_errors(form, exc)
            else:
                flash(f"{len(added)} deal(s) imported.", "success")
                return redirect(url_for("funnel.deals", activity_id=activity.id))
    status = 422 if (form.errors or problems) else 200
    return render("reviews/funnel_deals_upload.html", activity, viewer, "deals", status, form=form, problems=problems)


@bp.route("/<int:activity_id>/deals/<int:deal_id>/delete", methods=["POST"])
@login_required
@closed_is_read_only
def delete_deal(activity_id: int, deal_id: int):
    activity, _viewer = load_for_edit(activity_id)
    deal = playback.get_deal(activity.id, deal_id)
    if deal is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    name = deal.name
    run_post(lambda: playback.delete_deal(activity, current_user, deal), f"“{name}” deleted.")
    return redirect(url_for("funnel.deals", activity_id=activity.id))


@bp.route("/<int:activity_id>/deals/<int:deal_id>/feedback", methods=["GET", "POST"])
@login_required
@closed_is_read_only
def feedback(activity_id: int, deal_id: int):
    activity, viewer = load(activity_id)
    deal = playback.get_deal(activity.id, deal_id)
    if deal is None:
        abort(404)
    if not viewer.can_give_feedback:
        abort(403)
    mine = playback.feedback_of(deal, current_user)
    category = deal.outcome_enum.code_category
    chosen = [c.reason_code_id for c in mine.codes] if mine else []
    codes = services.reason_choices((category,), chosen)
    if request.method == "GET" and mine is not None:
        form = FeedbackForm(data={"lead_quality": mine.lead_quality, "codes": chosen, "note": mine.note})
    else:
        form = FeedbackForm()
    form.codes.choices = options([(c.id, c.label + (" (retired)" if c.retired else "")) for c in codes])
    if form.validate_on_submit():
        try:
            playback.save_feedback(
                activity,
                deal,
                current_user,
                form.lead_quality.data,
                form.codes.data or [],
                form.note.data or "",
                utcnow(),
            )
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
    return render(
        "reviews/funnel_feedback.html",
        activity,
        viewer,
        "deals",
        status,
        deal=deal,
        form=form,
        category_label=CODE_CATEGORY_LABELS[CodeCategory(category)],
        existing=mine is not None,
    )


@bp.route("/<int:activity_id>/deals/summary")
@login_required
def deals_summary(activity_id: int):
    activity, viewer = load(activity_id)
    summary = playback.deal_summary(activity.id)
    charts = {
        category: bar_chart(
            f"{CODE_CATEGORY_LABELS[CodeCategory(category)]}: mentions per code",
            [(r.label, r.mentions) for r in rows],
            chart_id=f"chart-deal-{category}",
        )
        for category, rows in summary.reasons.items()
    }
    return render(
        "reviews/funnel_summary.html",
        activity,
        viewer,
        "summary",
        summary=summary,
        charts=charts,
        category_labels={c.value: c.label for c in CodeCategory},
    )
