"""Provisioning: a SCIM 2.0 server for Users and Groups at /scim/v2, its tokens and its audit log."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The SCIM front door: the API (bearer tokens, exempt from CSRF: no cookie is read), the admin pages for
    tokens and the provisioning log, and ``flask scim-token``."""
    from program.extensions import csrf
    from program.scim import admin_routes, cli, routes

    csrf.exempt(routes.bp)
    app.register_blueprint(routes.bp)
    app.register_blueprint(admin_routes.bp)
    app.cli.add_command(cli.scim_token)
