"""The shared seat rules: booking, refusals, waitlist, offers, cancellation, attendance, history."""

from __future__ import annotations

from datetime import timedelta

import pytest

from program.activities import services as core
from program.activities.models import Participation, ParticipationEvent, State
from program.errors import InvalidTransition, NotAllowed
from program.extensions import db
from tests.conftest import body_text, calendar_part, parse_ics


def _participations():
    return db.session.scalars(db.select(Participation).order_by(Participation.id)).all()


def test_book_seat_records_history_and_sends_invite(make, now, mail):
    ride = make.ride_along(seats=2)
    rider = make.marketer(email="mo@example.com")
    p = core.book_seat(ride.id, rider, now)
    db.session.commit()
    assert p.state == State.BOOKED.value
    events = db.session.scalars(db.select(ParticipationEvent)).all()
    assert [(e.from_state, e.to_state, e.actor_id) for e in events] == [("invited", "booked", rider.id)]
    msg = mail.wait_for("mo@example.com")[0]
    assert msg["Subject"].startswith("Booked: Ride-along: Demo with Acme Ltd")
    part = calendar_part(msg)
    assert part.get_param("method") == "REQUEST"
    cal = parse_ics(part.get_content())
    assert cal.method.value == "REQUEST"
    ev = cal.vevent
    assert ev.uid.value == ride.ical_uid
    assert int(ev.sequence.value) == 0
    assert ev.status.value == "CONFIRMED"
    assert ev.dtstart.value == ride.starts_at  # the same instant
    assert ev.dtend.value == ride.ends_at
    assert "Listen first." in body_text(msg)
    assert msg.get_body(preferencelist=("html",)) is not None


@pytest.mark.parametrize(
    "case,message",
    [
        ("own", "You host this call"),
        ("started", "already started"),
        ("cutoff", "past its booking cutoff"),
        ("cancelled", "was cancelled"),
        ("overlap", "overlaps another booking"),
    ],
)
def test_refusals_change_nothing(make, now, case, message):
    host = make.user(department="Sales")
    rider = make.marketer()
    if case == "own":
        ride, who, at = make.ride_along(host), host, now
    elif case == "started":
        ride, who, at = make.ride_along(host, starts_in=timedelta(hours=-0.5)), rider, now
    elif case == "cutoff":
        ride, who, at = make.ride_along(host, starts_in=timedelta(hours=6)), rider, now
    elif case == "cancelled":
        ride, who, at = make.ride_along(host), rider, now
        core.cancel_activity(ride, host, "customer postponed", now)
    else:
        other = make.ride_along(make.user(department="Sales"), starts_in=timedelta(days=2, minutes=30))
        core.book_seat(other.id, rider, now)
        ride, who, at = make.ride_along(host), rider, now
    db.session.commit()
    before = [(p.id, p.state) for p in _participations()]
    with pytest.raises(core.SeatUnavailable, match=message):
        core.book_seat(ride.id, who, at)
    db.session.rollback()
    assert [(p.id, p.state) for p in _participations()] == before


def test_full_call_waitlists_in_order(make, now):
    ride = make.ride_along(seats=1)
    a, b, c = make.marketer(), make.marketer(), make.marketer()
    assert core.book_seat(ride.id, a, now).state == State.BOOKED.value
    pb = core.book_seat(ride.id, b, now + timedelta(minutes=1))
    pc = core.book_seat(ride.id, c, now + timedelta(minutes=2))
    assert pb.state == pc.state == State.WAITLISTED.value
    assert (core.waitlist_position(pb), core.waitlist_position(pc)) == (1, 2)
    with pytest.raises(core.SeatUnavailable, match="already on the waitlist"):
        core.book_seat(ride.id, b, now)


