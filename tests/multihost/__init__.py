"""Issue 12's multi-host proof: two app hosts, two job workers, one PostgreSQL database, an SMTP sink (rig.py)."""
