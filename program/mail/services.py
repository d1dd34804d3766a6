"""Compose email and write it to the outbox.

``queue_email`` renders ``templates/<domain>/mail/<name>.txt`` and ``.html`` (the template is named
``"<domain>/<name>"``; shared pieces live in ``templates/mail/``) and writes the message to the outbox
in the current transaction, with its delivery job deferred until that transaction commits: a rolled
back change leaves no message and no job. Delivery (delivery.py) runs on the job engine, never in the
request, and is retried with backoff.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import make_msgid

from flask import current_app, render_template

from program.extensions import db
from program.jobs import defer_after_commit
from program.mail.models import MailStatus, OutboxMessage
from program.timeutil import utcnow

log = logging.getLogger("tandem.mail")
DELIVER_TASK = "mail.deliver"


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


def new_message_id(sender: str) -> str:
    return make_msgid(domain=sender.rsplit("@", 1)[-1].strip(">") or "tandem.local")


def build_message(mail: OutgoingEmail, sender: str, message_id: str = "") -> EmailMessage:
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
    msg["Message-ID"] = message_id or new_message_id(sender)
    msg.set_content(mail.text)
    msg.add_alternative(mail.html, subtype="html")
    if mail.ics:
        msg.add_alternative(
            mail.ics.decode("utf-8"), subtype="calendar", params={"method": mail.ics_method or "PUBLISH"}
        )
        msg.add_attachment(mail.ics, maintype="application", subtype="ics", filename="invite.ics")
    return msg


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
) -> OutboxMessage | None:
    """Render one email and write it to the outbox; its delivery is queued when the transaction commits."""
    if db.session.info.get("suppress_mail"):
        return None
    context.setdefault("org_name", current_app.config["ORG_NAME"])
    context.setdefault("base_url", current_app.config["BASE_URL"])
    subject = " ".join(subject.split())  # no line breaks in a header, whatever a title holds
    return write_to_outbox(
        utcnow(),
        to=to,
        cc=", ".join(cc),
        subject=subject,
        text_body=render_template(mail_template(template, "txt"), **context),
        html_body=render_template(mail_template(template, "html"), subject=subject, **context),
        ics_method=(ics_method or "PUBLISH") if ics else "",
        ics_body=ics.decode("utf-8") if ics else "",
    )


def write_to_outbox(now: datetime, **content: str) -> OutboxMessage:
    """A new outbox row (queued, with its own Message-ID) and its delivery, deferred until the commit."""
    message = OutboxMessage(
        **content,
        message_id=new_message_id(current_app.config["MAIL_FROM"]),
        status=MailStatus.QUEUED.value,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    db.session.add(message)
    db.session.flush()
    defer_after_commit(DELIVER_TASK, message_id=message.id)
    return message


def outgoing(message: OutboxMessage) -> OutgoingEmail:
    """The outbox row as a message to build."""
    return OutgoingEmail(
        to=message.to,
        subject=message.subject,
        text=message.text_body,
        html=message.html_body,
        ics=message.ics_body.encode("utf-8") if message.ics_body else None,
        ics_method=message.ics_method,
        cc=tuple(a.strip() for a in message.cc.split(",") if a.strip()),
    )
