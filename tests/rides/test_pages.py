"""Ride-along pages: browse with filters, offer and edit with validation, detail actions, permissions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from program.activities import services as core
from program.activities.models import Activity, Participation, State
from program.extensions import db


def _form(**over):
    data = {
        "host_id": "",
        "account_name": "Globex",
        "segment": "SMB",
        "funnel_stage": "SQL",
        "call_type": "discovery",
        "day": "2026-11-26",
        "start": "14:00",
        "end": "15:00",
        "timezone": "Europe/London",
        "location": "",
        "video_url": "https://meet.example.com/abc",
        "seats": "3",
        "cutoff_hours": "12",
        "briefing": "Camera off.",
    }
    data.update(over)
    return data


def test_rep_offers_a_call(login, make):
    rep = make.user(department="Sales")
    c = login(rep)
    assert c.get("/ride-alongs/new").status_code == 200
    resp = c.post("/ride-alongs/new", data=_form(host_id=rep.id))
    assert resp.status_code == 302
    activity = db.session.scalar(db.select(Activity))
    assert activity.host_id == rep.id and activity.seats == 3
    assert activity.starts_at.isoformat() == "2026-11-26T14:00:00+00:00"
    assert activity.booking_cutoff_at == activity.starts_at - timedelta(hours=12)
    assert activity.ride.account_name == "Globex"


def test_call_timezone_is_respected(login, make):
    rep = make.user(department="Sales")
    c = login(rep)
    c.post("/ride-alongs/new", data=_form(host_id=rep.id, timezone="America/New_York"))
    activity = db.session.scalar(db.select(Activity))
    assert activity.starts_at.isoformat() == "2026-11-26T19:00:00+00:00"


@pytest.mark.parametrize(
    "over,field_message",
    [
        ({"account_name": ""}, b"Name the account or prospect."),
        ({"seats": "9"}, b"Between 1 and 5."),
        ({"end": "13:00"}, b"The call must end after it starts."),
        ({"day": "2026-11-20"}, b"The call must start in the future."),
        ({"video_url": "", "location": ""}, b"Give an address or a video link."),
        ({"video_url": "javascript:alert(1)"}, b"Give a full link starting with https://."),
        ({"segment": ""}, b"Choose a customer segment."),
        ({"day": "2027-03-28", "start": "01:30", "end": "02:30"}, b"doesn&#39;t exist on this day"),
    ],
)
def test_bad_input_is_refused_beside_the_field_and_kept(login, make, over, field_message):
    rep = make.user(department="Sales")
    c = login(rep)
    resp = c.post("/ride-alongs/new", data=_form(host_id=rep.id, **over))
    assert resp.status_code == 422
    assert field_message in resp.data
    assert b'class="error"' in resp.data
    assert b"Camera off." in resp.data  # what was typed is kept
    assert db.session.scalar(db.select(db.func.count(Activity.id))) == 0


def test_leader_offers_for_own_rep_only(login, make):
    lead = make.user(role="leader", department="Sales")
    mine = make.user(department="Sales", manager=lead)
    other = make.user(department="Sales")
    c = login(lead)
    assert c.post("/ride-alongs/new", data=_form(host_id=mine.id)).status_code == 302
    resp = c.post("/ride-alongs/new", data=_form(host_id=other.id))
    assert resp.status_code == 422


def test_marketing_cannot_offer(login, make):
    c = login(make.marketer())
    assert c.get("/ride-alongs/new").status_code == 404
    assert c.post("/ride-alongs/new", data=_form()).status_code == 404


def test_browse_filters_and_seats(login, make, now):
    rep = make.user(department="Sales", name="Rita Rep")
    full = make.ride_along(rep, seats=1, segment="SMB", account="Full Co")
    make.ride_along(rep, seats=2, segment="Enterprise", account="Open Co", starts_in=timedelta(days=3))
    make.ride_along(rep, starts_in=timedelta(days=-3), account="Past Co")
    core.book_seat(full.id, make.marketer(), now)
    core.book_seat(full.id, make.marketer(), now)
    c = login(make.marketer())
    page = c.get("/ride-alongs/")
    assert b"Full Co" in page.data and b"Open Co" in page.data and b"Past Co" not in page.data
    assert b"full" in page.data and b"2 of 2" in page.data
    free = c.get("/ride-alongs/?free=1")
    assert b"Full Co" not in free.data and b"Open Co" in free.data
    smb = c.get("/ride-alongs/?segment=SMB")
    assert b"Full Co" in smb.data and b"Open Co" not in smb.data
    past = c.get("/ride-alongs/?show=past")
    assert b"Past Co" in past.data and b"Open Co" not in past.data
    dated = c.get("/ride-alongs/?from=2026-11-26&to=2026-11-26")
    assert b"Open Co" in dated.data and b"Full Co" not in dated.data


def test_rep_filter_searches_names_instead_of_listing_every_host(login, make):
    rita, sam = make.user(department="Sales", name="Rita Rep"), make.user(department="Sales", name="Sam O_Seller")
    make.ride_along(rita, account="Rita Co")
    make.ride_along(sam, account="Sam Co", starts_in=timedelta(days=3))
    hosts = [make.user(department="Sales", name=f"Quiet Host {n}") for n in range(5)]  # no calls at all
    c = login(make.marketer())
    page = c.get("/ride-alongs/").get_data(as_text=True)
    assert "Rita Co" in page and "Sam Co" in page
    assert not any(h.name in page for h in hosts)  # the filter no longer lists every host
    assert 'name="rep" type="search"' in page
    rita_only = c.get("/ride-alongs/?rep=RITA").get_data(as_text=True)
    assert "Rita Co" in rita_only and "Sam Co" not in rita_only and 'value="RITA"' in rita_only
    assert "Sam Co" in c.get("/ride-alongs/?rep=o_s").get_data(as_text=True)  # _ is literal
    assert "Rita Co" not in c.get("/ride-alongs/?rep=o_s").get_data(as_text=True)
    assert "No ride-alongs match" in c.get("/ride-alongs/?rep=%25%25nobody").get_data(as_text=True)


def test_browse_query_count_does_not_grow(login, make, now, count_queries):
    viewer = make.marketer()
    c = login(viewer)
    for i in range(3):
        r = make.ride_along(make.user(department="Sales"), starts_in=timedelta(days=2, hours=i))
        core.book_seat(r.id, make.marketer(), now)
    db.session.commit()
    with count_queries() as few:
        assert c.get("/ride-alongs/").status_code == 200
    for i in range(12):
        r = make.ride_along(
            make.user(department="Sales"), starts_in=timedelta(days=4, hours=i), hide_account=i % 2 == 0
        )
        core.book_seat(r.id, make.marketer(), now)
    db.session.commit()
    with count_queries() as many:
        c.get("/ride-alongs/")
    assert many.count == few.count


def test_hidden_account_until_booked(login, make, now):
    ride = make.ride_along(account="Secret Bank", hide_account=True)
    rider = make.marketer()
    c = login(rider)
    assert b"Secret Bank" not in c.get(f"/ride-alongs/{ride.id}").data
    assert b"Secret Bank" not in c.get("/ride-alongs/").data
    assert c.post(f"/activities/{ride.id}/book").status_code == 302
    assert b"Secret Bank" in c.get(f"/ride-alongs/{ride.id}").data


def test_book_cancel_through_pages(login, make):
    ride = make.ride_along(seats=1)
    a, b = make.marketer(), make.marketer()
    ca, cb = login(a), login(b)
    resp = ca.post(f"/activities/{ride.id}/book", follow_redirects=True)
    assert b"You&#39;re booked" in resp.data
    resp = cb.post(f"/activities/{ride.id}/book", follow_redirects=True)
    assert b"number 1 on the waitlist" in resp.data
    ca.post(f"/activities/{ride.id}/cancel-booking")
    page = cb.get(f"/ride-alongs/{ride.id}")
    assert b"Accept the seat" in page.data
    cb.post(f"/activities/{ride.id}/accept")
    pb = db.session.scalar(db.select(Participation).where(Participation.user_id == b.id))
    assert pb.state == State.BOOKED.value


def test_booking_own_call_is_refused_with_a_message(login, make):
    ride = make.ride_along()
    resp = login(ride.host).post(f"/activities/{ride.id}/book", follow_redirects=True)
    assert b"You host this call" in resp.data


def test_edit_and_cancel_only_by_host_side(login, make):
    lead = make.user(role="leader", department="Sales")
    rep = make.user(department="Sales", manager=lead)
    ride = make.ride_along(rep)
    stranger = make.user(department="Sales")
    assert login(stranger).get(f"/ride-alongs/{ride.id}/edit").status_code == 404
    assert login(stranger).post(f"/ride-alongs/{ride.id}/cancel").status_code == 404
    assert login(lead).get(f"/ride-alongs/{ride.id}/edit").status_code == 200
    assert login(rep).post(f"/ride-alongs/{ride.id}/cancel", data={"reason": "moved"}).status_code == 302
    assert db.session.get(Activity, ride.id).is_cancelled


def test_attendance_page_actions(login, make, now, app):
    ride = make.ride_along(starts_in=timedelta(hours=1))
    rider = make.marketer()
    p = core.book_seat(ride.id, rider, now - timedelta(days=1))
    db.session.commit()
    app.config["FIXED_NOW"] = now + timedelta(hours=2)
    assert (
        login(rider).post(f"/activities/{ride.id}/attendance/{p.id}", data={"outcome": "attended"}).status_code == 404
    )
    host = login(ride.host)
    assert b"Mark attended" in host.get(f"/ride-alongs/{ride.id}").data
    host.post(f"/activities/{ride.id}/attendance/{p.id}", data={"outcome": "attended"})
    db.session.refresh(p)
    assert p.state == State.ATTENDED.value


def test_offer_link_works_without_signing_in(client, make, now, mail):
    import re

    from tests.conftest import body_text

    ride = make.ride_along(seats=1)
    a, b = make.marketer(), make.marketer(email="link@example.com")
    pa = core.book_seat(ride.id, a, now)
    core.book_seat(ride.id, b, now)
    db.session.commit()
    core.cancel_booking(pa, a, now)
    db.session.commit()
    text = body_text(mail.wait_for("link@example.com", 2)[-1])
    path = re.search(r"http://tandem.test(/offers/\S+)", text).group(1)
    page = client.get(path)
    assert b"Accept the seat" in page.data
    client.post(path, data={"answer": "accept"})
    pb = db.session.scalar(db.select(Participation).where(Participation.user_id == b.id))
    assert pb.state == State.BOOKED.value
    assert client.get(path[:-3] + "xyz").status_code == 404  # tampered token


def test_schedule_lists_bookings_and_hosted(login, make, now):
    ride = make.ride_along(account="Initech")
    rider = make.marketer()
    core.book_seat(ride.id, rider, now)
    page = login(rider).get("/schedule")
    assert b"Initech" in page.data and b"Booked" in page.data
    assert b"Initech" in login(ride.host).get("/schedule").data


def test_unknown_activity_is_404(login, make):
    c = login(make.marketer())
    assert c.get("/ride-alongs/999").status_code == 404
    assert c.post("/activities/999/book").status_code == 404
