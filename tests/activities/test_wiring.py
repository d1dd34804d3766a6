"""The core's front door (issue 11): offer links made before the move still answer, deactivation reaches the core
through ``accounts.signals.person_deactivated``, and building another app wires nothing twice."""

from __future__ import annotations

from datetime import timedelta

from itsdangerous import URLSafeSerializer

from program.accounts.signals import person_deactivated
from program.activities import mail, services
from program.activities import services as core
from program.activities.mail import offer_token, read_offer_token
from program.activities.models import Participation, State
from program.activities.signals import activity_changed, participation_changed
from program.extensions import db
from program.jobs import registered_jobs
from tests.conftest import make_app


def test_an_offer_link_signed_the_old_way_still_reads(make, now, app):
    ride = make.ride_along(seats=1, starts_in=timedelta(days=3))
    a, b = make.marketer(), make.marketer(email="second@example.com")
    core.book_seat(ride.id, a, now)
    pb = core.book_seat(ride.id, b, now)
    core.cancel_booking(core.find_participation(ride.id, a.id), a, now)
    db.session.commit()
    assert pb.state == State.OFFERED.value
    old = URLSafeSerializer(app.config["SECRET_KEY"], salt="tandem-offer").dumps(
        {"p": pb.id, "u": b.id, "o": core.current_offer_id(pb)}
    )
    assert read_offer_token(old) == read_offer_token(offer_token(pb)) == (pb.id, b.id, core.current_offer_id(pb))
    assert read_offer_token("forged") is None
    assert read_offer_token(URLSafeSerializer(app.config["SECRET_KEY"], salt="tandem-offer").dumps([1, 2])) is None


def test_deactivating_someone_gives_up_their_places_through_the_signal(make, now, app):
    ride = make.ride_along(seats=1, starts_in=timedelta(days=3))
    leaver, waiting = make.marketer(), make.marketer(email="waiting@example.com")
    p = core.book_seat(ride.id, leaver, now)
    w = core.book_seat(ride.id, waiting, now)
    db.session.commit()
    person_deactivated.send(leaver, actor=None, now=now)
    db.session.commit()
    assert db.session.get(Participation, p.id).state == State.CANCELLED_BY_USER.value
    assert db.session.get(Participation, w.id).state == State.OFFERED.value  # the freed seat went on


def test_building_another_app_wires_nothing_twice(app, database_url):
    before = (
        len(participation_changed.receivers),
        len(activity_changed.receivers),
        len(person_deactivated.receivers),
        registered_jobs(),
    )
    make_app(database_url)
    after = (
        len(participation_changed.receivers),
        len(activity_changed.receivers),
        len(person_deactivated.receivers),
        registered_jobs(),
    )
    assert after == before
    jobs = registered_jobs()  # offers are passed on before the 24-hour reminders go out
    assert jobs.index("expired offers passed on") + 1 == jobs.index("activity reminders (24 hours before)")
    assert services.release_places in [r() for r in person_deactivated.receivers.values()]
    assert mail.on_participation_changed in [r() for r in participation_changed.receivers.values()]
