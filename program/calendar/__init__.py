"""Personal calendar feeds: one private ICS address per person, with everything they take part in."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The calendar front door: the feed settings page and the feed itself."""
    from program.calendar import routes

    app.register_blueprint(routes.bp)
