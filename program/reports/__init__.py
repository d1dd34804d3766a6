"""Reports: see the issue."""
