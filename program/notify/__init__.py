"""Email: composition from templates (HTML + plain text), sending over SMTP after commit, dev outbox."""
