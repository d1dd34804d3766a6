"""Hypothesis settings for the property tests: no example database on disk (failures worth keeping are
written down as ``@example``), no per-example deadline (two shared cores make timings noisy)."""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("tandem", database=None, deadline=None, print_blob=True)
settings.load_profile("tandem")
