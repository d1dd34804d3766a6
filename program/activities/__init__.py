"""The shared core: activities, participations with a state ladder and history, seats, waitlist, attendance,
invites (ICS) and the core's own mail."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The core's front door: its routes, its mail subscriptions and its scheduled jobs."""
    from program.activities import routes
    from program.notify import activity_mail, reminders  # noqa: F401  (transitional: subscribers and jobs)

    app.register_blueprint(routes.bp)
