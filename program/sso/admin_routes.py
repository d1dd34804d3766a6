"""The admin page "Single sign-on": the settings as read from the environment (read-only, the secret masked), the
provider's discovery document fetched on demand, and a test sign-in that shows the claims received."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from program.accounts.models import Role
from program.sso import oidc
from program.sso.routes import TEST
from program.sso.settings import SettingsError, SSOSettings
from program.web import absolute_url, roles_required

bp = Blueprint("sso_admin", __name__, url_prefix="/admin/sso")


def _rows(settings: SSOSettings) -> list[tuple[str, str, str]]:
    """(variable, value as shown, what it does) for each setting."""

    def text(value: object, empty: str = "not set") -> str:
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, tuple | list):
            return ", ".join(value) or empty
        if isinstance(value, dict):
            return ", ".join(f"{k}={v}" for k, v in value.items()) or empty
        return str(value) if value not in (None, "") else empty

    return [
        ("OIDC_DISCOVERY_URL", text(settings.discovery_url), "The provider's discovery document."),
        ("OIDC_CLIENT_ID", text(settings.client_id), "Tandem's client id at the provider."),
        (
            "OIDC_CLIENT_SECRET",
            "set (hidden)" if settings.client_secret else "not set",
            "Tandem's client secret at the provider.",
        ),
        ("OIDC_PROVIDER_NAME", text(settings.provider_name), "Shown on the button: “Sign in with …”."),
        ("OIDC_SCOPES", text(settings.scopes), "The scopes Tandem asks for."),
        ("OIDC_JIT", text(settings.jit), "Create people unknown to Tandem at their first sign-in."),
        ("OIDC_ALLOWED_DOMAINS", text(settings.allowed_domains, "none"), "Email domains people may be created for."),
        ("OIDC_ROLE_CLAIM", text(settings.role_claim), "The claim holding a role."),
        ("OIDC_GROUPS_CLAIM", text(settings.groups_claim), "The claim holding the person's groups."),
        ("OIDC_ROLE_MAP", text(settings.role_map, "none"), "Claim values or groups → Tandem roles."),
        ("OIDC_DEPARTMENT_CLAIM", text(settings.department_claim), "The claim naming the person's department."),
        ("OIDC_LOGOUT", text(settings.logout), "Signing out of Tandem signs out at the provider too."),
        ("OIDC_TIMEOUT_SECONDS", f"{settings.timeout:g} s", "How long Tandem waits for the provider."),
        ("OIDC_CLOCK_SKEW_SECONDS", f"{settings.leeway} s", "Clock difference allowed when checking ID tokens."),
        ("PASSWORD_LOGIN", text(settings.password_login), "Password sign-in for everyone (off: emergency only)."),
        ("BREAK_GLASS_EMAILS", text(settings.break_glass_emails, "none"), "Emergency accounts that keep passwords."),
    ]


@bp.route("")
@roles_required(Role.ADMIN.value)
def settings_page():
    try:
        settings = oidc.current_settings()
    except SettingsError as exc:
        return render_template("sso/settings.html", settings=None, error=str(exc), rows=[], discovery=None)
    discovery = discovery_error = None
    if settings.enabled and request.args.get("discovery"):
        try:
            discovery = oidc.fetch_discovery(settings)
        except oidc.SSOError as exc:
            discovery_error = exc.message
    return render_template(
        "sso/settings.html",
        settings=settings,
        error=None,
        rows=_rows(settings),
        redirect_uri=absolute_url("sso.callback"),
        post_logout_uri=absolute_url("accounts.login"),
        discovery=discovery,
        discovery_error=discovery_error,
    )


@bp.route("/test")
@roles_required(Role.ADMIN.value)
def test_sign_in():
    """Run the sign-in flow at the provider; the callback shows what came back and signs nobody in."""
    if not oidc.current_settings().enabled:
        abort(404)
    try:
        return redirect(oidc.begin(TEST))
    except oidc.SSOError as exc:
        flash(exc.message, "error")
        return redirect(url_for("sso_admin.settings_page"))
