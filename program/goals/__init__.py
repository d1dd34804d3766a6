"""Participation goals: targets per role, department, team or person per period; progress, status, digests."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The goals front door: goal pages and the weekly digest command."""
    from program.goals import routes
    from program.notify.digest import register_digest_cli

    app.register_blueprint(routes.bp)
    register_digest_cli(app)  # flask send-digests
