"""Lead definition pages (the "reviews" blueprint of ``routes``): record a version at a lead-definition
session or on the history page, sign it off for sales or for marketing, and the history at /lead-definition."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from program.extensions import db
from program.reviews import lead_definitions as definitions
from program.reviews import meetings
from program.reviews import permissions as perms
from program.reviews.forms import LeadDefinitionForm
from program.reviews.models import LeadDefinition, MeetingFormat
from program.reviews.routes import back_to, bp, meeting_or_404, render_detail
from program.timeutil import utcnow
from program.web import ConfirmForm, run_post, save_form


@bp.record_once
def _short_lead_definition_url(state) -> None:
    """/lead-definition (outside the /meetings prefix) leads to the history page."""
    state.app.add_url_rule(
        "/lead-definition",
        endpoint="reviews.lead_definition_short",
        view_func=lambda: redirect(url_for("reviews.lead_definitions")),
    )


def _recorded(defn: LeadDefinition) -> str:
    return f"Version {defn.version} recorded. It takes force once a sales and a marketing leader sign it off."


@bp.route("/<int:activity_id>/lead-definitions", methods=["POST"])
@login_required
def record_definition(activity_id: int):
    activity, mine = meeting_or_404(activity_id)
    if activity.meeting.format != MeetingFormat.LEAD_DEFINITION.value:
        abort(404)
    if not perms.can_record_lead_definition(current_user, activity):
        abort(404)
    form = LeadDefinitionForm()
    saved, defn = save_form(
        form,
        lambda: definitions.record_lead_definition(
            current_user, form.criteria.data or "", form.effective_date.data, utcnow(), activity
        ),
        default_field="criteria",
    )
    if not saved:
        return render_detail(activity, mine, 422, definition_form=form)
    flash(_recorded(defn), "success")
    return back_to(activity, "lead-definition")


@bp.route("/lead-definition", methods=["GET", "POST"])
@login_required
def lead_definitions():
    now = utcnow()
    today = meetings.today_for(current_user, now)
    may_record = perms.can_record_lead_definition(current_user)
    form = LeadDefinitionForm() if may_record else None
    status = 200
    if request.method == "POST":
        if form is None:
            abort(404)
        saved, defn = save_form(
            form,
            lambda: definitions.record_lead_definition(
                current_user, form.criteria.data or "", form.effective_date.data, now
            ),
            default_field="criteria",
        )
        if saved:
            flash(_recorded(defn), "success")
            return redirect(url_for("reviews.lead_definitions"))
        status = 422
    current = definitions.current_lead_definition(today)
    return render_template(
        "reviews/lead_definitions.html",
        definitions=definitions.lead_definitions(),
        current_definition=current,
        definition_status=lambda d: definitions.definition_status(d, current, today),
        signoff_side=perms.signoff_side(current_user),
        form=form,
    ), status


@bp.route("/lead-definition/<int:definition_id>/sign-off", methods=["POST"])
@login_required
def sign_off(definition_id: int):
    defn = db.session.get(LeadDefinition, definition_id)
    if defn is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    run_post(
        lambda: definitions.sign_off_lead_definition(defn, current_user, utcnow()),
        lambda _: f"You signed off version {defn.version} for {perms.signoff_side(current_user)}.",
    )
    back = request.form.get("back", "")
    if back.isdigit():
        return redirect(url_for("reviews.detail", activity_id=int(back)) + "#lead-definition")
    return redirect(url_for("reviews.lead_definitions"))
