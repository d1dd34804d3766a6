"""Provisioning: a SCIM 2.0 server for Users and Groups at /scim/v2, its tokens and its audit log."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The SCIM front door (filled in by the SCIM work)."""
