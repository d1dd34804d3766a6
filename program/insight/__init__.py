"""The read side of debriefs: the learnings feed, tactics triage, reason-code insight and the contest."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The insight front door: the learnings, tactics and insight pages ("insight"), and the contest ("contest")."""
    from program.insight import contest_routes, routes

    app.register_blueprint(routes.bp)
    app.register_blueprint(contest_routes.bp)
