"""Ride-alongs: marketing staff sit in on real sales calls. Thin: the seat rules live in activities."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The ride-alongs front door: its kind, its pages (offering, browsing and editing calls) and the
    ``anonymous_account`` template filter."""
    from program.activities.kinds import register_kind
    from program.activities.models import ActivityKind
    from program.rides import routes, services

    register_kind(ActivityKind.RIDE_ALONG.value, services.RIDE_ALONG_KIND)
    app.register_blueprint(routes.bp)
    app.jinja_env.filters["anonymous_account"] = services.anonymous_account
