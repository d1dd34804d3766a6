"""Jinja filters and globals that know no domain: times in the viewer's zone, query-string helpers. (Each domain
adds its own in its ``init_app``.)"""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app, request, url_for
from flask_login import current_user

from program.timeutil import to_zone


def viewer_timezone() -> str:
    if current_user and current_user.is_authenticated and current_user.timezone:
        return current_user.timezone
    return current_app.config["DEFAULT_TIMEZONE"]


def localtime(value: datetime | None, fmt: str = "%a %d %b %Y, %H:%M", tz: str | None = None) -> str:
    """Format an aware UTC instant in the viewer's (or the given) timezone, naming the zone."""
    if value is None:
        return ""
    local = to_zone(value, tz or viewer_timezone())
    return local.strftime(fmt) + (" " + local.tzname() if "%Z" not in fmt and ("%H" in fmt) else "")


def url_with(**changes) -> str:
    """The current URL with some query arguments changed (for pagination and filters)."""
    view_args = request.view_args or {}
    # Only plain query arguments pass through: url_for's own (_external, _method, …) and the URL's
    # parameters would change what is built, or break it.
    args = {k: v for k, v in request.args.to_dict().items() if not k.startswith("_") and k not in view_args}
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    return url_for(request.endpoint, **view_args, **args)


def register(app: Flask) -> None:
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.globals["url_with"] = url_with
    app.jinja_env.globals["viewer_timezone"] = viewer_timezone

    @app.context_processor
    def inject():
        return {"org_name": current_app.config["ORG_NAME"]}
