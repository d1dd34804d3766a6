"""``flask seed-demo``. (Each domain registers its own commands in its ``init_app``; ``send-reminders`` is
the base job engine's.)"""

from __future__ import annotations

import click
from flask import Flask

from program.extensions import db


def register(app: Flask) -> None:
    @app.cli.command("seed-demo")
    @click.option("--if-empty", is_flag=True, help="Only seed when the database has no people yet.")
    def seed_demo_command(if_empty: bool) -> None:
        """Create (or top up) the demo company. Safe to run more than once."""
        from program.accounts.models import User
        from program.seed import seed_demo

        if if_empty and db.session.scalar(db.select(db.func.count(User.id))):
            click.echo("Database already has people; demo seed skipped.")
            return
        summary = seed_demo()
        db.session.commit()
        click.echo(f"Demo data ready: {summary}.")
        click.echo("Demo logins (password: demo-password):")
        for email in DEMO_LOGINS:
            click.echo(f"  {email}")


DEMO_LOGINS = [
    "admin@example.com",
    "hr@example.com",
    "sales.lead@example.com",
    "marketing.lead@example.com",
    "rep@example.com",
    "marketer@example.com",
]
