"""People, roles, departments, teams, sign-in and password reset, and the people import."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The accounts front door: sign-in pages, the people admin, and ``perm`` (the permission predicates) for
    templates."""
    from program.accounts import admin_routes, permissions, routes

    app.register_blueprint(routes.bp)
    app.register_blueprint(admin_routes.bp)
    app.jinja_env.globals["perm"] = permissions
