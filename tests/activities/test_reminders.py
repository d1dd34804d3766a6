"""`flask send-reminders`: a reminder 24 hours ahead, once; expired offers passed on; idempotent."""

from __future__ import annotations

from datetime import timedelta

from program.activities import services as core
from program.activities.models import State
from program.extensions import db
from program.jobs import run_all
from program.mail.models import OutboxMessage


def test_reminder_sent_once_24_hours_before(make, now, mail):
    soon = make.ride_along(starts_in=timedelta(hours=20))
    later = make.ride_along(starts_in=timedelta(days=3))
    rider = make.marketer(email="remind@example.com")
    core.book_seat(soon.id, rider, now - timedelta(days=1))
    core.book_seat(later.id, rider, now - timedelta(days=1))
    db.session.commit()
    mail.clear()
    results = dict(run_all(now))
    db.session.commit()
    assert results["activity reminders (24 hours before)"] == 1
    assert dict(run_all(now + timedelta(minutes=5)))["activity reminders (24 hours before)"] == 0
    db.session.commit()
    msgs = mail.wait_for("remind@example.com", 1)
    assert len(mail.to("remind@example.com")) == 1
    assert msgs[0]["Subject"].startswith("Tomorrow:")


def test_cli_is_idempotent(app, make, now):
    ride = make.ride_along(starts_in=timedelta(hours=10), cutoff_hours=2)
    core.book_seat(ride.id, make.marketer(email="cli@example.com"), now)
    db.session.commit()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["send-reminders"])
    second = runner.invoke(args=["send-reminders"])
    assert first.exit_code == second.exit_code == 0
    assert "activity reminders (24 hours before): 1" in first.output
    assert "activity reminders (24 hours before): 0" in second.output
    reminders = db.session.scalars(
        db.select(OutboxMessage).where(OutboxMessage.to == "cli@example.com", OutboxMessage.subject.like("Today:%"))
    ).all()  # the call is at 20:00 the same (London) day
    assert len(reminders) == 1


def test_cron_passes_on_expired_offers(make, now):
    ride = make.ride_along(seats=1, starts_in=timedelta(days=4))
    a, b, c = make.marketer(), make.marketer(), make.marketer()
    pa = core.book_seat(ride.id, a, now)
    pb, pc = core.book_seat(ride.id, b, now), core.book_seat(ride.id, c, now)
    core.cancel_booking(pa, a, now)
    db.session.commit()
    assert dict(run_all(now + timedelta(hours=30)))["expired offers passed on"] == 1
    db.session.commit()
    db.session.refresh(pb)
    db.session.refresh(pc)
    assert (pb.state, pc.state) == (State.DECLINED.value, State.OFFERED.value)
