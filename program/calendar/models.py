"""A personal calendar feed: a secret URL per user; rotating the token kills the old URL."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from program.accounts.models import User
from program.extensions import db
from program.timeutil import UTCDateTime, utcnow


def new_feed_token() -> str:
    return secrets.token_urlsafe(24)


class CalendarFeed(db.Model):
    __tablename__ = "calendar_feed"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), unique=True)
    token: Mapped[str] = mapped_column(String(64), unique=True, default=new_feed_token)
    rotated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship()
