"""People, roles, departments, teams, sign-in and password reset, and the people import."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The accounts front door: sign-in pages, the people admin, ``perm`` (the permission predicates) for
    templates, and the weekly purge of sign-in records."""
    from program import jobs
    from program.accounts import admin_routes, mail, permissions, routes, signin

    jobs.register_job("sign-in records purged (older than a week)", signin.purge_sign_in_records, schedule="hourly")
    jobs.register_task(mail.RESET_TASK, mail.send_reset_link, queue="mail")
    app.register_blueprint(routes.bp)
    app.register_blueprint(admin_routes.bp)
    app.jinja_env.globals["perm"] = permissions
