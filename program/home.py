"""The dashboard and the health check. The entry layer: it may read from every domain."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template
from flask_login import current_user, login_required
from sqlalchemy import text

from program.activities.kinds import kind_info, summary_for
from program.activities.queries import hosting_next, upcoming_for
from program.debriefs.services import open_tasks_for
from program.extensions import db
from program.goals.dashboards import dashboard_context
from program.reviews.lead_definitions import current_lead_definition
from program.reviews.meetings import today_for
from program.shadow.queries import next_for
from program.timeutil import utcnow

bp = Blueprint("main", __name__)


@bp.route("/")
@login_required
def dashboard():
    now = utcnow()
    upcoming = [(p, summary_for(p.activity, current_user)) for p in upcoming_for(current_user, now)]
    hosting = [(a, summary_for(a, current_user)) for a in hosting_next(current_user, now)]
    tasks = [(t, summary_for(t.activity, current_user)) for t in open_tasks_for(current_user)]
    shadow_tile = next_for(current_user, now) if current_user.role == "leader" else None
    lead_definition = current_lead_definition(today_for(current_user, now))
    return render_template(
        "home/dashboard.html",
        now=now,
        user=current_user,
        upcoming=upcoming,
        hosting=hosting,
        tasks=tasks,
        shadow_tile=shadow_tile,
        lead_definition=lead_definition,
        **dashboard_context(current_user, now),
        endpoint_for=lambda a: kind_info(a).endpoint,
    )


@bp.route("/healthz")
def healthz():
    """200 when the database answers, 503 when it does not; and the state of the queues (the age of the oldest
    waiting mail and job, failed mail) for monitoring. Says nothing internal beyond counts and ages."""
    from program.jobs import backend_name
    from program.mail.delivery import queue_stats

    try:
        db.session.execute(text("SELECT 1"))
        now = utcnow()
        body = {"status": "ok", "database": "ok", "jobs": backend_name(current_app), **queue_stats(now)}
        if backend_name(current_app) == "procrastinate":
            oldest = db.session.execute(
                text(
                    "SELECT EXTRACT(EPOCH FROM now() - min(e.at)) FROM procrastinate_jobs j "
                    "JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'deferred' "
                    "WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())"
                )
            ).scalar()
            body["queue_oldest_job_seconds"] = int(oldest or 0)
        db.session.rollback()
    except Exception:  # noqa: BLE001 — any failure means "not healthy"
        db.session.rollback()
        return jsonify(status="error", database="unavailable"), 503
    return jsonify(body), 200
