"""My tasks, the debrief form (draft / submit / edit window), reading a debrief, HR's submission status."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from program.activities.kinds import kind_info, summary_for
from program.activities.models import ActivityKind
from program.debriefs import codebook, services, sharing
from program.debriefs.models import CODE_CATEGORY_LABELS, DebriefTask
from program.debriefs.permissions import can_see_submission_status, can_view_task
from program.errors import DomainError
from program.extensions import db
from program.timeutil import utcnow
from program.web import ConfirmForm, page_args

bp = Blueprint("debriefs", __name__)


@bp.route("/tasks")
@login_required
def my_tasks():
    now = utcnow()
    show = request.args.get("show", "open")
    page, per_page = page_args(20)
    pagination = services.my_tasks_page(current_user, show, page, per_page)
    items = [(t, summary_for(t.activity, current_user)) for t in pagination.items]
    return render_template(
        "debriefs/tasks.html", pagination=pagination, items=items, show=show, now=now, overdue=services.is_overdue
    )


def _task_or_404(task_id: int) -> DebriefTask:
    task = db.session.get(DebriefTask, task_id)
    if task is None or not can_view_task(current_user, task):
        abort(404)
    return task


@bp.route("/debriefs/task/<int:task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: int):
    """The author's form; everyone else allowed to see it gets the read-only view."""
    now = utcnow()
    task = _task_or_404(task_id)
    debrief = task.debrief
    editable = services.can_edit(debrief, current_user, task, now)
    if not editable:
        return _show(task, now)
    # Opening the form changes nothing; the draft is created by the first save.
    template = debrief.template if debrief is not None else services.current_template(task.activity.kind)
    questions = template.questions
    errors: dict[int, str] = {}
    values = services.values_from_debrief(debrief) if debrief is not None else {}
    choice = sharing.SharingChoice.of(debrief)
    if request.method == "POST":
        if not ConfirmForm().validate_on_submit():
            abort(400)
        submit = request.form.get("action") == "submit"
        values = services.parse_form(questions, request.form)
        choice = sharing.SharingChoice.from_form(request.form)
        try:
            debrief = debrief or services.start_debrief(task, current_user, now)
            services.save_debrief(debrief, current_user, values, now, submit=submit, sharing=choice)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            errors = getattr(exc, "errors", {}) or {}
            flash(exc.message, "error")
            debrief = db.session.get(DebriefTask, task.id).debrief
        else:
            if submit or debrief.is_submitted:
                flash("Your debrief is submitted. You can still edit it for 48 hours.", "success")
                return redirect(url_for("debriefs.task", task_id=task.id))
            flash("Draft saved. Come back any time to finish it.", "success")
            return redirect(url_for("debriefs.task", task_id=task.id))
    submitted = debrief is not None and debrief.is_submitted
    return render_template(
        "debriefs/form.html",
        task=task,
        template=template,
        submitted=submitted,
        submitted_at=debrief.submitted_at if submitted else None,
        questions=questions,
        values=values,
        errors=errors,
        codes=codebook.codes_by_category(),
        category_labels={k.value: v for k, v in CODE_CATEGORY_LABELS.items()},
        summary=summary_for(task.activity, current_user),
        activity_url=url_for(kind_info(task.activity).endpoint, activity_id=task.activity_id),
        now=now,
        edit_until=(debrief.submitted_at + services.EDIT_WINDOW) if submitted else None,
        sharing=choice,
        is_shadow_day=task.activity.kind == sharing.SHADOW_DAY,
        share_notes=sharing.share_notes(questions, task.activity.kind),
        share_summary=sharing.share_summary(questions, task.activity.kind, choice),
    ), (422 if errors else 200)


def _show(task: DebriefTask, now):
    debrief = task.debrief
    answers = []
    if debrief is not None:
        by_q = services.answers_by_question(debrief)
        answers = [(q, by_q.get(q.id)) for q in debrief.template.questions]
    return render_template(
        "debriefs/show.html",
        task=task,
        debrief=debrief,
        answers=answers,
        summary=summary_for(task.activity, current_user),
        activity_url=url_for(kind_info(task.activity).endpoint, activity_id=task.activity_id),
        now=now,
        overdue=services.is_overdue(task, now),
    )


@bp.route("/debriefs/status")
@login_required
def status():
    """HR: for every activity and person, who has and hasn't submitted."""
    if not can_see_submission_status(current_user):
        abort(404)
    now = utcnow()
    page, per_page = page_args(50)
    state = request.args.get("state", "")
    kind = request.args.get("kind", "")
    department = request.args.get("department", type=int)
    q = (request.args.get("q") or "").strip().lower()
    pagination = services.status_page(state, kind, department, q, now, page, per_page)
    return render_template(
        "debriefs/status.html",
        pagination=pagination,
        now=now,
        f={"state": state, "kind": kind, "department": department, "q": q},
        kinds=[(k.value, k.label) for k in ActivityKind],
        departments=services.departments(),
        summary_for=lambda a: summary_for(a, current_user),
        overdue=services.is_overdue,
    )
