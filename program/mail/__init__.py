"""Mail, the base layer: the outbox table, building messages, sending over SMTP after the outermost commit."""
