"""Compose and send email.

``queue_email`` renders ``templates/<domain>/mail/<name>.txt`` and ``.html`` (the template is named
``"<domain>/<name>"``; shared pieces live in ``templates/mail/``) and hands the message to the
current database transaction: it goes out over SMTP only when that transaction commits, so a rolled
back change never sends mail. With no MAIL_SERVER configured, the message is written to the log and
to the outbox table (in the same transaction) for the admin outbox page.
"""

from __future__ import annotations

import base64
import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import make_msgid

from flask import current_app, render_template
from sqlalchemy import event
from sqlalchemy.orm import Session

from program.extensions import db
from program.mail.models import OutboxMessage

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


_MAX_LINE = 78  # RFC 5322 2.1.1: lines SHOULD be at most 78 characters
# base64 of 42 bytes is 56 characters: "=?utf-8?b?" + 56 + "?=" is 68, which fits after "Subject: " (RFC 2047: <= 75)
_WORD_BYTES = 42


def _is_plain(word: str) -> bool:
    """A word that can go into a header as it is: printable ASCII that no reader would take for an encoded word."""
    fits = len(word) <= _MAX_LINE - len("Subject: ")  # a longer word goes as encoded words, which can be cut
    return fits and word.isascii() and word.isprintable() and "=?" not in word


def _encoded_words(text: str) -> list[str]:
    """``text`` as RFC 2047 encoded words, each cut at a character boundary (a character is never split)."""
    words, chunk = [], ""
    for char in text:
        if len((chunk + char).encode("utf-8")) > _WORD_BYTES:
            words.append(chunk)
            chunk = ""
        chunk += char
    words.append(chunk)
    return ["=?utf-8?b?" + base64.b64encode(w.encode("utf-8")).decode("ascii") + "?=" for w in words if w]


def fold_subject(subject: str, linesep: str = "\r\n") -> str:
    """The Subject header line(s), folded only between words and never right after "Subject:".

    Plain words go as they are; a run of other words (accents, long words) becomes encoded words, with the
    spaces inside the run encoded too, because a reader drops the whitespace between two encoded words.
    Unfolding (removing each line break before a space) gives back the subject with single spaces.
    """
    atoms: list[str] = []
    run: list[str] = []
    for word in subject.split():
        if _is_plain(word):
            if run:
                atoms += _encoded_words(" ".join(run))
                run = []
            atoms.append(word)
        else:
            run.append(word)
    if run:
        atoms += _encoded_words(" ".join(run))
    lines, line = [], "Subject:"
    for n, atom in enumerate(atoms):
        if n and len(line) + 1 + len(atom) > _MAX_LINE:
            lines.append(line)
            line = ""
        line += " " + atom
    lines.append(line)
    return linesep.join(lines) + linesep


class MailPolicy(EmailPolicy):
    """The SMTP policy (CRLF line ends), but Subject is folded by ``fold_subject``: the standard folder puts a
    long first word on a line of its own right after "Subject:" (read back with a leading space), and drops
    or doubles the spaces between words next to encoded ones."""

    def header_store_parse(self, name: str, value):
        if name.lower() == "subject" and isinstance(value, str):
            super().header_store_parse(name, value)  # its checks (no line breaks)
            return (name, value)  # kept as typed: the standard parser would decode "=?...?=" in a title
        return super().header_store_parse(name, value)

    def fold(self, name: str, value) -> str:
        if name.lower() == "subject":
            return fold_subject(str(value), self.linesep)
        return super().fold(name, value)

    def fold_binary(self, name: str, value) -> bytes:
        if name.lower() == "subject":
            return fold_subject(str(value), self.linesep).encode("ascii")
        return super().fold_binary(name, value)


MAIL_POLICY = MailPolicy(linesep="\r\n")


def build_message(mail: OutgoingEmail, sender: str) -> EmailMessage:
    """A multipart/alternative message: plain text, HTML, and the calendar part if any.

    The text/calendar part carries its ``method`` parameter, as Outlook and Gmail require; the same
    invite is attached as ``invite.ics`` for clients that only look at attachments.
    """
    msg = EmailMessage(policy=MAIL_POLICY)
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
        msg.add_attachment(mail.ics, maintype="application", subtype="ics", filename="invite.ics")
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


def mail_template(name: str, ext: str) -> str:
    """``"activities/booked"`` → ``activities/mail/booked.<ext>``: each domain keeps its mail templates."""
    domain, _, base = name.rpartition("/")
    return f"{domain}/mail/{base}.{ext}" if domain else f"mail/{base}.{ext}"


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
        text=render_template(mail_template(template, "txt"), **context),
        html=render_template(mail_template(template, "html"), subject=subject, **context),
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
