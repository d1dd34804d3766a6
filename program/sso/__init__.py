"""Single sign-on: OpenID Connect sign-in through the company's identity provider (Authlib)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The SSO front door (filled in by the SSO work)."""
