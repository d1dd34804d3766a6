"""Action item pages of a review meeting (the "reviews" blueprint of ``routes``): add one on the meeting page,
edit it (the facilitator side), and mark it done, dropped or open again (its owner too)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from program.activities.models import Activity
from program.formutil import options
from program.reviews import actions
from program.reviews import permissions as perms
from program.reviews.forms import ActionEditForm, ActionItemForm, ActionStatusForm
from program.reviews.models import ActionItem, ActionStatus
from program.reviews.routes import back_to, bp, fill_owners, meeting_or_404, render_detail
from program.timeutil import utcnow
from program.web import run_post, save_form


def _action_data(form: ActionItemForm, status: str = ActionStatus.OPEN.value) -> actions.ActionData:
    return actions.ActionData(
        title=form.title.data or "", owner_id=form.owner_id.data, due_date=form.due_date.data, status=status
    )


def _action_or_404(activity: Activity, action_id: int) -> ActionItem:
    item = actions.action_or_none(activity, action_id)
    if item is None:
        abort(404)
    return item


@bp.route("/<int:activity_id>/actions", methods=["POST"])
@login_required
def add_action(activity_id: int):
    activity, mine = meeting_or_404(activity_id)
    if not perms.can_add_action(current_user, activity, mine):
        abort(404)
    form = ActionItemForm()
    fill_owners(form, activity)
    saved, _ = save_form(form, lambda: actions.add_action(activity, current_user, _action_data(form), utcnow()))
    if not saved:
        return render_detail(activity, mine, 422, action_form=form)
    flash("Action item added.", "success")
    return back_to(activity, "actions")


@bp.route("/<int:activity_id>/actions/<int:action_id>/edit", methods=["GET", "POST"])
@login_required
def edit_action(activity_id: int, action_id: int):
    activity, _mine = meeting_or_404(activity_id)
    item = _action_or_404(activity, action_id)
    if not perms.can_edit_action(current_user, item):
        abort(404)
    form = ActionEditForm(obj=item if request.method == "GET" else None)
    fill_owners(form, activity)
    if item.owner_id not in {c.value for c in form.owner_id.choices}:  # a past owner stays choosable
        form.owner_id.choices = [*form.owner_id.choices, *options([(item.owner_id, item.owner.name)])]
    if form.is_submitted():
        saved, _ = save_form(
            form,
            lambda: actions.update_action(item, current_user, _action_data(form, form.status.data or ""), utcnow()),
        )
        if saved:
            flash("Action item updated.", "success")
            return back_to(activity, "actions")
    return render_template("reviews/action_form.html", form=form, activity=activity, item=item), (
        200 if not form.errors else 422
    )


@bp.route("/<int:activity_id>/actions/<int:action_id>/status", methods=["POST"])
@login_required
def action_status(activity_id: int, action_id: int):
    activity, _mine = meeting_or_404(activity_id)
    item = _action_or_404(activity, action_id)
    if not perms.can_update_action_status(current_user, item):
        abort(404)
    form = ActionStatusForm()
    if not form.validate_on_submit():
        abort(400)
    run_post(
        lambda: actions.set_action_status(item, current_user, form.status.data, utcnow()),
        lambda _: f"“{item.title}” is {ActionStatus(item.status).label.lower()}.",
    )
    back = request.form.get("back", "")
    if back.isdigit() and int(back) != activity.id:  # changed from the next meeting's carried-over list
        return redirect(url_for("reviews.detail", activity_id=int(back)) + "#carried")
    return back_to(activity, "actions")
