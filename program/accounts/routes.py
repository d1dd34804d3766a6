"""Sign-in, sign-out, password change and reset."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from program.accounts import services, signin
from program.accounts.forms import ChangePasswordForm, ForgotPasswordForm, LoginForm, ResetPasswordForm
from program.accounts.mail import send_reset_link_later
from program.accounts.models import new_session_token
from program.errors import DomainError
from program.extensions import db
from program.timeutil import utcnow
from program.web import apply_errors, client_ip, save_form

bp = Blueprint("accounts", __name__)
SIGNED_IN_AT = "signed_in_at"  # in the session: when this sign-in happened (Unix seconds)


def _safe_next(target: str | None) -> str:
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("main.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = LoginForm()
    if form.validate_on_submit():
        now = utcnow()
        try:
            user = signin.authenticate(form.email.data, form.password.data, client_ip(), now)
        except DomainError as exc:
            db.session.commit()  # keep the record of the failed attempt (and release the throttle's locks)
            form.form_errors.append(exc.message)
            if isinstance(exc, signin.LoginThrottled):
                return render_template("accounts/login.html", form=form), 429
        else:
            db.session.commit()
            login_user(user)
            session.permanent = True
            session[SIGNED_IN_AT] = int(now.timestamp())
            return redirect(_safe_next(request.args.get("next")))
    return render_template("accounts/login.html", form=form), (200 if not form.errors else 422)


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
    flash("You are signed out.", "info")
    return redirect(url_for("accounts.login"))


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
