"""Leader shadow days: a sales leader and a marketing leader each spend a day in the other's world."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The shadow-days front door: pairing pages, shadow mail and its scheduled jobs."""
    from program.notify import shadow_mail  # noqa: F401  (transitional: subscribers and jobs)
    from program.shadow import routes

    app.register_blueprint(routes.bp)
