"""Small helpers shared by the blueprints: role guards, the two route idioms (``save_form`` for a form page,
``run_post`` for a one-button action), ``ConfirmForm``, signed tokens, form error mapping, list parameters."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, current_app, flash, request
from flask_login import current_user, login_required
from itsdangerous import BadSignature, URLSafeSerializer

from program.errors import DomainError
from program.validation import TandemForm, refuse_unstorable


def roles_required(*roles: str):
    """Signed-in users with one of these roles; others get 404 (the page does not exist for them)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(404)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def apply_errors(form, exc: DomainError, default_field: str | None = None) -> None:
    """Put a domain error (or its per-field errors) next to the right fields of a WTForms form."""
    errors = getattr(exc, "errors", None) or {(exc.field or default_field): exc.message}
    for name, message in errors.items():
        target = getattr(form, name, None) if name else None
        if target is not None:
            if not target.errors:  # the form's own message for this field comes first; don't repeat it
                target.errors = [message]
        else:
            form.form_errors.append(message)


def page_args(default_per_page: int = 25) -> tuple[int, int]:
    page = request.args.get("page", 1, type=int) or 1
    per_page = min(max(request.args.get("per_page", default_per_page, type=int) or default_per_page, 5), 100)
    return max(page, 1), per_page


def client_ip() -> str:
    return request.remote_addr or ""


def absolute_url(endpoint: str, **values) -> str:
    """An absolute URL built on BASE_URL — never on the request's Host header, which a client controls —
    so links in emails (password reset, offers, RSVP) always point at this Tandem."""
    from urllib.parse import urlsplit

    from flask import current_app

    app = current_app
    base = app.config["BASE_URL"]
    adapters = app.extensions.setdefault("tandem_url_adapters", {})
    adapter = adapters.get(base)
    if adapter is None:  # one URL adapter per base URL, not a request context per link (a mail may have many)
        parts = urlsplit(base)
        adapter = app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme or "http")
        adapters[base] = adapter
    app.inject_url_defaults(endpoint, values)
    return adapter.build(endpoint, values, force_external=True)


def save_form(form, action, default_field: str | None = None):
    """The create/edit pattern: validate the form, run the service anyway (so its field errors join the
    form's), and commit once — or roll back and put every error beside its field (an error naming no field
    beside ``default_field``, else at the top of the form). Returns (saved, result).
    Input the database can't take (a NUL byte, text past its column, an id past 32 bits) never reaches the
    service: the form's own messages are shown alone."""
    from program.extensions import db

    form.validate()
    try:
        refuse_unstorable(form)
        result = action()
        if form.errors:
            raise DomainError("Please correct the marked fields.")
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        apply_errors(form, exc, default_field)
        return False, None
    return True, result


class ConfirmForm(TandemForm):
    """A form with nothing but its CSRF token: every one-button POST (cancel, retire, delete, sign off)."""


def run_post(
    action: Callable[[], Any], success: str | Callable[[Any], str] | None = None, category: str = "success"
) -> tuple[bool, Any]:
    """The one-button POST idiom: run one service, commit once, flash the outcome; on a DomainError roll back
    and flash its message instead. ``success`` is the message (or a function of the service's result).
    Returns (done, result); the route then redirects (POST/redirect/GET)."""
    from program.extensions import db

    try:
        result = action()
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return False, None
    message = success(result) if callable(success) else success
    if message:
        flash(message, category)
    return True, result


def sign_token(purpose: str, data: dict) -> str:
    """A URL-safe token carrying ``data``, signed with SECRET_KEY for one purpose (the salt): offer links,
    RSVP links. It proves where it came from; what it names must still be checked when it is used."""
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"tandem-{purpose}").dumps(data)


def read_token(purpose: str, token: str) -> dict | None:
    """The data of a token made by ``sign_token`` for the same purpose, or None if it was not."""
    try:
        data = URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"tandem-{purpose}").loads(token)
    except BadSignature:
        return None
    return data if isinstance(data, dict) else None
