"""Small helpers shared by the blueprints: role guards, form error mapping, list parameters."""

from __future__ import annotations

from functools import wraps

from flask import abort, request
from flask_login import current_user, login_required

from program.errors import DomainError
from program.validation import refuse_unstorable


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
    from flask import current_app, url_for

    with current_app.test_request_context(base_url=current_app.config["BASE_URL"]):
        return url_for(endpoint, _external=True, **values)


def save_form(form, action):
    """The create/edit pattern: validate the form, run the service anyway (so its field errors join the
    form's), and commit once — or roll back and put every error beside its field. Returns (saved, result).
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
        apply_errors(form, exc)
        return False, None
    return True, result
