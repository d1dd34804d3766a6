"""Signing in, throttled, and resetting a forgotten password with a one-time link.

Services take plain values and ``now``; they never touch the request.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from datetime import datetime, timedelta
from functools import lru_cache

from flask import current_app
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import aliased
from werkzeug.security import check_password_hash, generate_password_hash

from program.accounts.models import LoginAttempt, PasswordResetRequest, PasswordResetToken, ThrottleKey, User
from program.accounts.services import normalise_email, set_password
from program.errors import DomainError
from program.extensions import db


class InvalidCredentials(DomainError):
    pass


class LoginThrottled(DomainError):
    pass


class InvalidResetLink(DomainError):
    pass


# --- throttling ----------------------------------------------------------------------------
#
# Sign-in is throttled two ways. Per client (IP): LOGIN_MAX_FAILURES failures within LOGIN_LOCK_MINUTES
# lock that client for the rest of the window. Per address: no lock, which anyone could keep on any
# account, but a growing wait — after LOGIN_MAX_FAILURES failures each further attempt waits
# LOGIN_DELAY_SECONDS, doubling with every failure, up to LOGIN_LOCK_MINUTES. A successful sign-in or
# password reset clears the address's failures, and the failures of the client that made it for that
# address (its own typos), never its guesses at other addresses.
#
# Counting and recording must not race: every attempt first locks a row per address and per client
# (ThrottleKey), so concurrent attempts count one after another. The lock lasts until the caller commits.

ADDRESS_MEMORY = timedelta(days=1)  # failures for an address older than this no longer lengthen its wait


class ResetThrottled(DomainError):
    pass


def _lock_throttle_keys(*keys: tuple[str, str], now: datetime) -> None:
    """Lock the row of each (scope, key), creating it on first use, in the order given (addresses before
    clients, so two attempts never wait for each other in a circle). On PostgreSQL the UPDATE takes a row
    lock; on SQLite the first write takes the database's write lock."""
    table = ThrottleKey.__table__
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    for scope, key in keys:
        db.session.execute(insert(table).values(scope=scope, key=key, touched_at=now).on_conflict_do_nothing())
        db.session.execute(update(table).where(table.c.scope == scope, table.c.key == key).values(touched_at=now))


def _wait_text(wait: timedelta) -> str:
    seconds = max(1, math.ceil(wait.total_seconds()))
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _client_wait(ip: str, now: datetime) -> timedelta | None:
    """How long this client is still locked, if it is."""
    lock = timedelta(minutes=current_app.config["LOGIN_LOCK_MINUTES"])
    limit = current_app.config["LOGIN_MAX_FAILURES"]
    later = aliased(LoginAttempt)
    forgiven = (
        select(later.id)
        .where(
            later.ip == LoginAttempt.ip,
            later.email == LoginAttempt.email,
            later.success.is_(True),
            later.at >= LoginAttempt.at,
        )
        .exists()
    )
    failures = db.session.scalars(
        select(LoginAttempt.at)
        .where(LoginAttempt.ip == ip, LoginAttempt.success.is_(False), LoginAttempt.at > now - lock, ~forgiven)
        .order_by(LoginAttempt.at)
    ).all()
    if len(failures) < limit:
        return None
    return failures[-limit] + lock - now  # when the oldest failure that counts leaves the window


def _address_wait(email: str, now: datetime) -> timedelta | None:
    """How long an attempt for this address must still wait, if at all."""
    cfg = current_app.config
    limit = cfg["LOGIN_MAX_FAILURES"]
    last_success = db.session.scalar(
        select(func.max(LoginAttempt.at)).where(LoginAttempt.email == email, LoginAttempt.success.is_(True))
    )
    since = max(now - ADDRESS_MEMORY, last_success) if last_success else now - ADDRESS_MEMORY
    count, last_failure = db.session.execute(
        select(func.count(LoginAttempt.id), func.max(LoginAttempt.at)).where(
            LoginAttempt.email == email, LoginAttempt.success.is_(False), LoginAttempt.at > since
        )
    ).one()
    if count < limit:
        return None
    longest = cfg["LOGIN_LOCK_MINUTES"] * 60
    delay = min(cfg["LOGIN_DELAY_SECONDS"] * 2 ** min(count - limit, 32), longest)
    allowed_at = last_failure + timedelta(seconds=delay)
    return allowed_at - now if allowed_at > now else None


# --- sign-in -------------------------------------------------------------------------------


def authenticate(email: str, password: str, ip: str, now: datetime) -> User:
    """Return the user for these credentials, or raise InvalidCredentials (the same message for an
    unknown address and a wrong password) or LoginThrottled (see "throttling" above: nothing is checked).

    The caller commits, also after a refusal, to keep the record and release the throttle's row locks.
    """
    email = normalise_email(email)[:254]
    ip = (ip or "")[:64]
    _lock_throttle_keys(("sign-in-address", email), ("sign-in-client", ip), now=now)
    client_wait = _client_wait(ip, now)
    address_wait = _address_wait(email, now)
    if client_wait and (address_wait is None or client_wait >= address_wait):
        raise LoginThrottled(
            f"Too many failed sign-in attempts from your connection. Try again in {_wait_text(client_wait)}, "
            "or reset your password."
        )
    if address_wait:
        raise LoginThrottled(
            f"Too many failed sign-in attempts for this address. Try again in {_wait_text(address_wait)}, "
            "or reset your password to sign in at once."
        )
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None or not user.password_hash:
        # Hash anyway, so the time taken doesn't tell whether the address has an account.
        check_password_hash(_dummy_hash(), password or "")
    ok = bool(user and user.password_hash and check_password_hash(user.password_hash, password or ""))
    if ok and not user.active:
        ok = False
    db.session.add(LoginAttempt(email=email, ip=ip, success=ok, kind="sign_in", at=now))
    if not ok:
        raise InvalidCredentials("That email and password don't match an active account.")
    return user


