"""``flask scim-token create NAME | list | revoke PREFIX``: SCIM tokens from the command line."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from program.errors import DomainError
from program.extensions import db
from program.scim import tokens
from program.scim.models import ScimToken
from program.timeutil import utcnow

scim_token = AppGroup("scim-token", help="SCIM client tokens (for an identity provider's provisioning).")


@scim_token.command("create")
@click.argument("name")
def create(name: str) -> None:
    """Make a token for the client NAME and print it. It is shown this once: Tandem keeps only its hash."""
    try:
        _token, raw = tokens.create_token(None, name, utcnow())
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(raw)
    click.echo(f"SCIM token for {name.strip()} created. Copy it now: it can't be shown again.", err=True)


@scim_token.command("list")
def list_tokens() -> None:
    """Every token: prefix, name, created, last used, revoked."""
    for token in db.session.scalars(select(ScimToken).order_by(ScimToken.created_at, ScimToken.id)):
        state = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "live"
        used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
        click.echo(f"{token.prefix}…  {token.name}  created {token.created_at:%Y-%m-%d %H:%M}  used {used}  {state}")


@scim_token.command("revoke")
@click.argument("prefix")
def revoke(prefix: str) -> None:
    """Revoke the live token whose prefix (as `list` shows it) is PREFIX."""
    found = db.session.scalars(
        select(ScimToken).where(ScimToken.prefix == prefix.rstrip("…"), ScimToken.revoked_at.is_(None))
    ).all()
    if len(found) != 1:
        raise click.ClickException("No live token has that prefix." if not found else "Several tokens share it.")
    tokens.revoke_token(None, found[0], utcnow())
    db.session.commit()
    click.echo(f"Revoked the token for {found[0].name}.")
