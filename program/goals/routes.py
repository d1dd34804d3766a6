"""Goal pages: my goals; my team (managers); the organisation (HR, admins); setting goals and leave (HR, admins).

Thin: parse, call services, commit once, redirect. Pages a person may not use answer 404.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from program.accounts.models import Department, Team
from program.activities.models import ActivityKind
from program.errors import DomainError
from program.extensions import db
from program.filters import viewer_timezone
from program.formutil import options
from program.goals import services
from program.goals.forms import ConfirmForm, GoalForm, LeaveForm
from program.goals.models import Goal, Leave, Scope
from program.goals.periods import local_today
from program.goals.permissions import can_manage_goals, can_view_org_progress
from program.timeutil import utcnow
from program.web import apply_errors, page_args

bp = Blueprint("goals", __name__, url_prefix="/goals")

KINDS = [(k.value, k.label) for k in ActivityKind]


@bp.route("/")
@login_required
def index():
    now = utcnow()
    tz = viewer_timezone()
    mine = services.my_goals(current_user, now, tz)
    return render_template(
        "goals/index.html",
        mine=mine,
        today=local_today(now, tz),
        manager=services.is_manager(current_user),
        can_manage=can_manage_goals(current_user),
    )


@bp.route("/team")
@login_required
def team():
    if not services.is_manager(current_user):
        abort(404)
    now = utcnow()
    summary = services.team_summary(current_user, now, viewer_timezone())
    return render_template("goals/team.html", team=summary, now=now)


@bp.route("/overview")
@login_required
def overview():
    if not can_view_org_progress(current_user):
        abort(404)
    now = utcnow()
    org = services.org_summary(now, viewer_timezone())
    return render_template("goals/overview.html", org=org, today=local_today(now, viewer_timezone()))


# --- setting goals -------------------------------------------------------------------------------


def _require_manage() -> None:
    if not can_manage_goals(current_user):
        abort(404)


def _goal_choices(form: GoalForm) -> None:
    departments = db.session.scalars(select(Department).order_by(Department.name)).all()
    teams = db.session.execute(
        select(Team.id, Team.name, Department.name).join(Department, Department.id == Team.department_id)
        .order_by(Department.name, Team.name)
    ).all()
    form.department_id.choices = options([("", "—"), *((d.id, d.name) for d in departments)])
    form.team_id.choices = options([("", "—"), *((tid, f"{name} ({dept})") for tid, name, dept in teams)])


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
    pagination = db.paginate(services.goals_query(kind, scope), page=page, per_page=per_page, error_out=False)
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
        try:
            goal = services.save_goal(current_user, _data(form), utcnow())
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
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
        try:
            services.save_goal(current_user, _data(form), utcnow(), goal)
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
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
    services.delete_goal(current_user, goal)
    db.session.commit()
    flash("Goal removed.", "success")
    return redirect(url_for("goals.manage"))


# --- leave ---------------------------------------------------------------------------------------


def _render_leave(form: LeaveForm, status: int = 200):
    q = (request.args.get("q") or "").strip()[:100]
    page, per_page = page_args(25)
    pagination = db.paginate(services.leave_query(q), page=page, per_page=per_page, error_out=False)
    return render_template("goals/leave.html", form=form, pagination=pagination, q=q, confirm=ConfirmForm()), status


@bp.route("/leave", methods=["GET", "POST"])
@login_required
def leave():
    _require_manage()
    form = LeaveForm()
    if form.validate_on_submit():
        try:
            record = services.record_leave(
                current_user, form.person_email.data, form.starts_on.data, form.ends_on.data, form.note.data or "",
                utcnow(),
            )
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
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
    services.delete_leave(current_user, record)
    db.session.commit()
    flash("Leave removed.", "success")
    return redirect(url_for("goals.leave"))
