"""Compose and send email.

``queue_email`` renders ``templates/notify/<name>.txt`` and ``.html`` and hands the message to the
current database transaction: it goes out over SMTP only when that transaction commits, so a rolled
back change never sends mail. With no MAIL_SERVER configured, the message is written to the log and
to the outbox table (in the same transaction) for the admin outbox page.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app, render_template
from sqlalchemy import event
from sqlalchemy.orm import Session

from program.extensions import db
from program.notify.models import OutboxMessage

log = logging.getLogger("tandem.mail")
_PENDING_KEY = "tandem_pending_mail"


@dataclass
class Attachment:
    filename: str
    content: bytes
    maintype: str
    subtype: str
    params: dict[str, str]


@dataclass
class OutgoingEmail:
    to: str
    subject: str
    text: str
    html: str
    ics: bytes | None = None
    ics_method: str = ""
    cc: tuple[str, ...] = ()


def build_message(mail: OutgoingEmail, sender: str) -> EmailMessage:
    """A multipart/alternative message: plain text, HTML, and the calendar part if any.

    The text/calendar part carries its ``method`` parameter, as Outlook and Gmail require; the same
    invite is attached as ``invite.ics`` for clients that only look at attachments.
    """
    msg = EmailMessage()
    msg["Subject"] = " ".join(mail.subject.split())  # no line breaks in a header, whatever a title holds
    msg["From"] = sender
    msg["To"] = mail.to
    if mail.cc:
        msg["Cc"] = ", ".join(mail.cc)
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].strip(">") or "tandem.local")
    msg.set_content(mail.text)
    msg.add_alternative(mail.html, subtype="html")
    if mail.ics:
        msg.add_alternative(
            mail.ics.decode("utf-8"), subtype="calendar", params={"method": mail.ics_method or "PUBLISH"}
        )
        msg.add_attachment(
            mail.ics, maintype="application", subtype="ics", filename="invite.ics"
        )
    return msg


def _smtp_send(messages: list[OutgoingEmail]) -> None:
    cfg = current_app.config
    cls = smtplib.SMTP_SSL if cfg["MAIL_USE_SSL"] else smtplib.SMTP
    try:
        with cls(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=20) as smtp:
            if cfg["MAIL_USE_TLS"]:
                smtp.starttls()
            if cfg["MAIL_USERNAME"]:
                smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"])
            for mail in messages:
                try:
                    smtp.send_message(build_message(mail, cfg["MAIL_FROM"]))
                except (ValueError, smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError):
                    log.exception("mail to %s could not be sent", mail.to)  # one bad message spoils no other
                    continue
                log.info("mail sent to %s: %s", mail.to, mail.subject)
    except (OSError, smtplib.SMTPException):
        log.exception("sending %d mail(s) failed", len(messages))


def queue_email(
    to: str,
    template: str,
    subject: str,
    ics: bytes | None = None,
    ics_method: str = "",
    cc: list[str] | tuple[str, ...] = (),
    **context,
) -> OutgoingEmail | None:
    """Render and queue one email for sending when the current transaction commits."""
    if db.session.info.get("suppress_mail"):
        return None
    context.setdefault("org_name", current_app.config["ORG_NAME"])
    context.setdefault("base_url", current_app.config["BASE_URL"])
    mail = OutgoingEmail(
        to=to,
        subject=subject,
        text=render_template(f"notify/{template}.txt", **context),
        html=render_template(f"notify/{template}.html", subject=subject, **context),
        ics=ics,
        ics_method=ics_method,
        cc=tuple(cc),
    )
    if current_app.config["MAIL_SERVER"]:
        db.session.info.setdefault(_PENDING_KEY, []).append(mail)
    else:
        log.info("mail (not sent, no MAIL_SERVER) to %s: %s\n%s", to, subject, mail.text)
        db.session.add(
            OutboxMessage(
                to=to,
                cc=", ".join(cc),
                subject=subject,
                text_body=mail.text,
                html_body=mail.html,
                ics_method=ics_method if ics else "",
                ics_body=ics.decode("utf-8") if ics else "",
            )
        )
    return mail


_COMMITTED_KEY = "tandem_mail_commit_seen"


# SQLAlchemy fires after_commit/after_rollback for savepoints (begin_nested) as well as for the real
# transaction, so mail is sent or dropped only when the outermost transaction ends: after_commit marks
# "a commit happened", and the end of the root transaction acts on it (a savepoint's end clears it).
@event.listens_for(Session, "after_commit")
def _mark_commit(session: Session) -> None:
    session.info[_COMMITTED_KEY] = True


@event.listens_for(Session, "after_transaction_end")
def _send_or_drop(session: Session, transaction) -> None:
    committed = session.info.pop(_COMMITTED_KEY, False)
    if transaction.parent is not None:
        return  # a savepoint: the mail waits for the outermost transaction
    pending = session.info.pop(_PENDING_KEY, None)
    if committed and pending:
        _smtp_send(pending)
