"""Ride-alongs: marketing staff sit in on real sales calls. Thin: the seat rules live in activities."""
