"""The shared core: activities, participations with a state ladder and history, seats, waitlist, attendance,
invites (ICS), the core's own mail and its reminder."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The core's front door: its routes, its mail subscriptions, its scheduled jobs, and giving up the places
    of a person who is deactivated."""
    from program.accounts.signals import person_deactivated
    from program.activities import mail, reminders, routes, services
    from program.activities.signals import activity_changed, participation_changed
    from program.jobs import register_job

    app.register_blueprint(routes.bp)
    participation_changed.connect(mail.on_participation_changed)
    activity_changed.connect(mail.on_activity_changed)
    person_deactivated.connect(services.release_places)
    register_job("expired offers passed on", services.expire_offers)
    register_job("activity reminders (24 hours before)", reminders.remind_upcoming)
