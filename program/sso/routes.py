"""Single sign-on pages: start a sign-in at the provider, and the callback it comes back to.

The callback serves two flows: a real sign-in (through accounts' ``start_session``, the one way in) and the
admin page's test sign-in, which only shows what the provider said and signs nobody in.
"""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from program.accounts.models import Role
from program.accounts.routes import SIGN_OUT_URL, safe_next, start_session
from program.errors import DomainError
from program.extensions import db
from program.sso import oidc, services
from program.timeutil import utcnow

log = logging.getLogger(__name__)

bp = Blueprint("sso", __name__, url_prefix="/sso")

SIGN_IN = "sign_in"
TEST = "test"
END_SESSION = "sso_end_session_url"  # in the session: the provider's sign-out URL for this sign-in (its ID token)


def _back_to_login(message: str, next_url: str | None = None):
    flash(message, "error")
    return redirect(url_for("accounts.login", next=next_url or None))


@bp.route("/login")
def start():
    """Send the browser to the provider to sign in (a link: it changes nothing but this browser's session)."""
    settings = oidc.current_settings()
    if not settings.enabled:
        abort(404)
    next_url = request.args.get("next") or None
    if current_user.is_authenticated:
        return redirect(safe_next(next_url))
    try:
        return redirect(oidc.begin(SIGN_IN, next_url))
    except oidc.SSOError as exc:
        return _back_to_login(exc.message, next_url)


@bp.route("/callback")
def callback():
    settings = oidc.current_settings()
    if not settings.enabled:
        abort(404)
    try:
        result = oidc.finish(request.args.to_dict())
    except oidc.SSOError as exc:
        if exc.purpose == TEST and current_user.is_authenticated:
            flash(f"Test sign-in: {exc.message}", "error")
            return redirect(url_for("sso_admin.settings_page"))
        return _back_to_login(exc.message)
    if result.purpose == TEST:
        return _show_test(result, settings)
    if result.purpose != SIGN_IN:
        return _back_to_login("This sign-in could not be matched to one started in this browser. Please start again.")
    now = utcnow()
    for attempt in (1, 2):
        try:
            user = services.sign_in_person(result.claims, settings, result.issuer, now)
            db.session.commit()
            break
        except services.SignInRefused as exc:
            db.session.rollback()
            log.info("single sign-on refused for sub %r: %s", result.claims.get("sub"), exc.message)
            return _back_to_login(exc.message, result.next)
        except IntegrityError:
            # The same person's first sign-in in two tabs at once: the other one stored them first.
            db.session.rollback()
            if attempt == 2:
                return _back_to_login("Your sign-in could not be completed. Please try again.", result.next)
    start_session(user, now)
    end_session = oidc.logout_url(result.id_token)
    if end_session:
        session[END_SESSION] = end_session
        session[SIGN_OUT_URL] = url_for("sso.signed_out")
    else:
        session.pop(END_SESSION, None)
    return redirect(safe_next(result.next))


@bp.route("/signed-out")
def signed_out():
    """Where Tandem's sign-out sends a single sign-on session: on to the provider's end-session endpoint, with the
    ID token as the hint and Tandem's sign-in page to come back to (RP-initiated logout).

    A page that moves on by itself (the Refresh header, and a link), not a redirect: browsers apply the
    ``form-action 'self'`` policy to every redirect after the sign-out form, so a redirect to the provider would
    be blocked."""
    target = session.pop(END_SESSION, None)
    if current_user.is_authenticated or not target:
        return redirect(url_for("accounts.login"))
    # "You are signed out." shows here and again on the sign-in page the provider sends the browser back to.
    for category, message in get_flashed_messages(with_categories=True):
        flash(message, category)
    response = current_app.make_response(
        render_template("sso/signed_out.html", target=target, provider_name=oidc.current_settings().provider_name)
    )
    response.headers["Refresh"] = f"0; url={target}"
    return response


def _show_test(result: oidc.FlowResult, settings):
    """The admin page's test sign-in: the claims received and who they would sign in as — no one is signed in
    and the session's user is unchanged."""
    if not (current_user.is_authenticated and current_user.role == Role.ADMIN.value):
        abort(404)
    try:
        resolution = services.resolve_person(result.claims, settings)
        outcome, refusal = resolution, None
    except DomainError as exc:
        outcome, refusal = None, exc.message
    return render_template(
        "sso/test_result.html",
        settings=settings,
        claims=sorted(result.claims.items()),
        issuer=result.issuer,
        resolution=outcome,
        refusal=refusal,
    )
