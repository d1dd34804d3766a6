"""One configuration object, read from environment variables (and a local ``.env`` file)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from dotenv import load_dotenv

load_dotenv()


def _normalise_db_url(url: str) -> str:
    """Hosted PostgreSQL often hands out ``postgres://`` URLs; SQLAlchemy wants the psycopg 3 dialect."""
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://") :]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _months(name: str, default: int) -> int:
    """A whole number of months (0 or more) from the environment; a bad value names the setting."""
    raw = os.environ.get(name, str(default)).strip()
    if not raw.isdigit():
        raise ValueError(f"{name}={raw!r} must be a whole number of months (0 or more), e.g. {name}={default}.")
    return int(raw)


def clock_offset(value: str, database_uri: str, debug: bool) -> timedelta:
    """The offset that moves the app's clock to ``value`` (an ISO 8601 instant; a naive one is UTC)."""
    if not (debug or database_uri.startswith("sqlite")):
        raise RuntimeError(
            "TANDEM_NOW moves the clock and is for development and tests only; it is refused on PostgreSQL "
            "unless FLASK_DEBUG=1. Unset it in production."
        )
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RuntimeError(f"TANDEM_NOW={value!r} is not an ISO 8601 instant (e.g. 2027-03-28T00:30:00Z).") from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant - datetime.now(UTC)


