"""The accounts' mail: the password-reset link, looked up and mailed off the request path for every accepted request.

Why: answering "forgot password" must take the same time whether the address has an account or not. So the
request only records the (throttled) request and defers the ``accounts.reset_link`` task — the same work for
any address; finding the account, making the token and writing the mail to the outbox happen in the task,
for known and unknown addresses alike, and the outbox delivers it with retries.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from program.accounts.signin import request_password_reset
from program.jobs import defer_after_commit
from program.mail.services import queue_email
from program.web import absolute_url

RESET_TASK = "accounts.reset_link"


def send_reset_link_later(email: str, now: datetime) -> None:
    """Mail a reset link to ``email``, if it belongs to an active account, once the request's change commits."""
    defer_after_commit(RESET_TASK, email=email, now=now.isoformat())


def send_reset_link(email: str, now: str) -> None:
    """The ``accounts.reset_link`` task."""
    found = request_password_reset(email, datetime.fromisoformat(now))
    if found is not None:
        user, raw = found
        queue_email(
            user.email,
            "accounts/password_reset",
            "Reset your Tandem password",
            user=user,
            link=absolute_url("accounts.reset_password", token=raw),
            hours=current_app.config["PASSWORD_RESET_HOURS"],
        )
