"""Demo data (being built)."""

from __future__ import annotations

from datetime import datetime


def seed_reviews(now: datetime) -> str:
    return ""
