"""Single sign-on: OpenID Connect sign-in through the company's identity provider (Authlib).

Configured by the OIDC_* settings (program/config.py); without OIDC_DISCOVERY_URL there is none and sign-in is
the password form, as before.
"""

from __future__ import annotations

from flask import Flask, url_for


def sign_in_option(next_url: str | None = None) -> dict[str, str] | None:
    """For the sign-in page: the button's provider name and where it leads, or None without single sign-on."""
    from flask import current_app

    name = current_app.config.get("OIDC_PROVIDER_NAME") or "single sign-on"
    if not current_app.config.get("OIDC_DISCOVERY_URL"):
        return None
    return {"name": name, "url": url_for("sso.start", next=next_url or None)}


def init_app(app: Flask) -> None:
    """The SSO front door: the sign-in and callback pages, the admin page, ``sso_sign_in`` for the sign-in page.
    A configuration that cannot work stops the app at start (the message names the setting)."""
    from program.sso import admin_routes, routes
    from program.sso.settings import read_settings

    read_settings(app.config)
    app.register_blueprint(routes.bp)
    app.register_blueprint(admin_routes.bp)
    app.jinja_env.globals["sso_sign_in"] = sign_in_option
