"""Reviews: see the issue."""
