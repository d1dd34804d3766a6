"""Models (being built)."""
