"""Command-line tasks: ``flask seed-demo`` (and, as domains land, reminders and digests)."""

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


    @app.cli.command("send-reminders")
    def send_reminders_command() -> None:
        """Send due reminders and pass on expired offers. Idempotent: safe from cron every few minutes."""
        from program.notify.reminders import run_all
        from program.timeutil import utcnow

        results = run_all(utcnow())
        db.session.commit()
        for name, count in results:
            click.echo(f"{name}: {count}")


    from program.notify.digest import register_digest_cli
    from program.reports.jobs import register_export_cli

    register_digest_cli(app)  # flask send-digests
    register_export_cli(app)  # flask run-export-jobs


DEMO_LOGINS = [
    "admin@example.com",
    "hr@example.com",
    "sales.lead@example.com",
    "marketing.lead@example.com",
    "rep@example.com",
    "marketer@example.com",
]
