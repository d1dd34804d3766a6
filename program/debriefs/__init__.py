"""Structured debriefs after every activity (the write side): versioned templates, one reason-code codebook,
tasks with due dates, answers."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The debriefs front door: the writer's pages, the template and codebook admin, debrief mail and jobs."""
    from program.debriefs import admin_routes, contest_routes, insight_routes, routes
    from program.notify import debrief_mail  # noqa: F401  (transitional: subscribers and jobs)

    app.register_blueprint(routes.bp)
    app.register_blueprint(admin_routes.bp)
    app.register_blueprint(insight_routes.bp)
    app.register_blueprint(contest_routes.bp)
