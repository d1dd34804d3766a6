"""Structured debriefs after every activity (the write side): versioned templates, one reason-code codebook,
tasks with due dates, answers, and their mail."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The debriefs front door: the writer's pages, the template and codebook admin, tasks created on
    attendance, and the debrief reminders job."""
    from program import jobs
    from program.activities.signals import participation_changed
    from program.debriefs import admin_routes, mail, routes, services

    app.register_blueprint(routes.bp)
    app.register_blueprint(admin_routes.bp)
    participation_changed.connect(services.on_participation_changed)  # connecting twice is harmless
    jobs.register_job("debrief reminders", mail.remind_debriefs)
