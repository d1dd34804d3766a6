"""Form helpers shared by every domain's forms."""

from __future__ import annotations

from collections.abc import Iterable

from wtforms import SelectChoice


def options(pairs: Iterable[tuple[object, str]]) -> list[SelectChoice]:
    """WTForms 3.3 wants SelectChoice objects rather than (value, label) tuples."""
    return [SelectChoice(value, label) for value, label in pairs]


def strip(value):
    return value.strip() if isinstance(value, str) else value


def int_or_none(value):
    return int(value) if value not in (None, "", "None") else None
