"""Sign-in, sign-out, password change and reset."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from program.accounts import services, signin
from program.accounts.forms import ChangePasswordForm, ForgotPasswordForm, LoginForm, ResetPasswordForm
from program.accounts.mail import send_reset_link_later
from program.accounts.models import User, new_session_token
from program.errors import DomainError
from program.extensions import db
from program.timeutil import utcnow
from program.web import apply_errors, client_ip, save_form

bp = Blueprint("accounts", __name__)
SIGNED_IN_AT = "signed_in_at"  # in the session: when this sign-in happened (Unix seconds)
# In the session: where sign-out sends the browser once the session has ended (single sign-on puts the provider's
# end-session URL here at sign-in, so signing out of Tandem signs out there too). Set only by the server.
SIGN_OUT_URL = "sign_out_url"


def safe_next(target: str | None) -> str:
    """A local path to go to after sign-in (anything else: the dashboard)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("main.dashboard")


def password_sign_in_allowed(email: str | None = None) -> bool:
    """Whether the password form may be used (for this address). With single sign-on configured and
    PASSWORD_LOGIN off, only the emergency accounts in BREAK_GLASS_EMAILS may; without an address: whether
    everyone may."""
    cfg = current_app.config
    if cfg.get("PASSWORD_LOGIN", True) or not cfg.get("OIDC_DISCOVERY_URL"):
        return True
    if email is None:
        return False
    allowed = {e.strip().lower() for e in str(cfg.get("BREAK_GLASS_EMAILS") or "").split(",") if e.strip()}
    return services.normalise_email(email) in allowed


def _password_off_message() -> str:
    name = current_app.config.get("OIDC_PROVIDER_NAME") or "single sign-on"
    return f"Password sign-in is turned off: use “Sign in with {name}”."


def start_session(user: User, now: datetime) -> None:
    """Sign this person in on this browser: the one way in, for the password form and single sign-on alike
    (the cookie carries the session token; the session's lifetime counts from ``now``)."""
    login_user(user)
    session.permanent = True
    session[SIGNED_IN_AT] = int(now.timestamp())
    session.pop(SIGN_OUT_URL, None)  # a provider's sign-out page belongs to the sign-in that set it


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = LoginForm()
    # With password sign-in off, the form is shown only at /login?break_glass=1 (or again after a refusal).
    show_form = password_sign_in_allowed() or bool(request.args.get("break_glass")) or request.method == "POST"
    if form.validate_on_submit():
        now = utcnow()
        if not password_sign_in_allowed(form.email.data):
            form.form_errors.append(_password_off_message())
            return render_template("accounts/login.html", form=form, show_form=show_form), 422
        try:
            user = signin.authenticate(form.email.data, form.password.data, client_ip(), now)
        except DomainError as exc:
            db.session.commit()  # keep the record of the failed attempt (and release the throttle's locks)
            form.form_errors.append(exc.message)
            if isinstance(exc, signin.LoginThrottled):
                return render_template("accounts/login.html", form=form, show_form=show_form), 429
        else:
            db.session.commit()
            start_session(user, now)
            return redirect(safe_next(request.args.get("next")))
    return render_template("accounts/login.html", form=form, show_form=show_form), (200 if not form.errors else 422)


@bp.before_app_request
def end_sessions_past_their_lifetime():
    """However active, a session ends SESSION_MAX_DAYS after its sign-in (the idle timeout is SESSION_HOURS).

    A copy of the cookie carries the same sign-in time, so it ends too. A session from before this rule
    has no sign-in time: its clock starts now.
    """
    if "_user_id" not in session:
        return None
    now = utcnow().timestamp()
    started = session.get(SIGNED_IN_AT)
    if not isinstance(started, int | float):
        session[SIGNED_IN_AT] = int(now)
        return None
    days = current_app.config["SESSION_MAX_DAYS"]
    if now - started < days * 86400:
        return None
    logout_user()
    session.pop(SIGNED_IN_AT, None)
    if request.endpoint == "static":
        return None
    flash(f"You have been signed in for {days} days, the longest a session lasts. Please sign in again.", "info")
    return redirect(url_for("accounts.login", next=request.full_path if request.method == "GET" else None))


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    # Rotating the session token makes any copy of the old cookie worthless.
    current_user.session_token = new_session_token()
    db.session.commit()
    logout_user()
    session.pop(SIGNED_IN_AT, None)
    target = session.pop(SIGN_OUT_URL, None)
    flash("You are signed out.", "info")
    return redirect(target or url_for("accounts.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        saved, _ = save_form(
            form, lambda: services.change_password(current_user, form.current_password.data, form.new_password.data)
        )
        if saved:
            login_user(current_user._get_current_object())  # re-issue this session's cookie with the new token
            flash("Your password is changed. Other sessions are signed out.", "success")
            return redirect(url_for("main.dashboard"))
    return render_template("accounts/change_password.html", form=form), (200 if not form.errors else 422)


@bp.route("/forgot", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        if not password_sign_in_allowed(form.email.data):
            form.email.errors = [f"{_password_off_message()} There is no password to reset."]
            return render_template("accounts/forgot.html", form=form), 422
        now = utcnow()
        try:
            email = signin.record_reset_request(form.email.data, client_ip(), now)
        except signin.ResetThrottled as exc:
            db.session.commit()  # release the throttle's locks
            apply_errors(form, exc)
            return render_template("accounts/forgot.html", form=form), 429
        # Whether the address has an account is found out off the request path (see accounts.mail), so the
        # answer comes as fast for a real account as for an unknown address.
        send_reset_link_later(email, now)
        db.session.commit()
        flash(
            "If that address belongs to an active account, we have sent a link to reset the password. "
            "Check your inbox.",
            "info",
        )
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot.html", form=form), (422 if form.errors else 200)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    try:
        signin.find_reset_token(token, utcnow())
    except DomainError as exc:
        return render_template("accounts/reset_invalid.html", message=exc.message), 404
    form = ResetPasswordForm()
    if form.validate_on_submit():
        saved, _ = save_form(
            form,
            lambda: signin.reset_password(token, form.new_password.data, utcnow(), ip=client_ip()),
            default_field="new_password",
        )
        if saved:
            if current_user.is_authenticated:
                logout_user()
            flash("Your password is set. Sign in with it now.", "success")
            return redirect(url_for("accounts.login"))
    return render_template("accounts/reset.html", form=form), (422 if form.errors else 200)
