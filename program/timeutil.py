"""Time at the edges: UTC inside, the viewer's zone on the page.

Services take ``now`` explicitly; routes and commands get it from ``utcnow()``, which tests pin with
``FIXED_NOW`` and which ``TANDEM_NOW`` (development and tests only) moves to another instant.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from flask import current_app, has_app_context
from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

UTC = UTC


def utcnow() -> datetime:
    """The current instant, aware, in UTC (or the app's fixed clock in tests, or its moved clock)."""
    if has_app_context():
        fixed = current_app.config.get("FIXED_NOW")
        if fixed is not None:
            return fixed.astimezone(UTC)
        offset = current_app.config.get("CLOCK_OFFSET")
        if offset is not None:
            return datetime.now(UTC) + offset
    return datetime.now(UTC)


@lru_cache(maxsize=1)
def all_timezones() -> tuple[str, ...]:
    return tuple(sorted(z for z in available_timezones() if "/" in z or z == "UTC"))


def is_valid_timezone(name: str) -> bool:
    return name in set(all_timezones())


def to_zone(value: datetime, tz_name: str) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(ZoneInfo(tz_name))


class UTCDateTime(TypeDecorator):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
