"""A personal calendar feed: a secret URL per user; rotating the token kills the old URL.

Only a SHA-256 digest of the token is stored: the address is shown once, when it is made, and a copy of
the database (a backup, a read replica) can't be used to read anyone's schedule."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from program.accounts.models import User
from program.extensions import db
from program.timeutil import UTCDateTime, utcnow


def new_feed_token() -> str:
    """A fresh secret for a feed address: 24 random bytes (192 bits), 32 URL-safe characters."""
    return secrets.token_urlsafe(24)


def hash_feed_token(token: str) -> str:
    """What is stored and compared: the SHA-256 hex digest of the token in the address."""
    return hashlib.sha256(token.encode()).hexdigest()


class CalendarFeed(db.Model):
    __tablename__ = "calendar_feed"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    rotated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship()
