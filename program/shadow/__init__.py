"""Shadow: see the issue."""
