"""SCIM client tokens: one bearer token per identity provider (client), shown once when it is made, stored only
as its SHA-256 hash with a short prefix to tell tokens apart, revocable, with the time it was last used
(written at most once a minute, so a burst of provisioning does not rewrite the row on every request)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from program.accounts.models import User
from program.errors import NotAllowed, ValidationFailed
from program.extensions import db
from program.scim.models import ScimToken
from program.validation import column_length, has_control_characters

TOKEN_PREFIX = "tdm_scim_"  # recognisable in a secrets scanner and in logs
PREFIX_LENGTH = 12  # of the token, stored in clear to tell tokens apart
LAST_USED_EVERY = timedelta(minutes=1)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def require_admin(actor: User | None) -> None:
    """Tokens are made and revoked by admins (``actor`` None: the command line, run by whoever runs the server)."""
    if actor is not None and not actor.is_admin:
        raise NotAllowed("Only an admin can manage SCIM tokens.")


def create_token(actor: User | None, name: str, now: datetime) -> tuple[ScimToken, str]:
    """A new token for the client ``name``: returns the row and the token itself, which is never stored and
    can't be shown again."""
    require_admin(actor)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("Give the token a name (the identity provider it is for).", field="name")
    if has_control_characters(name) or len(name) > column_length(ScimToken.name):
        raise ValidationFailed(f"Keep the name to {column_length(ScimToken.name)} plain characters.", field="name")
    if db.session.scalar(
        select(ScimToken.id).where(func.lower(ScimToken.name) == name.lower(), ScimToken.revoked_at.is_(None))
    ):
        raise ValidationFailed(
            "A token with this name is in use; revoke it first or choose another name.", field="name"
        )
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ScimToken(
        name=name,
        token_hash=hash_token(raw),
        prefix=raw[:PREFIX_LENGTH],
        created_at=now,
        created_by_id=actor.id if actor is not None else None,
    )
    db.session.add(token)
    db.session.flush()
    return token, raw


def revoke_token(actor: User | None, token: ScimToken, now: datetime) -> None:
    """A revoked token is refused from the next request on; the row stays, for the record."""
    require_admin(actor)
    if token.revoked_at is None:
        token.revoked_at = now


def authenticate(raw: str) -> ScimToken | None:
    """The live token ``raw`` is, or None."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    digest = hash_token(raw)
    token = db.session.scalar(select(ScimToken).where(ScimToken.token_hash == digest))
    if token is None or token.revoked_at is not None:
        return None
    return token


def mark_used(token: ScimToken, now: datetime) -> bool:
    """Record that the token was used, unless that was recorded less than a minute ago; whether it wrote."""
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_EVERY:
        return False
    # A conditional UPDATE: concurrent requests of one client write the row once, and none waits for another.
    db.session.execute(
        update(ScimToken)
        .where(
            ScimToken.id == token.id,
            (ScimToken.last_used_at.is_(None)) | (ScimToken.last_used_at <= now - LAST_USED_EVERY),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(token, "last_used_at", now)
    return True


def tokens_page(page: int, per_page: int) -> Pagination:
    """Every token, live ones first, newest first."""
    stmt = select(ScimToken).order_by(
        ScimToken.revoked_at.is_not(None), ScimToken.created_at.desc(), ScimToken.id.desc()
    )
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)
