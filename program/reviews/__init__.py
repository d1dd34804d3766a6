"""Joint review meetings: Funnel Reality Checks, win/loss playbacks, lead-definition sessions; invitations,
RSVP, attendance, action items."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The reviews front door: meeting and funnel pages, meeting mail and action-item reminders."""
    from program.reviews import funnel_routes, routes

    app.register_blueprint(routes.bp)
    app.register_blueprint(funnel_routes.bp)
