"""The outbox: every message Tandem sends, written in the same transaction as the change that caused it,
and its delivery log (queued → sending → sent, or retrying → … → failed; "logged" when no MAIL_SERVER is
configured). The Message-ID is fixed when the message is written, so a retry after an ambiguous SMTP
failure carries the same one and the receiver can recognise it."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from program.extensions import db
from program.timeutil import UTCDateTime, utcnow


class MailStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    RETRYING = "retrying"
    FAILED = "failed"
    LOGGED = "logged"

    @property
    def label(self) -> str:
        return {
            "queued": "Queued",
            "sending": "Sending",
            "sent": "Sent",
            "retrying": "Retrying",
            "failed": "Failed",
            "logged": "Logged (no mail server)",
        }[self.value]


PENDING = (MailStatus.QUEUED.value, MailStatus.RETRYING.value)


class OutboxMessage(db.Model):
    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    to: Mapped[str] = mapped_column(String(254), index=True)
    cc: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    subject: Mapped[str] = mapped_column(Text)
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text, default="")
    ics_method: Mapped[str] = mapped_column(String(20), default="")
    ics_body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    message_id: Mapped[str] = mapped_column(String(255), default="", server_default="")
    status: Mapped[str] = mapped_column(String(12), default=MailStatus.QUEUED.value, server_default="logged")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    # queued/retrying: not before this; sending: the lease of the delivery under way ends then
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str] = mapped_column(Text, default="", server_default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def status_enum(self) -> MailStatus:
        return MailStatus(self.status)
