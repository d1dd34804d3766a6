"""Goals: see the issue."""
