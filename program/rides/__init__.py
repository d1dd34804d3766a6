"""Ride-alongs: marketing staff sit in on real sales calls. Thin: the seat rules live in activities."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The ride-alongs front door: offering, browsing and editing calls."""
    from program.rides import routes

    app.register_blueprint(routes.bp)
