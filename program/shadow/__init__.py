"""Leader shadow days: a sales leader and a marketing leader each spend a day in the other's world."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The shadow-days front door: its kind, its pages, its mail, the follow-ups added to a shadow day's
    debrief task, and its scheduled jobs."""
    from program.activities.kinds import register_kind
    from program.activities.models import ActivityKind
    from program.debriefs.signals import task_created
    from program.jobs import register_job
    from program.shadow import mail, routes, services
    from program.shadow.signals import pairing_changed

    register_kind(ActivityKind.SHADOW_DAY.value, services.SHADOW_DAY_KIND)
    app.register_blueprint(routes.bp)
    pairing_changed.connect(mail.on_pairing_changed)
    task_created.connect(services.add_follow_ups)
    register_job("shadow proposals expired", services.expire_stale_proposals)
    register_job("shadow follow-up nudges", mail.nudge_follow_ups)
