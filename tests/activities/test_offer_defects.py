"""Waitlist offers as real clients met them (issue 10): the hold deadline in the offer mail, subjects that a
mail parser reads back exactly, an expired offer that really passes on, and offer links bound to one offer."""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes, policy
from email.header import decode_header, make_header

from program.activities import services as core
from program.activities.models import Participation, State
from program.extensions import db
from program.filters import localtime
from program.mail.services import queue_email
from tests.conftest import body_text


def _state(p: Participation) -> str:
    db.session.expire_all()
    return db.session.get(Participation, p.id).state


def _offer_links(mail, address: str) -> list[str]:
    links = []
    for msg in mail.to(address):
        if msg["Subject"].startswith("A seat is free for you"):
            links += re.findall(r"http://tandem\.test(/offers/\S+)", body_text(msg))
    return links


# --- 1. the offer mail names its deadline; subjects fold after words ---------------------------------------------


def test_offer_mail_says_until_when_the_seat_is_held(make, now, mail):
    ride = make.ride_along(seats=1, starts_in=timedelta(days=3))
    a, b = make.marketer(), make.marketer(email="held@example.com", timezone="Europe/Berlin")
    pa = core.book_seat(ride.id, a, now)
    pb = core.book_seat(ride.id, b, now)
    db.session.commit()
    core.cancel_booking(pa, a, now)
    db.session.commit()
    assert pb.offer_expires_at == now + timedelta(hours=24)
    offer = mail.wait_for("held@example.com", 2)[-1]
    deadline = localtime(pb.offer_expires_at, tz="Europe/Berlin")
    assert deadline == "Tue 24 Nov 2026, 11:00 CET"
    text = body_text(offer)
    assert f"it is held for you until {deadline}." in text
    assert "until ." not in text
    html = offer.get_body(preferencelist=("html",)).get_content()
    assert f"<strong>{deadline}</strong>" in html


SUBJECTS = [
    # a first word too long for the first line: it must still start right after "Subject: "
    "Überwald-Société-Générale-d'Ingénierie-et-de-Construction-Holdings-International: booked",
    "Booked: Ride-along: Discovery with Überwald Société Générale — Zoë & Partners (Enterprise, Opportunity)",
    "A seat is free for you: Ride-along: Demo with Acme Ltd (Enterprise, Opportunity) on Wed 25 Nov 2026",
    "Cancelled: Shadow day with Zoë Ünal at Société Générale — a very long name of a place",
    "Looks encoded =?utf-8?q?x?= but is typed text",
    "Ride-along-with-a-very-long-hyphenated-account-name-that-fills-a-line: booked",
    "Updated: Ride-along: Demo with Zoë — Very-long-hyphenated-account-name-of-the-customer-company-ltd Demo Zoë",
    "Booked: Ride-along: Acme (Enterprise, Ltd Opportunity) with Acme Société",
]


def test_subjects_arrive_exactly_and_fold_after_words(app, mail):
    for n, subject in enumerate(SUBJECTS):
        queue_email(
            f"s{n}@example.com", "accounts/password_reset", subject, user=None, link="http://tandem.test/x", hours=1
        )
    db.session.commit()
    for n, subject in enumerate(SUBJECTS):
        mail.wait_for(f"s{n}@example.com")
        raw = mail.raw_to(f"s{n}@example.com")[0]
        head = raw.split(b"\r\n\r\n", 1)[0]
        lines = head.split(b"\r\n")
        start = next(i for i, line in enumerate(lines) if line.lower().startswith(b"subject:"))
        folded = [lines[start]]
        for line in lines[start + 1 :]:
            if line[:1] not in (b" ", b"\t"):
                break
            folded.append(line)
        # never folded right after the colon: the first line carries a word
        assert folded[0].startswith(b"Subject: ") and folded[0][len(b"Subject: ") :].strip(), folded
        for line in folded:
            assert line.isascii() and (len(line) <= 78 or b" " not in line.strip()), folded
        # read back by two readers, it is the subject we sent, with no space lost, added or leading
        assert message_from_bytes(raw, policy=policy.default)["Subject"] == subject
        compat = message_from_bytes(raw)  # compat32: the raw header, unfolded (RFC 5322 2.2.3), decoded word by word
        unfolded = re.sub(r"\r?\n(?=[ \t])", "", compat["Subject"])
        assert str(make_header(decode_header(unfolded))) == subject


# --- 10. accepting an expired offer passes the seat on, through the route -----------------------------------------