class Config:
    """Settings for every environment; tests pass overrides to ``create_app``."""

    def __init__(self) -> None:
        self.SECRET_KEY = os.environ.get("SECRET_KEY")
        self.DEBUG = _bool("FLASK_DEBUG")
        self.TESTING = False
        self.SQLALCHEMY_DATABASE_URI = _normalise_db_url(
            os.environ.get("DATABASE_URL", "sqlite:///" + os.path.abspath("instance/tandem.db"))
        )
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        self.ORG_NAME = os.environ.get("ORG_NAME", "Example Corp")
        self.DEFAULT_TIMEZONE = os.environ.get("DEFAULT_TIMEZONE", "Europe/London")
        self.BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
        # Mail: every message is written to the outbox and delivered by a job; with no MAIL_SERVER it is only
        # logged (the admin Outbox page shows it). A failed delivery is retried MAIL_MAX_ATTEMPTS times in all,
        # waiting MAIL_RETRY_SECONDS * 3^(attempt-1) between tries (30 s, 90 s, 4.5 min, … by default).
        self.MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
        self.MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
        self.MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
        self.MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
        self.MAIL_USE_TLS = _bool("MAIL_USE_TLS")
        self.MAIL_USE_SSL = _bool("MAIL_USE_SSL")
        self.MAIL_FROM = os.environ.get("MAIL_FROM", "Tandem <tandem@example.com>")
        self.MAIL_MAX_ATTEMPTS = int(os.environ.get("MAIL_MAX_ATTEMPTS", "8"))
        self.MAIL_RETRY_SECONDS = int(os.environ.get("MAIL_RETRY_SECONDS", "30"))
        self.MAIL_TIMEOUT_SECONDS = int(os.environ.get("MAIL_TIMEOUT_SECONDS", "20"))
        # The job engine: "auto" = procrastinate on PostgreSQL (run `flask worker`), in-process threads on
        # SQLite; or "procrastinate", "thread", "inline". Schedules are cron expressions (UTC; an optional
        # sixth field, last, is seconds: "* * * * * */2" is every two seconds).
        self.JOBS_BACKEND = os.environ.get("JOBS_BACKEND", "auto")
        self.JOBS_SWEEP_CRON = os.environ.get("JOBS_SWEEP_CRON", "* * * * *")
        self.JOBS_REMINDERS_CRON = os.environ.get("JOBS_REMINDERS_CRON", "*/5 * * * *")
        self.JOBS_HOURLY_CRON = os.environ.get("JOBS_HOURLY_CRON", "17 * * * *")
        self.JOBS_WEEKLY_CRON = os.environ.get("JOBS_WEEKLY_CRON", "0 7 * * 1")
        self.JOBS_WORKER_CONCURRENCY = int(os.environ.get("JOBS_WORKER_CONCURRENCY", "4"))
        self.JOBS_EXPORT_CONCURRENCY = int(os.environ.get("JOBS_EXPORT_CONCURRENCY", "1"))
        # A worker silent this long is taken for dead; its jobs go back to the queue.
        self.JOBS_STALLED_SECONDS = int(os.environ.get("JOBS_STALLED_SECONDS", "60"))
        # Anything committed but not delivered this long after it was due is queued again by the sweep.
        self.JOBS_SWEEP_GRACE_SECONDS = int(os.environ.get("JOBS_SWEEP_GRACE_SECONDS", "60"))
        # Sessions: short-lived, HttpOnly, SameSite; Secure when the request came over HTTPS
        # (or always, with SESSION_COOKIE_SECURE=1). No "remember me": a session ends after
        # SESSION_HOURS of inactivity and at sign-out, password change or deactivation.
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE")
        self.SESSION_COOKIE_NAME = "tandem_session"
        self.PERMANENT_SESSION_LIFETIME = timedelta(hours=int(os.environ.get("SESSION_HOURS", "12")))
        # However active, a session ends this many days after its sign-in.
        self.SESSION_MAX_DAYS = int(os.environ.get("SESSION_MAX_DAYS", "7"))
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        # How many reverse proxies (load balancers) sit in front of the app and set X-Forwarded-*.
        self.TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
        self.WTF_CSRF_TIME_LIMIT = None  # tied to the session instead, so long forms don't expire
        self.MAX_CONTENT_LENGTH = 5 * 1024 * 1024
        self.PASSWORD_HASH_METHOD = os.environ.get("PASSWORD_HASH_METHOD", "scrypt")
        self.LOGIN_MAX_FAILURES = int(os.environ.get("LOGIN_MAX_FAILURES", "5"))
        self.LOGIN_LOCK_MINUTES = int(os.environ.get("LOGIN_LOCK_MINUTES", "15"))
        # After LOGIN_MAX_FAILURES failures for an address, its next attempt waits this long; each further
        # failure doubles the wait, up to LOGIN_LOCK_MINUTES. (A client is locked outright instead.)
        self.LOGIN_DELAY_SECONDS = int(os.environ.get("LOGIN_DELAY_SECONDS", "30"))
        self.PASSWORD_RESET_HOURS = int(os.environ.get("PASSWORD_RESET_HOURS", "2"))
        # "Forgot password" requests accepted per address and per client within PASSWORD_RESET_WINDOW_MINUTES.
        self.PASSWORD_RESET_MAX_PER_ADDRESS = int(os.environ.get("PASSWORD_RESET_MAX_PER_ADDRESS", "3"))
        self.PASSWORD_RESET_MAX_PER_CLIENT = int(os.environ.get("PASSWORD_RESET_MAX_PER_CLIENT", "10"))
        self.PASSWORD_RESET_WINDOW_MINUTES = int(os.environ.get("PASSWORD_RESET_WINDOW_MINUTES", "60"))
        # When a debrief is due after each kind: "kind=N working_days|days", comma-separated.
        self.DEBRIEF_DUE = os.environ.get(
            "DEBRIEF_DUE", "ride_along=2 working_days,shadow_day=7 days,review_meeting=2 working_days"
        )
        # Exports: finished files are stored in the database (any host can serve them) for EXPORT_KEEP_HOURS.
        self.EXPORT_KEEP_HOURS = int(os.environ.get("EXPORT_KEEP_HOURS", "24"))
        self.EXPORT_STALE_SECONDS = int(os.environ.get("EXPORT_STALE_SECONDS", "120"))
        self.EXPORT_HEARTBEAT_SECONDS = int(os.environ.get("EXPORT_HEARTBEAT_SECONDS", "10"))
        # Provisioning (SCIM): teams an identity provider creates go into this department.
        self.SCIM_DEFAULT_DEPARTMENT = os.environ.get("SCIM_DEFAULT_DEPARTMENT", "Unassigned")
        # Shadow days: two leaders are neither suggested nor allowed as partners again within this many months.
        self.SHADOW_REPEAT_MONTHS = _months("SHADOW_REPEAT_MONTHS", 12)
        # Single sign-on (OpenID Connect, program/sso). Without OIDC_DISCOVERY_URL there is none and sign-in is as
        # before. The provider's redirect URI for Tandem is BASE_URL + /sso/callback; after sign-out it sends the
        # browser back to BASE_URL + /login (register both at the provider).
        self.OIDC_DISCOVERY_URL = os.environ.get("OIDC_DISCOVERY_URL", "").strip()
        self.OIDC_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "").strip()
        self.OIDC_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET", "")
        self.OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "").strip() or "single sign-on"
        self.OIDC_SCOPES = os.environ.get("OIDC_SCOPES", "").strip() or "openid email profile"
        # Just-in-time creation: a person unknown to Tandem is created at their first sign-in, only when their
        # provider-verified email is in one of OIDC_ALLOWED_DOMAINS (comma-separated; none = nobody is created).
        self.OIDC_JIT = _bool("OIDC_JIT")
        self.OIDC_ALLOWED_DOMAINS = os.environ.get("OIDC_ALLOWED_DOMAINS", "")
        # The role of a person created at sign-in: the values of the OIDC_ROLE_CLAIM claim and of the
        # OIDC_GROUPS_CLAIM claim, mapped by OIDC_ROLE_MAP ("group=role,…"; the highest role wins; staff if none).
        # Their department: the one named by the OIDC_DEPARTMENT_CLAIM claim, if it exists.
        self.OIDC_ROLE_CLAIM = os.environ.get("OIDC_ROLE_CLAIM", "").strip()
        self.OIDC_GROUPS_CLAIM = os.environ.get("OIDC_GROUPS_CLAIM", "").strip()
        self.OIDC_ROLE_MAP = os.environ.get("OIDC_ROLE_MAP", "")
        self.OIDC_DEPARTMENT_CLAIM = os.environ.get("OIDC_DEPARTMENT_CLAIM", "").strip()
        # Sign-out also signs out at the provider (RP-initiated logout) when it offers an end_session_endpoint.
        self.OIDC_LOGOUT = _bool("OIDC_LOGOUT", True)
        # Requests to the provider (discovery, keys, the token exchange during sign-in) give up after this long.
        self.OIDC_TIMEOUT_SECONDS = float(os.environ.get("OIDC_TIMEOUT_SECONDS", "5"))
        # Clock skew allowed when checking the ID token's exp/iat (0–60 seconds).
        self.OIDC_CLOCK_SKEW_SECONDS = min(max(int(os.environ.get("OIDC_CLOCK_SKEW_SECONDS", "30")), 0), 60)
        # PASSWORD_LOGIN=off (with single sign-on configured): only the emergency ("break-glass") accounts in
        # BREAK_GLASS_EMAILS (comma-separated) may sign in with a password or reset one, at /login?break_glass=1.
        self.PASSWORD_LOGIN = _bool("PASSWORD_LOGIN", True)
        self.BREAK_GLASS_EMAILS = os.environ.get("BREAK_GLASS_EMAILS", "")
        # Tests pin "now" with FIXED_NOW (an aware datetime); production leaves it None.
        self.FIXED_NOW = None
        # Time travel for demos and date tests: TANDEM_NOW=2027-03-28T00:30:00Z starts the app's clock at that
        # instant (it then runs on). Refused on PostgreSQL unless FLASK_DEBUG is on: production runs on real time.
        self.TANDEM_NOW = os.environ.get("TANDEM_NOW", "").strip()
        self.CLOCK_OFFSET = None

    def validate(self) -> None:
        if self.TANDEM_NOW:
            self.CLOCK_OFFSET = clock_offset(self.TANDEM_NOW, self.SQLALCHEMY_DATABASE_URI, self.DEBUG or self.TESTING)
        if not self.SECRET_KEY:
            if self.DEBUG or self.TESTING:
                self.SECRET_KEY = "dev-only-not-secret"
            else:
                raise RuntimeError(
                    "SECRET_KEY is not set. Set it in the environment or in .env "
                    "(for example: SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))'))."
                )
