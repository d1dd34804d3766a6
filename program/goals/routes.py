"""Goal pages: my goals; my team (managers); the organisation (HR, admins); setting goals and leave (HR, admins).

Thin: parse, call services, commit once, redirect. Pages a person may not use answer 404.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from program.accounts import services as accounts
from program.activities.models import ActivityKind
from program.extensions import db
from program.filters import viewer_timezone
from program.formutil import options
from program.goals import dashboards, services
from program.goals.forms import GoalForm, LeaveForm
from program.goals.models import Goal, Leave, Scope
from program.goals.permissions import can_manage_goals, can_view_org_progress
from program.goals.status import LONGER, STATUS_CHOICES
from program.periods import local_today
from program.timeutil import utcnow
from program.web import ConfirmForm, page_args, run_post, save_form

bp = Blueprint("goals", __name__, url_prefix="/goals")

KINDS = [(k.value, k.label) for k in ActivityKind]


@bp.route("/")
@login_required
def index():
    now = utcnow()
    tz = viewer_timezone()
    mine = dashboards.my_goals(current_user, now, tz)
    return render_template(
        "goals/index.html",
        mine=mine,
        today=local_today(now, tz),
        manager=dashboards.is_manager(current_user),
        can_manage=can_manage_goals(current_user),
    )


@bp.route("/team")
@login_required
def team():
    if not dashboards.is_manager(current_user):
        abort(404)
    now = utcnow()
    summary = dashboards.team_summary(current_user, now, viewer_timezone())
    statuses = [(v, label) for v, label in STATUS_CHOICES if v != LONGER]  # each goal is judged over its own period
    status = request.args.get("status", "")
    status = status if status in dict(statuses) else ""
    page, per_page = page_args(50)
    return render_template(
        "goals/team.html",
        team=summary,
        listing=summary.page(page, per_page, status),
        status=status,
        statuses=statuses,
        now=now,
    )


@bp.route("/overview")
@login_required
def overview():
    if not can_view_org_progress(current_user):
        abort(404)
    now = utcnow()
    org = dashboards.org_summary(now, viewer_timezone())
    return render_template("goals/overview.html", org=org, today=local_today(now, viewer_timezone()))


# --- setting goals -------------------------------------------------------------------------------


def _require_manage() -> None:
    if not can_manage_goals(current_user):
        abort(404)


def _goal_choices(form: GoalForm) -> None:
    form.department_id.choices = options([("", "—"), *((d.id, d.name) for d in accounts.departments())])
    form.team_id.choices = options(
        [("", "—"), *((t.id, f"{t.name} ({t.department.name})") for t in accounts.teams_by_department())]
    )


def _data(form: GoalForm) -> services.GoalData:
    return services.GoalData(
        kind=form.kind.data or "",
        period=form.period.data or "",
        target=form.target.data,
        scope=form.scope.data or "",
        role=form.role.data or "",
        department_id=form.department_id.data,
        team_id=form.team_id.data,
        person_email=form.person_email.data or "",
        requires_debrief=bool(form.requires_debrief.data),
        note=form.note.data or "",
    )


def _render_manage(form: GoalForm, status: int = 200):
    kind = request.args.get("kind", "")
    scope = request.args.get("scope", "")
    kind = kind if kind in dict(KINDS) else ""
    scope = scope if scope in {s.value for s in Scope} else ""
    page, per_page = page_args(25)
    pagination = services.goals_page(kind, scope, page, per_page)
    return render_template(
        "goals/manage.html",
        form=form,
        pagination=pagination,
        kinds=KINDS,
        scopes=[(s.value, s.label) for s in reversed(Scope)],
        f={"kind": kind, "scope": scope},
        describe_scope=services.describe_scope,
        describe_goal=services.describe_goal,
        confirm=ConfirmForm(),
    ), status


@bp.route("/manage", methods=["GET", "POST"])
@login_required
def manage():
    _require_manage()
    form = GoalForm()
    _goal_choices(form)
    if form.validate_on_submit():
        saved, goal = save_form(form, lambda: services.save_goal(current_user, _data(form), utcnow()))
        if saved:
            flash(f"Goal saved: {services.describe_goal(goal)} for {services.describe_scope(goal).lower()}.", "success")
            return redirect(url_for("goals.manage"))
        return _render_manage(form, 422)
    if request.method == "POST":
        return _render_manage(form, 422)
    return _render_manage(form)


def _goal_or_404(goal_id: int) -> Goal:
    goal = db.session.get(Goal, goal_id)
    if goal is None:
        abort(404)
    return goal


@bp.route("/<int:goal_id>/edit", methods=["GET", "POST"])
@login_required
def edit(goal_id: int):
    _require_manage()
    goal = _goal_or_404(goal_id)
    form = GoalForm(data=vars(services.goal_data(goal))) if request.method == "GET" else GoalForm()
    _goal_choices(form)
    if form.validate_on_submit():
        saved, _ = save_form(form, lambda: services.save_goal(current_user, _data(form), utcnow(), goal))
        if saved:
            flash("Goal changed.", "success")
            return redirect(url_for("goals.manage"))
    status = 422 if request.method == "POST" else 200
    return render_template("goals/edit.html", form=form, goal=goal, describe_scope=services.describe_scope), status


@bp.route("/<int:goal_id>/delete", methods=["POST"])
@login_required
def delete(goal_id: int):
    _require_manage()
    goal = _goal_or_404(goal_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    run_post(lambda: services.delete_goal(current_user, goal), "Goal removed.")
    return redirect(url_for("goals.manage"))


# --- leave ---------------------------------------------------------------------------------------


def _render_leave(form: LeaveForm, status: int = 200):
    q = (request.args.get("q") or "").strip()[:100]
    page, per_page = page_args(25)
    pagination = services.leave_page(q, page, per_page)
    return render_template("goals/leave.html", form=form, pagination=pagination, q=q, confirm=ConfirmForm()), status


@bp.route("/leave", methods=["GET", "POST"])
@login_required
def leave():
    _require_manage()
    form = LeaveForm()
    if form.validate_on_submit():
        saved, record = save_form(
            form,
            lambda: services.record_leave(
                current_user,
                form.person_email.data,
                form.starts_on.data,
                form.ends_on.data,
                form.note.data or "",
                utcnow(),
            ),
        )
        if saved:
            flash(f"Leave recorded for {record.user.name}.", "success")
            return redirect(url_for("goals.leave"))
        return _render_leave(form, 422)
    if request.method == "POST":
        return _render_leave(form, 422)
    return _render_leave(form)


@bp.route("/leave/<int:leave_id>/delete", methods=["POST"])
@login_required
def delete_leave(leave_id: int):
    _require_manage()
    record = db.session.get(Leave, leave_id)
    if record is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    run_post(lambda: services.delete_leave(current_user, record), "Leave removed.")
    return redirect(url_for("goals.leave"))
