"""Personal calendar feeds and invites, read back with vobject (not the library that wrote them)."""

from __future__ import annotations

from datetime import date, timedelta

from program.activities import services as core
from program.activities.models import Activity
from program.calendar import services as cal
from program.calendar.ics import Attendee, invite_ics
from program.extensions import db
from tests.conftest import parse_ics


def _events(data: bytes) -> dict[str, object]:
    parsed = parse_ics(data)
    return {ev.uid.value: ev for ev in parsed.contents.get("vevent", [])}


def test_feed_has_booked_and_hosted_with_correct_instants(client, make, now, login):
    rider = make.marketer()
    booked = make.ride_along(account="Booked Co", tz="America/New_York")
    core.book_seat(booked.id, rider, now)
    hosted = make.ride_along(rider_host := make.user(department="Sales"), account="Hosted Co",
                             starts_in=timedelta(days=4))
    feed = cal.feed_for(rider)
    host_feed = cal.feed_for(rider_host)
    db.session.commit()
    resp = client.get(f"/calendar/feed/{feed.token}.ics")
    assert resp.status_code == 200 and resp.mimetype == "text/calendar"
    events = _events(resp.data)
    assert set(events) == {booked.ical_uid}
    ev = events[booked.ical_uid]
    assert ev.dtstart.value == booked.starts_at and ev.status.value == "CONFIRMED"
    assert "Booked Co" in ev.summary.value
    host_events = _events(client.get(f"/calendar/feed/{host_feed.token}.ics").data)
    assert hosted.ical_uid in host_events


def test_cancelled_events_stay_thirty_days(client, make, now, app):
    rider = make.marketer()
    ride = make.ride_along(starts_in=timedelta(days=40))
    core.book_seat(ride.id, rider, now)
    core.cancel_activity(ride, ride.host, "", now)
    token = cal.feed_for(rider).token
    db.session.commit()
    ev = _events(client.get(f"/calendar/feed/{token}.ics").data)[ride.ical_uid]
    assert ev.status.value == "CANCELLED"
    app.config["FIXED_NOW"] = now + timedelta(days=31)
    assert ride.ical_uid not in _events(client.get(f"/calendar/feed/{token}.ics").data)


def test_rotating_kills_the_old_url(client, login, make):
    user = make.marketer()
    old = cal.feed_for(user).token
    c = login(user)
    assert client.get(f"/calendar/feed/{old}.ics").status_code == 200
    assert old.encode() in c.get("/calendar/").data
    c.post("/calendar/rotate")
    assert client.get(f"/calendar/feed/{old}.ics").status_code == 404
    new = cal.feed_for(user).token
    assert new != old and client.get(f"/calendar/feed/{new}.ics").status_code == 200


def test_deactivated_users_feed_is_gone(client, make):
    user = make.marketer()
    token = cal.feed_for(user).token
    user.active = False
    db.session.commit()
    assert client.get(f"/calendar/feed/{token}.ics").status_code == 404


def test_all_day_events_use_dates_with_next_day_end(make, now):
    ride = make.ride_along()
    ride.all_day = True
    ride.timezone = "Pacific/Auckland"
    data = invite_ics(ride, Attendee("a@example.com", "A"), method="REQUEST", now=now, summary="Shadow day")
    ev = parse_ics(data).vevent
    local_day = ride.starts_at.astimezone(__import__("zoneinfo").ZoneInfo("Pacific/Auckland")).date()
    assert ev.dtstart.value == local_day and isinstance(ev.dtstart.value, date)
    assert ev.dtend.value == local_day + timedelta(days=1)


def test_invite_rejects_unknown_method(make, now):
    import pytest

    with pytest.raises(ValueError):
        invite_ics(make.ride_along(), Attendee("a@example.com", "A"), method="PUBLISH", now=now, summary="x")


def test_feed_query_count_is_flat(client, make, now, count_queries):
    rider = make.marketer()
    token = cal.feed_for(rider).token
    for i in range(2):
        core.book_seat(make.ride_along(starts_in=timedelta(days=2 + i)).id, rider, now)
    db.session.commit()
    with count_queries() as few:
        client.get(f"/calendar/feed/{token}.ics")
    for i in range(8):
        core.book_seat(make.ride_along(starts_in=timedelta(days=5 + i)).id, rider, now)
    db.session.commit()
    with count_queries() as many:
        client.get(f"/calendar/feed/{token}.ics")
    assert many.count == few.count
    assert db.session.scalar(db.select(db.func.count(Activity.id))) == 10
