"""Tandem: the app factory. Reads as a list of steps: config → extensions → blueprints → errors → CLI."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from program import (
    accounts,
    activities,
    calendar,
    debriefs,
    goals,
    home,
    insight,
    jobs,
    mail,
    reports,
    reviews,
    rides,
    scim,
    shadow,
    sso,
)
from program.config import Config
from program.extensions import csrf, db, login_manager, migrate


class TandemSessionInterface(SecureCookieSessionInterface):
    """Marks the session cookie Secure whenever the request came over HTTPS (directly or via the proxy)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        try:
            return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)
        except RuntimeError:
            return bool(app.config["SESSION_COOKIE_SECURE"])


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, template_folder="../templates", static_folder="../static", instance_relative_config=False)
    register_config(app, overrides)
    register_extensions(app)
    register_domains(app)
    register_errors(app)
    register_input_checks(app)
    register_template_helpers(app)
    register_security_headers(app)
    register_cli(app)
    return app


def register_config(app: Flask, overrides: dict[str, Any] | None) -> None:
    config = Config()
    for key, value in (overrides or {}).items():
        setattr(config, key, value)
    config.validate()
    app.config.from_object(config)
    app.session_interface = TandemSessionInterface()
    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        import os

        path = app.config["SQLALCHEMY_DATABASE_URI"][len("sqlite:///") :]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def register_input_checks(app: Flask) -> None:
    from program import validation

    validation.init_app(app)


def register_extensions(app: Flask) -> None:
    from program.models import load_all

    load_all()  # every model, for Alembic and relationships between domains

    db.init_app(app)
    migrate.init_app(app, db, directory=str(__import__("pathlib").Path(__file__).parent.parent / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    from program.accounts.models import User

    @login_manager.user_loader
    def load_user(user_id: str):
        # The cookie holds "id:session_token"; a rotated token (sign-out, password change,
        # deactivation) makes every older cookie worthless.
        ident, _, token = (user_id or "").partition(":")
        if not ident.isdigit() or not token:
            return None
        user = db.session.get(User, int(ident))
        if user is None or not user.active or user.session_token != token:
            return None
        return user


# The domains, lowest layer first. Each one's ``init_app`` wires everything it owns: blueprints, its kind,
# signal subscriptions, scheduled jobs, CLI commands, template helpers. Nothing registers itself on import.
DOMAINS = (accounts, activities, calendar, debriefs, rides, shadow, reviews, insight, goals, reports, sso, scim)


def register_domains(app: Flask) -> None:
    jobs.init_app(app)  # the base job engine: runner, `flask worker`, `flask send-reminders`
    mail.init_app(app)  # the outbox's delivery task and its sweep; domains add their tasks and jobs below
    for domain in DOMAINS:
        domain.init_app(app)
    app.register_blueprint(home.bp)


def register_errors(app: Flask) -> None:
    from program.errors import register_error_pages

    register_error_pages(app)


def register_template_helpers(app: Flask) -> None:
    from program import filters

    filters.register(app)


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def headers(response):
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'self'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response


def register_cli(app: Flask) -> None:
    from program import cli

    cli.register(app)