@lru_cache(maxsize=4)
def _dummy_hash_for(method: str) -> str:
    return generate_password_hash(secrets.token_hex(16), method=method)


def _dummy_hash() -> str:
    return _dummy_hash_for(current_app.config["PASSWORD_HASH_METHOD"])


def _token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def record_reset_request(email: str, ip: str, now: datetime) -> str:
    """Accept a "forgot password" request, or raise ResetThrottled; returns the normalised address.

    At most PASSWORD_RESET_MAX_PER_ADDRESS requests per address and PASSWORD_RESET_MAX_PER_CLIENT per
    client within PASSWORD_RESET_WINDOW_MINUTES, counted for every address, with or without an account,
    so neither the answer nor its timing tells which addresses have one. Counting holds under
    concurrency (row locks, as for sign-in); the caller commits.
    """
    email = normalise_email(email)[:254]
    ip = (ip or "")[:64]
    cfg = current_app.config
    window = timedelta(minutes=cfg["PASSWORD_RESET_WINDOW_MINUTES"])
    _lock_throttle_keys(("reset-address", email), ("reset-client", ip), now=now)
    refusals = []
    for column, value, limit, message in (
        (
            PasswordResetRequest.email,
            email,
            cfg["PASSWORD_RESET_MAX_PER_ADDRESS"],
            "Too many reset requests for this address. If it has an account, the links already sent are in its "
            "inbox (look in spam too); or try again in {wait}.",
        ),
        (
            PasswordResetRequest.ip,
            ip,
            cfg["PASSWORD_RESET_MAX_PER_CLIENT"],
            "Too many reset requests from your connection. Try again in {wait}.",
        ),
    ):
        recent = db.session.scalars(
            select(PasswordResetRequest.at)
            .where(column == value, PasswordResetRequest.at > now - window)
            .order_by(PasswordResetRequest.at)
        ).all()
        if len(recent) >= limit:
            refusals.append((recent[-limit] + window - now, message))
    if refusals:
        wait, message = max(refusals, key=lambda r: r[0])
        raise ResetThrottled(message.format(wait=_wait_text(wait)), field="email")
    db.session.add(PasswordResetRequest(email=email, ip=ip, at=now))
    return email


def request_password_reset(email: str, now: datetime) -> tuple[User, str] | None:
    """Create a reset token for an active user with this address; None when there is none.

    The caller answers the same way in both cases, so the reply reveals nothing.
    """
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.active:
        return None
    raw = secrets.token_urlsafe(32)
    hours = current_app.config["PASSWORD_RESET_HOURS"]
    db.session.add(
        PasswordResetToken(
            user=user, token_hash=_token_digest(raw), created_at=now, expires_at=now + timedelta(hours=hours)
        )
    )
    return user, raw


def find_reset_token(raw: str, now: datetime) -> PasswordResetToken:
    token = db.session.scalar(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == _token_digest(raw or ""))
    )
    if token is None or token.used_at is not None or token.expires_at <= now or not token.user.active:
        raise InvalidResetLink("This reset link is invalid, already used or expired. Ask for a new one.")
    return token


def reset_password(raw: str, new_password: str, now: datetime, ip: str = "") -> User:
    """Use a reset token once: set the password, spend this and every other open token of the user.

    Using the link proves the person owns the mailbox, so it counts as a successful sign-in for the
    throttle: it ends the address's wait and forgives this client's failures for the address.
    """
    token = find_reset_token(raw, now)
    set_password(token.user, new_password)
    for other in db.session.scalars(
        select(PasswordResetToken).where(
            PasswordResetToken.user_id == token.user_id, PasswordResetToken.used_at.is_(None)
        )
    ):
        other.used_at = now
    db.session.add(LoginAttempt(email=token.user.email, ip=(ip or "")[:64], success=True, kind="reset", at=now))
    return token.user


SIGN_IN_RECORDS_KEPT = timedelta(days=7)


def purge_sign_in_records(now: datetime) -> int:
    """Scheduled: forget sign-in attempts, reset requests, throttle rows and spent or expired reset links older
    than a week (throttling looks back at most a day), so these tables don't grow for ever."""
    horizon = now - SIGN_IN_RECORDS_KEPT
    purged = 0
    for statement in (
        delete(LoginAttempt).where(LoginAttempt.at < horizon),
        delete(PasswordResetRequest).where(PasswordResetRequest.at < horizon),
        delete(ThrottleKey).where(ThrottleKey.touched_at < horizon),
        delete(PasswordResetToken).where(
            or_(PasswordResetToken.expires_at < horizon, PasswordResetToken.used_at < horizon)
        ),
    ):
        purged += db.session.execute(statement).rowcount or 0
    return purged
