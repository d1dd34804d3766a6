"""Never overbooked: many people take the last seats at the same moment.

Each thread has its own app context, session and connection, as separate workers would. The naive
variant (no row lock, a pause between counting and writing) proves the test can catch overbooking.
"""

from __future__ import annotations

import threading

import pytest

from program.accounts.models import User
from program.activities import services as core
from program.activities.models import Participation, State
from program.extensions import db
from tests.conftest import make_app


def _fire(database_url: str, activity_id: int, user_ids: list[int], now, **config) -> tuple[list[str], list[str]]:
    app = make_app(
        database_url, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": len(user_ids) + 2, "max_overflow": 0}, **config
    )
    barrier = threading.Barrier(len(user_ids))
    states: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker(uid: int) -> None:
        with app.app_context():
            try:
                user = db.session.get(User, uid)
                db.session.commit()  # end the read; the booking starts a fresh transaction
                barrier.wait(timeout=30)
                p = core.book_seat(activity_id, user, now)
                state = p.state
                db.session.commit()
                with lock:
                    states.append(state)
            except Exception as exc:  # noqa: BLE001 — every failure is a finding
                db.session.rollback()
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(uid,)) for uid in user_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    with app.app_context():
        db.engine.dispose()
    return states, errors


def _setup(make, riders: int, seats: int):
    ride = make.ride_along(seats=seats)
    users = [make.marketer() for _ in range(riders)]
    db.session.commit()
    return ride.id, [u.id for u in users]


def _booked_in_db(activity_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(
        db.select(db.func.count(Participation.id)).where(
            Participation.activity_id == activity_id, Participation.state == State.BOOKED.value
        )
    )


def test_concurrent_bookings_fill_exactly_the_seats(make, now, database_url):
    riders = 20 if database_url.startswith("postgresql") else 8
    activity_id, user_ids = _setup(make, riders, seats=2)
    states, errors = _fire(database_url, activity_id, user_ids, now)
    assert errors == []
    print(
        f"{riders} concurrent bookings at 2 seats: {states.count('booked')} booked, {states.count('waitlisted')} waitlisted"
    )
    assert states.count(State.BOOKED.value) == 2
    assert states.count(State.WAITLISTED.value) == riders - 2
    assert _booked_in_db(activity_id) == 2
    ranks = db.session.scalars(
        db.select(Participation.waitlist_rank).where(Participation.state == State.WAITLISTED.value)
    ).all()
    assert len(set(ranks)) == riders - 2  # a strict, fair order


@pytest.mark.postgres_only
def test_the_concurrency_test_catches_a_naive_booking(make, now, database_url, pg_required):
    activity_id, user_ids = _setup(make, 20, seats=2)
    states, errors = _fire(
        database_url, activity_id, user_ids, now, TESTING_NAIVE_BOOKING=True, TESTING_BOOKING_DELAY=0.2
    )
    assert errors == []
    booked = _booked_in_db(activity_id)
    print(f"naive booking: {booked} of 20 booked onto 2 seats")
    assert booked > 2  # without the lock, seats are overbooked
