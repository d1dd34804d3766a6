"""Personal calendar feeds and invites, read back with vobject (not the library that wrote them)."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import date, timedelta

from sqlalchemy import text

from program.activities import services as core
from program.activities.ics import Attendee, invite_ics
from program.activities.models import Activity
from program.calendar import feeds as cal
from program.calendar.models import CalendarFeed
from program.extensions import db
from tests.conftest import parse_ics


def _events(data: bytes) -> dict[str, object]:
    parsed = parse_ics(data)
    return {ev.uid.value: ev for ev in parsed.contents.get("vevent", [])}


def test_feed_has_booked_and_hosted_with_correct_instants(client, make, now, login):
    rider = make.marketer()
    booked = make.ride_along(account="Booked Co", tz="America/New_York")
    core.book_seat(booked.id, rider, now)
    hosted = make.ride_along(
        rider_host := make.user(department="Sales"), account="Hosted Co", starts_in=timedelta(days=4)
    )
    token = cal.rotate_feed(rider, now)
    host_token = cal.rotate_feed(rider_host, now)
    db.session.commit()
    resp = client.get(f"/calendar/feed/{token}.ics")
    assert resp.status_code == 200 and resp.mimetype == "text/calendar"
    events = _events(resp.data)
    assert set(events) == {booked.ical_uid}
    ev = events[booked.ical_uid]
    assert ev.dtstart.value == booked.starts_at and ev.status.value == "CONFIRMED"
    assert "Booked Co" in ev.summary.value
    host_events = _events(client.get(f"/calendar/feed/{host_token}.ics").data)
    assert hosted.ical_uid in host_events


def test_cancelled_events_stay_thirty_days(client, make, now, app):
    rider = make.marketer()
    ride = make.ride_along(starts_in=timedelta(days=40))
    core.book_seat(ride.id, rider, now)
    core.cancel_activity(ride, ride.host, "", now)
    token = cal.rotate_feed(rider, now)
    db.session.commit()
    ev = _events(client.get(f"/calendar/feed/{token}.ics").data)[ride.ical_uid]
    assert ev.status.value == "CANCELLED"
    app.config["FIXED_NOW"] = now + timedelta(days=31)
    assert ride.ical_uid not in _events(client.get(f"/calendar/feed/{token}.ics").data)


def _shown_address(page: bytes) -> str:
    """The feed address on the one-time page, read the way a person would copy it."""
    found = re.search(rb'value="(http://tandem\.test/calendar/feed/[A-Za-z0-9_-]+\.ics)"', page)
    assert found, "the page shows no feed address"
    return found.group(1).decode()


def test_the_address_is_shown_once_then_hidden(client, login, make):
    user = make.marketer()
    c = login(user)
    first = c.get("/calendar/")
    assert first.status_code == 200 and b"/calendar/feed/" not in first.data
    assert b"Create my feed address" in first.data
    assert db.session.scalar(db.select(db.func.count(CalendarFeed.id))) == 0  # looking creates nothing

    created = c.post("/calendar/rotate")
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    address = _shown_address(created.data)
    assert b"only time" in created.data
    assert client.get(address.replace("http://tandem.test", "")).status_code == 200

    later = c.get("/calendar/")
    assert address.encode() not in later.data and b"/calendar/feed/" not in later.data
    assert b"hidden" in later.data and b"Get a new address" in later.data


def test_rotating_kills_the_old_url(client, login, make):
    user = make.marketer()
    c = login(user)
    old = _shown_address(c.post("/calendar/rotate").data).replace("http://tandem.test", "")
    assert client.get(old).status_code == 200
    new = _shown_address(c.post("/calendar/rotate").data).replace("http://tandem.test", "")
    assert new != old
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200
    assert db.session.scalar(db.select(db.func.count(CalendarFeed.id))) == 1


def test_the_token_is_not_stored_in_clear(make, now):
    user = make.marketer()
    token = cal.rotate_feed(user, now)
    db.session.commit()
    assert len(base64.urlsafe_b64decode(token)) == 24  # 192 bits of entropy
    rows = [tuple(str(v) for v in row) for row in db.session.execute(text("SELECT * FROM calendar_feed")).all()]
    assert len(rows) == 1 and not any(token in value for value in rows[0])
    assert hashlib.sha256(token.encode()).hexdigest() in rows[0]
    assert cal.user_for_token(token) == user
    assert cal.user_for_token(hashlib.sha256(token.encode()).hexdigest()) is None  # the stored value opens nothing
    assert cal.user_for_token("") is None


def test_deactivated_users_feed_is_gone(client, make, now):
    user = make.marketer()
    token = cal.rotate_feed(user, now)
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
    token = cal.rotate_feed(rider, now)
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