def test_freed_seat_is_offered_then_accepted(make, now, mail):
    ride = make.ride_along(seats=1, starts_in=timedelta(days=3))
    a, b = make.marketer(), make.marketer(email="bee@example.com")
    pa = core.book_seat(ride.id, a, now)
    pb = core.book_seat(ride.id, b, now)
    db.session.commit()
    core.cancel_booking(pa, a, now + timedelta(hours=1))
    db.session.commit()
    db.session.refresh(pb)
    assert pb.state == State.OFFERED.value
    assert pb.offer_expires_at == now + timedelta(hours=25)  # 24 h hold; the cutoff is later
    offer_mail = mail.wait_for("bee@example.com", 2)[-1]
    assert "A seat is free for you" in offer_mail["Subject"] and "/offers/" in body_text(offer_mail)
    assert core.taken_seats(ride.id, now + timedelta(hours=2)) == 1  # the held seat counts as taken
    core.accept_offer(pb, b, now + timedelta(hours=2))
    db.session.commit()
    assert pb.state == State.BOOKED.value
    assert calendar_part(mail.wait_for("bee@example.com", 3)[-1]).get_param("method") == "REQUEST"


def test_offer_hold_ends_at_cutoff_when_sooner(make, now):
    ride = make.ride_along(seats=1, starts_in=timedelta(hours=20), cutoff_hours=12)  # cutoff in 8 h
    a, b = make.marketer(), make.marketer()
    pa = core.book_seat(ride.id, a, now)
    pb = core.book_seat(ride.id, b, now)
    core.cancel_booking(pa, a, now)
    assert pb.offer_expires_at == ride.booking_cutoff_at


def test_declined_and_expired_offers_pass_down_the_line(make, now, mail):
    ride = make.ride_along(seats=1, starts_in=timedelta(days=5))
    a, b, c, d = (make.marketer() for _ in range(4))
    pa = core.book_seat(ride.id, a, now)
    pb, pc, pd = (core.book_seat(ride.id, x, now) for x in (b, c, d))
    core.cancel_booking(pa, a, now)
    assert pb.state == State.OFFERED.value
    core.decline_offer(pb, b, now)
    assert pb.state == State.DECLINED.value and pc.state == State.OFFERED.value
    # c lets the offer lapse; the cron job passes it on.
    assert core.expire_offers(now + timedelta(hours=25)) == 1
    db.session.refresh(pc)
    db.session.refresh(pd)
    assert pc.state == State.DECLINED.value and pd.state == State.OFFERED.value
    assert pc.events[-1].note == "offer expired"
    with pytest.raises(InvalidTransition):
        core.accept_offer(pc, c, now + timedelta(hours=26))


def test_after_cutoff_a_freed_seat_simply_shows_free(make, now):
    ride = make.ride_along(seats=1, starts_in=timedelta(hours=30), cutoff_hours=12)
    a, b = make.marketer(), make.marketer()
    pa = core.book_seat(ride.id, a, now)
    pb = core.book_seat(ride.id, b, now)
    later = now + timedelta(hours=20)  # past the cutoff, before the start
    core.cancel_booking(pa, a, later)
    assert pa.events[-1].note == "late cancellation"
    assert pb.state == State.WAITLISTED.value
    assert core.taken_seats(ride.id, later) == 0


def test_leave_waitlist_and_admin_move_up(make, now):
    ride = make.ride_along(seats=1)
    admin = make.user(role="admin", department=None)
    staff = make.user(role="leader", department="Marketing")
    a, b, c = make.marketer(), make.marketer(), make.marketer()
    core.book_seat(ride.id, a, now)
    pb, pc = core.book_seat(ride.id, b, now), core.book_seat(ride.id, c, now)
    with pytest.raises(NotAllowed):
        core.move_up_waitlist(pc, staff, "because", now)
    with pytest.raises(core.DomainError, match="Give a reason"):
        core.move_up_waitlist(pc, admin, "  ", now)
    core.move_up_waitlist(pc, admin, "needs it for the launch", now)
    assert (core.waitlist_position(pc), core.waitlist_position(pb)) == (1, 2)
    assert pc.events[-1].actor_id == admin.id and "launch" in pc.events[-1].note
    core.cancel_booking(pb, b, now)
    assert pb.state == State.CANCELLED_BY_USER.value and pb.events[-1].note == "left the waitlist"


def test_adding_seats_offers_them(make, now):
    from program.rides.services import call_data_from, update_call

    ride = make.ride_along(seats=1)
    host = ride.host
    a, b = make.marketer(), make.marketer()
    core.book_seat(ride.id, a, now)
    pb = core.book_seat(ride.id, b, now)
    data = call_data_from(ride)
    data.seats = 2
    update_call(host, ride, data, now)
    db.session.refresh(pb)
    assert pb.state == State.OFFERED.value


