"""Mail goes through the outbox, always: written with the change, delivered by a job, retried with backoff,
failed and visible when it never goes through, resent by an admin; never sent inside a request."""

from __future__ import annotations

import smtplib
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from program.activities import services as core
from program.extensions import db
from program.jobs import run_all
from program.mail import delivery
from program.mail.models import OutboxMessage
from program.mail.services import queue_email
from tests.conftest import free_port


def _rows(to: str) -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.to == to).order_by(OutboxMessage.id)))


@pytest.fixture
def smtp_down(app):
    """The mail server is configured but nothing answers on its port."""
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_TIMEOUT_SECONDS=2)
    yield
    app.config.update(MAIL_SERVER="")


def _bring_up(app, sink) -> None:
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=sink.port)


def test_a_booking_made_while_the_mail_server_is_down_is_mailed_when_it_is_back(
    app, make, login, now, smtp_down, smtp_sink
):
    ride = make.ride_along()
    rider = make.marketer(email="rider@example.com")
    assert login(rider).post(f"/activities/{ride.id}/book").status_code == 302
    rows = _rows("rider@example.com")
    assert rows, "the booking's confirmation was lost: no outbox row"
    assert all(r.status == "retrying" and r.attempts == 1 and r.last_error for r in rows)
    assert all(r.next_attempt_at == now + timedelta(seconds=30) for r in rows)

    smtp_sink.clear()
    _bring_up(app, smtp_sink)
    app.config["FIXED_NOW"] = now + timedelta(minutes=2)  # past the retry time and the sweep's grace
    run_all(app.config["FIXED_NOW"])  # the sweep queues them again; the inline runner delivers
    received = smtp_sink.to("rider@example.com")
    assert len(received) == len(rows)
    assert sorted(m["Message-ID"] for m in received) == sorted(r.message_id for r in rows)
    assert {r.status for r in _rows("rider@example.com")} == {"sent"}


def test_a_reminder_that_could_not_be_sent_is_sent_later(app, make, now, smtp_down, smtp_sink):
    ride = make.ride_along(starts_in=timedelta(hours=20))
    core.book_seat(ride.id, make.marketer(email="remind@example.com"), now - timedelta(days=1))
    db.session.commit()
    before = {r.id for r in _rows("remind@example.com")}
    assert dict(run_all(now))["activity reminders (24 hours before)"] == 1
    reminder = [r for r in _rows("remind@example.com") if r.id not in before]
    assert [r.subject.split(":")[0] for r in reminder] == ["Tomorrow"], "the failed reminder was lost"
    assert reminder[0].status == "retrying"

    smtp_sink.clear()
    _bring_up(app, smtp_sink)
    later = now + timedelta(minutes=5)
    app.config["FIXED_NOW"] = later
    assert dict(run_all(later))["activity reminders (24 hours before)"] == 0  # claimed once, never again
    assert [m["Subject"].split(":")[0] for m in smtp_sink.to("remind@example.com")].count("Tomorrow") == 1


def test_no_mail_server_is_contacted_from_the_request(app, make, login, mail, monkeypatch):
    """The request writes the outbox; the delivery runs elsewhere (a job), never in the request's thread."""
    threads: list[threading.Thread] = []
    original = smtplib.SMTP.__init__

    def recording_init(self, *args, **kwargs):
        threads.append(threading.current_thread())
        original(self, *args, **kwargs)

    monkeypatch.setattr(smtplib.SMTP, "__init__", recording_init)
    ride = make.ride_along()
    rider = make.marketer(email="booker@example.com")
    assert login(rider).post(f"/activities/{ride.id}/book").status_code == 302
    assert mail.wait_for("booker@example.com", 1)
    assert threads and threading.current_thread() not in threads


def test_a_request_that_mails_many_people_only_queues(app, make, login, now, held_jobs, mail):
    from tests.factories.reviews import schedule

    team = make.team("Field Marketing", "Marketing")
    members = [make.marketer(team=team) for _ in range(30)]
    host = make.user(role="leader", department="Marketing")
    meeting = schedule(host, people=[])
    db.session.commit()
    held_jobs.items.clear()
    response = login(host).post(f"/meetings/{meeting.id}/invite", data={"teams": [str(team.id)]})
    assert response.status_code == 302
    assert len(held_jobs.tasks("mail.deliver")) == len(members)  # one delivery job per invitation, queued
    assert mail.messages == []  # and nothing sent while the request ran
    queued = db.session.scalars(select(OutboxMessage).where(OutboxMessage.status == "queued")).all()
    assert sorted(m.to for m in queued) == sorted(m.email for m in members)


def test_a_rolled_back_change_leaves_no_mail(app, held_jobs):
    queue_email("nobody@example.com", "accounts/password_reset", "Reset", user=None, link="http://x", hours=2)
    db.session.flush()
    db.session.rollback()
    assert _rows("nobody@example.com") == []
    assert held_jobs.items == []


