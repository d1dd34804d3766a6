"""Domain exceptions (with messages a user can read) and the app's error pages."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request


class DomainError(Exception):
    """A rule said no. ``str(exc)`` is shown to the user as it is."""

    field: str | None = None

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if field:
            self.field = field


class NotAllowed(DomainError):
    pass


class NotFound(DomainError):
    pass


class InvalidTransition(DomainError):
    pass


class ValidationFailed(DomainError):
    """Input a rule refused. ``errors`` (field name → message) puts a message beside each field of a form."""

    def __init__(self, message: str, field: str | None = None, *, errors: dict[str, str] | None = None) -> None:
        super().__init__(message, field)
        if errors:
            self.errors = errors


def _page(code: int, title: str, text: str):
    if request.path.startswith("/healthz") or request.accept_mimetypes.best == "application/json":
        return jsonify(error=title), code
    return render_template("errors/error.html", code=code, title=title, text=text), code


def _server_error_page():
    """The 500 page, even after a database error: the failed transaction is rolled back first (else the
    page's own reads — the signed-in user, the menu — fail again and the server's bare page, without our
    security headers, goes out). If the database can't answer at all, the page is shown as to a signed-out
    visitor rather than not at all."""
    from flask import g
    from sqlalchemy.exc import SQLAlchemyError

    from program.extensions import db, login_manager

    def rollback() -> None:
        try:
            db.session.rollback()
        except SQLAlchemyError:
            pass  # the connection is gone; the pool replaces it

    title, text = "Something went wrong", "An error occurred on our side. It has been logged."
    rollback()
    try:
        return _page(500, title, text)
    except SQLAlchemyError:
        rollback()
        g._login_user = login_manager.anonymous_user()  # Flask-Login reads the current user from here
        return _page(500, title, text)


def register_error_pages(app: Flask) -> None:

    @app.errorhandler(400)
    def bad_request(e):
        return _page(400, "Bad request", "The request could not be understood. Go back and try again.")

    @app.errorhandler(403)
    def forbidden(e):
        return _page(403, "Not allowed", "You don't have permission to do that.")

    @app.errorhandler(404)
    def not_found(e):
        return _page(404, "Not found", "There is nothing here, or it is not yours to see.")

    @app.errorhandler(405)
    def method_not_allowed(e):
        return _page(405, "Not allowed", "That action can't be done this way.")

    @app.errorhandler(413)
    def too_large(e):
        return _page(413, "Too large", "That upload is too large (5 MB at most).")

    @app.errorhandler(500)
    def server_error(e):
        return _server_error_page()

    from flask_wtf.csrf import CSRFError

    @app.errorhandler(CSRFError)
    def csrf_error(e):
        return _page(
            400,
            "Form expired",
            "Your form could not be accepted because its security token was missing or expired. "
            "Reload the page and try again.",
        )