def test_reschedule_sends_update_with_same_uid_and_next_sequence(make, now, mail):
    from program.rides.services import call_data_from, update_call

    ride = make.ride_along(seats=2)
    rider = make.marketer(email="r@example.com")
    core.book_seat(ride.id, rider, now)
    db.session.commit()
    data = call_data_from(ride)
    data.start = data.start.replace(hour=(data.start.hour + 2) % 24)
    data.end = data.end.replace(hour=(data.end.hour + 2) % 24)
    update_call(ride.host, ride, data, now)
    db.session.commit()
    update = mail.wait_for("r@example.com", 2)[-1]
    assert update["Subject"].startswith("Updated:")
    ev = parse_ics(calendar_part(update).get_content()).vevent
    assert ev.uid.value == ride.ical_uid and int(ev.sequence.value) == 1
    assert ev.dtstart.value == ride.starts_at


def test_host_cancels_everyone_gets_told(make, now, mail):
    ride = make.ride_along(seats=1)
    booked, waiting = make.marketer(email="b@example.com"), make.marketer(email="w@example.com")
    pb = core.book_seat(ride.id, booked, now)
    pw = core.book_seat(ride.id, waiting, now)
    db.session.commit()
    core.cancel_activity(ride, ride.host, "Customer postponed", now)
    db.session.commit()
    assert pb.state == pw.state == State.CANCELLED_BY_HOST.value
    assert ride.late_cancellation is False
    cancel = mail.wait_for("b@example.com", 2)[-1]
    part = calendar_part(cancel)
    assert part.get_param("method") == "CANCEL"
    cal = parse_ics(part.get_content())
    assert cal.method.value == "CANCEL" and cal.vevent.status.value == "CANCELLED"
    assert cal.vevent.uid.value == ride.ical_uid and int(cal.vevent.sequence.value) == 1
    assert "Customer postponed" in body_text(cancel)
    told = mail.wait_for("w@example.com", 2)[-1]
    assert calendar_part(told) is None and "waitlist" in body_text(told)


def test_late_cancellation_by_host_is_recorded(make, now, mail):
    ride = make.ride_along(seats=1, starts_in=timedelta(hours=5))
    rider = make.marketer(email="late@example.com")
    p = core.book_seat(ride.id, rider, now - timedelta(hours=10))
    db.session.commit()
    core.cancel_activity(ride, ride.host, "", now)
    db.session.commit()
    assert ride.late_cancellation is True
    assert p.events[-1].note.startswith("late cancellation by host")
    assert mail.wait_for("late@example.com", 2)[-1]["Subject"].startswith("Late cancellation")


def test_rider_cancel_sends_cancel_invite(make, now, mail):
    ride = make.ride_along()
    rider = make.marketer(email="c@example.com")
    p = core.book_seat(ride.id, rider, now)
    db.session.commit()
    core.cancel_booking(p, rider, now)
    db.session.commit()
    cal = parse_ics(calendar_part(mail.wait_for("c@example.com", 2)[-1]).get_content())
    assert cal.method.value == "CANCEL" and cal.vevent.status.value == "CANCELLED"


def test_attendance_rules(make, now):
    boss = make.user(role="leader", department="Marketing")
    ride = make.ride_along(starts_in=timedelta(hours=1))
    rider = make.marketer(manager=boss)
    bystander = make.marketer()
    p = core.book_seat(ride.id, rider, now - timedelta(days=1))
    with pytest.raises(InvalidTransition, match="once the activity has started"):
        core.mark_attendance(p, ride.host, True, now)
    later = now + timedelta(hours=2)
    with pytest.raises(NotAllowed):
        core.mark_attendance(p, rider, True, later)
    with pytest.raises(NotAllowed):
        core.mark_attendance(p, bystander, True, later)
    core.mark_attendance(p, ride.host, False, later)
    assert p.state == State.NO_SHOW.value
    core.mark_attendance(p, boss, True, later)
    assert p.state == State.ATTENDED.value
    assert [e.to_state for e in p.events] == ["booked", "no_show", "attended"]
