"""Sign-in, sign-out, password change and reset."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from program.accounts import services
from program.accounts.forms import ChangePasswordForm, ForgotPasswordForm, LoginForm, ResetPasswordForm
from program.errors import DomainError
from program.extensions import db
from program.notify.services import queue_email
from program.timeutil import utcnow
from program.web import absolute_url, apply_errors, client_ip

bp = Blueprint("accounts", __name__)


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
        try:
            user = services.authenticate(form.email.data, form.password.data, client_ip(), utcnow())
        except DomainError as exc:
            db.session.commit()  # keep the record of the failed attempt
            form.form_errors.append(exc.message)
        else:
            db.session.commit()
            login_user(user)
            from flask import session

            session.permanent = True
            return redirect(_safe_next(request.args.get("next")))
    return render_template("accounts/login.html", form=form), (200 if not form.errors else 422)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    # Rotating the session token makes any copy of the old cookie worthless.
    current_user.session_token = services.new_session_token()
    db.session.commit()
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current_password.data, form.new_password.data)
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            db.session.commit()
            login_user(current_user._get_current_object())  # re-issue this session's cookie with the new token
            flash("Your password is changed. Other sessions are signed out.", "success")
            return redirect(url_for("main.dashboard"))
    return render_template("accounts/change_password.html", form=form), (200 if not form.errors else 422)


@bp.route("/forgot", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        found = services.request_password_reset(form.email.data, utcnow())
        if found is not None:
            user, raw = found
            link = absolute_url("accounts.reset_password", token=raw)
            queue_email(
                user.email,
                "password_reset",
                "Reset your Tandem password",
                user=user,
                link=link,
                hours=current_app.config["PASSWORD_RESET_HOURS"],
            )
        db.session.commit()
        flash(
            "If that address belongs to an active account, we have sent a link to reset the password. "
            "Check your inbox.",
            "info",
        )
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    try:
        services.find_reset_token(token, utcnow())
    except DomainError as exc:
        return render_template("accounts/reset_invalid.html", message=exc.message), 404
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.new_password.data, utcnow())
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc, default_field="new_password")
        else:
            db.session.commit()
            if current_user.is_authenticated:
                logout_user()
            flash("Your password is set. Sign in with it now.", "success")
            return redirect(url_for("accounts.login"))
    return render_template("accounts/reset.html", form=form)
