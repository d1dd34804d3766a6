"""The accounts' mail: the password-reset link, looked up and mailed off the request path for every accepted request.

Why: answering "forgot password" must take the same time whether the address has an account or not.
Mail goes out over SMTP when the transaction that queued it commits — inside the request, it would make
the answer for a real account seconds slower than for an unknown one. So the request only records the
(throttled) request, the same work for any address, and hands the address to a short-lived daemon
thread; finding the account, making the token, rendering and sending all happen there, for known and
unknown addresses alike. If the process dies before the thread ends, that one mail is lost and the
person asks again; nothing else depends on it.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from flask import Flask, current_app

from program.accounts.signin import request_password_reset
from program.extensions import db
from program.mail.services import queue_email
from program.web import absolute_url

log = logging.getLogger("tandem.accounts")
THREAD_NAME = "tandem-reset-mail"


def send_reset_link_later(email: str, now: datetime) -> threading.Thread:
    """Start the thread that mails a reset link to ``email`` if it belongs to an active account."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    thread = threading.Thread(target=_send_reset_link, args=(app, email, now), name=THREAD_NAME, daemon=True)
    thread.start()
    return thread


def _send_reset_link(app: Flask, email: str, now: datetime) -> None:
    with app.app_context():
        try:
            found = request_password_reset(email, now)
            if found is not None:
                user, raw = found
                queue_email(
                    user.email,
                    "accounts/password_reset",
                    "Reset your Tandem password",
                    user=user,
                    link=absolute_url("accounts.reset_password", token=raw),
                    hours=app.config["PASSWORD_RESET_HOURS"],
                )
            db.session.commit()  # the mail goes out when this commits
        except Exception:  # noqa: BLE001 — a background thread has no one else to tell
            db.session.rollback()
            log.exception("the reset link for a forgot-password request could not be sent")
        finally:
            db.session.remove()
