"""Delivering the outbox: the ``mail.deliver`` task, its retries, the sweep and "resend".

One message, one task. The task first claims the row with a conditional UPDATE (queued or retrying, due,
→ sending, with a lease), so two deliveries of the same message (a retry racing a sweep, two workers) never
both send it; then it talks SMTP; then it records the outcome:
- accepted → sent;
- refused for good (a 5xx reply, a bad address) → failed, with the reply, no retry;
- anything else (server down, timeout, 4xx) → retrying, due again after MAIL_RETRY_SECONDS · 3^(n-1),
  until MAIL_MAX_ATTEMPTS attempts → failed. The message keeps its Message-ID on every try.
A worker that dies mid-send leaves the row "sending" until its lease ends; the sweep then makes it due
again (a receiver may get it twice, with the same Message-ID).
"""

from __future__ import annotations

import smtplib
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, func, or_, select, update

from program.extensions import db
from program.jobs import defer, defer_after_commit, register_job, register_task
from program.mail.models import PENDING, MailStatus, OutboxMessage
from program.mail.services import DELIVER_TASK, build_message, log, outgoing, write_to_outbox
from program.timeutil import utcnow


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=int(current_app.config["MAIL_RETRY_SECONDS"]) * 3 ** max(attempts - 1, 0))


def _lease() -> timedelta:
    return timedelta(seconds=4 * int(current_app.config["MAIL_TIMEOUT_SECONDS"]) + 30)


def _claim(message_id: int, now: datetime) -> bool:
    result = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.status.in_(PENDING),
            or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
        )
        .values(status=MailStatus.SENDING.value, attempts=OutboxMessage.attempts + 1, next_attempt_at=now + _lease())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


class Refused(Exception):
    """The server refused the message for good (5xx); retrying would not help."""


def _send(message: OutboxMessage) -> None:
    cfg = current_app.config
    built = build_message(outgoing(message), cfg["MAIL_FROM"], message.message_id)
    cls = smtplib.SMTP_SSL if cfg["MAIL_USE_SSL"] else smtplib.SMTP
    with cls(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=cfg["MAIL_TIMEOUT_SECONDS"]) as smtp:
        if cfg["MAIL_USE_TLS"]:
            smtp.starttls()
        if cfg["MAIL_USERNAME"]:
            smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"])
        try:
            smtp.send_message(built)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if all(code >= 500 for code in codes):
                raise Refused(f"recipients refused: {exc.recipients}") from exc
            raise
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
            if exc.smtp_code >= 500:
                raise Refused(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
            raise


def deliver(message_id: int) -> None:
    """The ``mail.deliver`` task."""
    now = utcnow()
    if not _claim(message_id, now):
        return  # delivered, failed, not yet due, or another delivery holds it
    message = db.session.get(OutboxMessage, message_id)
    if not current_app.config["MAIL_SERVER"]:
        log.info("mail (not sent, no MAIL_SERVER) to %s: %s\n%s", message.to, message.subject, message.text_body)
        _finish(message_id, status=MailStatus.LOGGED.value, next_attempt_at=None)
        return
    try:
        _send(message)
    except (Refused, ValueError) as exc:
        log.error("mail %s to %s refused: %s", message_id, message.to, exc)
        _finish(message_id, status=MailStatus.FAILED.value, last_error=str(exc)[:2000], next_attempt_at=None)
        return
    except (OSError, smtplib.SMTPException) as exc:
        attempts = message.attempts
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if attempts >= int(current_app.config["MAIL_MAX_ATTEMPTS"]):
            log.error("mail %s to %s failed after %d attempts: %s", message_id, message.to, attempts, error)
            _finish(message_id, status=MailStatus.FAILED.value, last_error=error, next_attempt_at=None)
            return
        wait = _backoff(attempts)
        log.warning("mail %s to %s: attempt %d failed (%s); next in %s", message_id, message.to, attempts, error, wait)
        if _finish(message_id, status=MailStatus.RETRYING.value, last_error=error, next_attempt_at=utcnow() + wait):
            defer(DELIVER_TASK, delay=wait.total_seconds(), message_id=message_id)
        return
    log.info("mail sent to %s: %s", message.to, message.subject)
    _finish(message_id, status=MailStatus.SENT.value, sent_at=utcnow(), last_error="", next_attempt_at=None)


def _finish(message_id: int, **values) -> bool:
    """Record the outcome of the delivery this task holds (the row is still "sending"); commits."""
    result = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == MailStatus.SENDING.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def sweep(now: datetime) -> int:
    """Queue again every message committed but not delivered: due and pending for longer than the grace time
    (its job was lost: deferral failed, the process died, a retry fell through), or "sending" past its lease
    (its worker died). Returns how many were queued."""
    grace = now - timedelta(seconds=int(current_app.config["JOBS_SWEEP_GRACE_SECONDS"]))
    abandoned = db.session.scalars(
        select(OutboxMessage.id).where(
            OutboxMessage.status == MailStatus.SENDING.value, OutboxMessage.next_attempt_at < now
        )
    ).all()
    if abandoned:
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(abandoned), OutboxMessage.status == MailStatus.SENDING.value)
            .values(status=MailStatus.RETRYING.value, next_attempt_at=now, last_error="the delivery did not finish")
            .execution_options(synchronize_session=False)
        )
    ids = db.session.scalars(
        select(OutboxMessage.id)
        .where(
            or_(
                and_(OutboxMessage.status == MailStatus.QUEUED.value, OutboxMessage.created_at < grace),
                and_(OutboxMessage.status == MailStatus.RETRYING.value, OutboxMessage.next_attempt_at < grace),
            )
        )
        .order_by(OutboxMessage.id)
        .limit(1000)
    ).all()
    ids = sorted(set(ids) | set(abandoned))
    db.session.commit()
    for message_id in ids:
        defer(DELIVER_TASK, lock=f"mail:{message_id}", message_id=message_id)
    return len(ids)


def resend(message: OutboxMessage, now: datetime) -> None:
    """An admin's "send again": a failed (or logged) message is queued again with a fresh count of attempts and
    the same Message-ID; a sent one is copied as a new message (a new Message-ID: it is a new mail)."""
    if message.status in (MailStatus.FAILED.value, MailStatus.LOGGED.value):
        message.status = MailStatus.QUEUED.value
        message.attempts = 0
        message.next_attempt_at = now
        message.last_error = ""
        db.session.flush()
        defer_after_commit(DELIVER_TASK, message_id=message.id)
        return
    columns = ("to", "cc", "subject", "text_body", "html_body", "ics_method", "ics_body")
    write_to_outbox(now, **{name: getattr(message, name) for name in columns})


def queue_stats(now: datetime) -> dict[str, object]:
    """For /healthz: the age of the oldest message waiting to go out, and how many failed for good."""
    oldest = db.session.scalar(select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status.in_(PENDING)))
    failed = db.session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == MailStatus.FAILED.value)
    )
    return {
        "mail_oldest_queued_seconds": int((now - oldest).total_seconds()) if oldest else 0,
        "mail_failed": int(failed or 0),
    }


def init_app(app) -> None:  # noqa: ARG001 — registration only
    register_task(DELIVER_TASK, deliver, queue="mail", max_attempts=3, backoff=5)
    register_job("undelivered mail queued again", sweep, schedule="sweep")
