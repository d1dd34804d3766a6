"""Participation goals: targets per role, department, team or person per period; progress, status, digests."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The goals front door: goal pages and the weekly digest (the "weekly" schedule; ``flask send-digests``)."""
    from program import jobs
    from program.goals import digest, routes

    jobs.register_job("manager digests", digest.send_digests, schedule="weekly")
    app.register_blueprint(routes.bp)
    app.cli.add_command(digest.send_digests_command)