def test_retries_back_off_then_fail_and_an_admin_can_send_again(app, make, login, now, smtp_down, smtp_sink):
    app.config.update(MAIL_MAX_ATTEMPTS=3, MAIL_RETRY_SECONDS=10)
    message = queue_email("late@example.com", "accounts/password_reset", "Reset", user=None, link="http://x", hours=2)
    db.session.commit()
    row = _rows("late@example.com")[0]
    assert (row.status, row.attempts, row.next_attempt_at) == ("retrying", 1, now + timedelta(seconds=10))
    waits = []
    at = now
    for _ in range(2):
        at = row.next_attempt_at
        app.config["FIXED_NOW"] = at
        delivery.deliver(message.id)
        row = _rows("late@example.com")[0]
        waits.append(row.next_attempt_at - at if row.next_attempt_at else None)
    assert waits == [timedelta(seconds=30), None]  # 10 s, 30 s, then given up
    assert (row.status, row.attempts) == ("failed", 3)
    assert "ConnectionRefused" in row.last_error or "Errno" in row.last_error

    admin = login(make.user(role="admin"))
    page = admin.get("/admin/outbox?status=failed").get_data(as_text=True)
    assert "late@example.com" in page and "Failed" in page
    detail = admin.get(f"/admin/outbox/{row.id}").get_data(as_text=True)
    assert row.message_id.strip("<>") in detail and "Send again" in detail

    smtp_sink.clear()
    _bring_up(app, smtp_sink)
    assert admin.post(f"/admin/outbox/{row.id}/resend").status_code == 302
    got = smtp_sink.wait_for("late@example.com", 1)
    assert got[0]["Message-ID"] == row.message_id  # the same message, the same Message-ID
    row = _rows("late@example.com")[0]
    assert (row.status, row.attempts) == ("sent", 1)


def test_the_outbox_is_for_admins_only(make, login):
    msg = queue_email("x@example.com", "accounts/password_reset", "Reset", user=None, link="http://x", hours=2)
    db.session.commit()
    for role in ("hr", "staff"):
        client = login(make.user(role=role))
        assert client.get("/admin/outbox").status_code in (403, 404)
        assert client.post(f"/admin/outbox/{msg.id}/resend").status_code in (403, 404)


class _FlakySink:
    """An SMTP server that takes the message and then answers 451 the first time (an ambiguous failure: the
    receiver has it, the sender thinks it failed), 250 afterwards; or 550 always."""

    def __init__(self, mode: str) -> None:
        from email import message_from_bytes, policy

        from aiosmtpd.controller import Controller

        self.received: list = []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                outer.received.append(message_from_bytes(envelope.content, policy=policy.default))
                if mode == "reject":
                    return "550 mailbox unavailable"
                return "451 try again later" if len(outer.received) == 1 else "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()


def test_a_retry_after_an_ambiguous_failure_carries_the_same_message_id(app, now):
    sink = _FlakySink("flaky")
    try:
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=sink.port)
        message = queue_email(
            "ann@example.com", "accounts/password_reset", "Reset", user=None, link="http://x", hours=2
        )
        db.session.commit()
        assert _rows("ann@example.com")[0].status == "retrying"
        app.config["FIXED_NOW"] = now + timedelta(minutes=1)
        delivery.deliver(message.id)
        assert _rows("ann@example.com")[0].status == "sent"
        assert len(sink.received) == 2
        assert sink.received[0]["Message-ID"] == sink.received[1]["Message-ID"] == message.message_id
    finally:
        sink.controller.stop()
        app.config.update(MAIL_SERVER="")


def test_a_message_refused_for_good_is_not_retried(app, held_jobs):
    sink = _FlakySink("reject")
    try:
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=sink.port)
        message = queue_email(
            "gone@example.com", "accounts/password_reset", "Reset", user=None, link="http://x", hours=2
        )
        db.session.commit()
        delivery.deliver(message.id)
        row = _rows("gone@example.com")[0]
        assert (row.status, row.attempts) == ("failed", 1) and "550" in row.last_error
        assert held_jobs.tasks("mail.deliver") == [{"message_id": message.id}]  # the first try only; no retry
    finally:
        sink.controller.stop()
        app.config.update(MAIL_SERVER="")


def test_the_sweep_queues_again_what_was_committed_but_not_delivered(app, now, held_jobs):
    fresh = queue_email("a@example.com", "accounts/password_reset", "Reset", user=None, link="http://x", hours=2)
    old = queue_email("b@example.com", "accounts/password_reset", "Reset", user=None, link="http://x", hours=2)
    stuck = queue_email("c@example.com", "accounts/password_reset", "Reset", user=None, link="http://x", hours=2)
    old.created_at = now - timedelta(minutes=5)
    stuck.status, stuck.next_attempt_at = "sending", now - timedelta(seconds=1)  # its worker died mid-send
    db.session.commit()
    held_jobs.items.clear()
    assert delivery.sweep(now) == 2
    assert sorted(k["message_id"] for k in held_jobs.tasks("mail.deliver")) == sorted([old.id, stuck.id])
    assert all(item.lock == f"mail:{item.kwargs['message_id']}" for item in held_jobs.items)
    assert fresh.id not in [k["message_id"] for k in held_jobs.tasks("mail.deliver")]
    assert _rows("c@example.com")[0].status == "retrying"


def test_without_a_mail_server_mail_is_logged_in_the_outbox(app, make, login):
    queue_email("log@example.com", "accounts/password_reset", "Reset", user=None, link="http://x", hours=2)
    db.session.commit()
    row = _rows("log@example.com")[0]
    assert (row.status, row.attempts) == ("logged", 1)
    page = login(make.user(role="admin")).get("/admin/outbox").get_data(as_text=True)
    assert "Logged (no mail server)" in page and "No SMTP server is configured" in page


def test_healthz_reports_the_mail_queue(app, client, now, smtp_down):
    queue_email("h@example.com", "accounts/password_reset", "Reset", user=None, link="http://x", hours=2)
    db.session.commit()
    app.config.update(MAIL_MAX_ATTEMPTS=1)
    queue_email("i@example.com", "accounts/password_reset", "Reset", user=None, link="http://x", hours=2)
    db.session.commit()
    app.config["FIXED_NOW"] = now + timedelta(minutes=3)
    body = client.get("/healthz").get_json()
    assert body["mail_failed"] == 1
    assert body["mail_oldest_queued_seconds"] == 180