def test_accepting_an_expired_offer_passes_it_on_through_the_route(make, now, mail, login):
    ride = make.ride_along(seats=1, starts_in=timedelta(days=2))
    earlier = now - timedelta(hours=25)  # b's 24 h hold ended an hour ago; nobody ran the cron job
    a, b = make.marketer(), make.marketer(email="late@example.com")
    c = make.marketer(email="next@example.com")
    pa = core.book_seat(ride.id, a, earlier)
    pb = core.book_seat(ride.id, b, earlier)
    pc = core.book_seat(ride.id, c, earlier)
    core.cancel_booking(pa, a, earlier)
    db.session.commit()
    assert pb.state == State.OFFERED.value and pb.offer_expires_at < now
    resp = login(b).post(f"/activities/{ride.id}/accept", follow_redirects=True)
    assert b"This offer has expired and passed to the next person waiting." in resp.data
    assert _state(pb) == State.DECLINED.value
    assert _state(pc) == State.OFFERED.value
    assert db.session.get(Participation, pc.id).offer_expires_at == now + timedelta(hours=24)
    assert any(m["Subject"].startswith("A seat is free for you") for m in mail.wait_for("next@example.com", 2))


def test_accepting_an_expired_offer_by_link_passes_it_on(make, now, mail, client):
    ride = make.ride_along(seats=1, starts_in=timedelta(days=2))
    earlier = now - timedelta(hours=25)
    a, b, c = make.marketer(), make.marketer(email="late2@example.com"), make.marketer()
    pa = core.book_seat(ride.id, a, earlier)
    pb = core.book_seat(ride.id, b, earlier)
    pc = core.book_seat(ride.id, c, earlier)
    core.cancel_booking(pa, a, earlier)
    db.session.commit()
    (link,) = _offer_links(mail, "late2@example.com")
    resp = client.post(link, data={"answer": "accept"}, follow_redirects=True)
    assert b"This offer has expired and passed to the next person waiting." in resp.data
    assert (_state(pb), _state(pc)) == (State.DECLINED.value, State.OFFERED.value)


# --- 11. an offer link answers one offer only --------------------------------------------------------------------


def test_an_old_offer_link_cannot_accept_a_later_offer(make, now, mail, client):
    ride = make.ride_along(seats=1, starts_in=timedelta(days=3))
    a, b, c = make.marketer(), make.marketer(email="twice@example.com"), make.marketer()
    pa = core.book_seat(ride.id, a, now)
    pb = core.book_seat(ride.id, b, now)
    pc = core.book_seat(ride.id, c, now)
    db.session.commit()
    core.cancel_booking(pa, a, now)  # offer 1 to b
    db.session.commit()
    (first,) = _offer_links(mail, "twice@example.com")
    assert client.post(first, data={"answer": "decline"}).status_code == 302  # b declines by the link
    assert (_state(pb), _state(pc)) == (State.DECLINED.value, State.OFFERED.value)
    core.accept_offer(db.session.get(Participation, pc.id), c, now)
    pb = db.session.get(Participation, pb.id)
    core.book_seat(ride.id, b, now)  # b waits again
    db.session.commit()
    core.cancel_booking(db.session.get(Participation, pc.id), c, now)  # offer 2 to b
    db.session.commit()
    assert _state(pb) == State.OFFERED.value
    links = _offer_links(mail, "twice@example.com")
    assert len(links) == 2 and links[0] == first and links[1] != first
    second = links[1]

    # the old, used link neither shows buttons nor accepts the new offer
    page = client.get(first)
    assert page.status_code == 200
    assert b"Accept the seat" not in page.data and b"This link was for an earlier offer" in page.data
    resp = client.post(first, data={"answer": "accept"}, follow_redirects=True)
    assert b"This link was for an earlier offer" in resp.data
    assert _state(pb) == State.OFFERED.value
    resp = client.post(first, data={"answer": "decline"}, follow_redirects=True)
    assert _state(pb) == State.OFFERED.value

    # the new link works, once
    assert b"Accept the seat" in client.get(second).data
    resp = client.post(second, data={"answer": "accept"}, follow_redirects=True)
    assert b"The seat is yours." in resp.data and _state(pb) == State.BOOKED.value
    resp = client.post(second, data={"answer": "decline"}, follow_redirects=True)
    assert b"This offer is no longer open" in resp.data and _state(pb) == State.BOOKED.value


def test_an_expired_offers_link_stays_refused_after_the_next_offer(make, now, mail, client):
    """Offer 1 lapses (cron), b joins again and gets offer 2: the first link is settled for good."""
    ride = make.ride_along(seats=1, starts_in=timedelta(days=5))
    a, b, c = make.marketer(), make.marketer(email="lapse@example.com"), make.marketer()
    pa = core.book_seat(ride.id, a, now - timedelta(days=2))
    pb = core.book_seat(ride.id, b, now - timedelta(days=2))
    core.cancel_booking(pa, a, now - timedelta(days=2))
    db.session.commit()
    assert core.expire_offers(now - timedelta(hours=12)) == 1
    pc = core.book_seat(ride.id, c, now - timedelta(hours=12))  # the freed seat, booked directly
    core.book_seat(ride.id, b, now - timedelta(hours=12))
    db.session.commit()
    core.cancel_booking(pc, c, now - timedelta(hours=1))
    db.session.commit()
    assert _state(pb) == State.OFFERED.value
    first, second = _offer_links(mail, "lapse@example.com")
    client.post(first, data={"answer": "accept"})
    assert _state(pb) == State.OFFERED.value
    client.post(second, data={"answer": "accept"})
    assert _state(pb) == State.BOOKED.value
