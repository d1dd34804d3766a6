"""Deactivation through SCIM is Tandem's deactivation: the person can't sign in, their upcoming seats go back
(to the next person waiting), their history stays — and the log says which client did it."""

from __future__ import annotations

from sqlalchemy import select

from program.activities.models import Participation, ParticipationEvent
from program.activities.services import book_seat
from program.extensions import db


def booked(make, now, rider):
    """A ride-along two days ahead with ``rider`` booked on it; returns the participation."""
    call = make.ride_along(seats=1)
    participation = book_seat(call.id, rider, now)
    db.session.commit()
    assert participation.state == "booked"
    return participation


def state_of(participation_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Participation, participation_id).state


def test_active_false_releases_a_booked_seat_and_is_logged(scim, make, now, log_entries):
    rider = make.user(email="rider@example.com")
    seat = booked(make, now, rider)
    old_session = rider.session_token
    response = scim.patch(f"/Users/{rider.id}", [{"op": "replace", "path": "active", "value": False}])
    assert response.status_code == 200 and response.get_json()["active"] is False

    assert state_of(seat.id) == "cancelled_by_user"
    last = db.session.scalars(
        select(ParticipationEvent).where(ParticipationEvent.participation_id == seat.id).order_by(ParticipationEvent.id)
    ).all()[-1]
    assert (last.from_state, last.to_state, last.note, last.actor_id) == (
        "booked",
        "cancelled_by_user",
        "deactivated",
        None,
    )
    db.session.refresh(rider)
    assert rider.active is False and rider.session_token != old_session  # signed out everywhere
    entry = log_entries(action="deactivated")[0]
    assert (entry.actor, entry.resource_type, entry.resource_id) == ("scim:Okta", "User", str(rider.id))
    assert (entry.before["active"], entry.after["active"]) == (True, False)


def test_the_freed_seat_goes_to_the_next_person_waiting(scim, make, now):
    rider, waiting = make.user(), make.user()
    seat = booked(make, now, rider)
    queued = book_seat(seat.activity_id, waiting, now)
    db.session.commit()
    assert queued.state == "waitlisted"
    scim.patch(f"/Users/{rider.id}", [{"op": "replace", "path": "active", "value": False}])
    assert state_of(queued.id) == "offered"


def test_delete_releases_the_seat_too(scim, make, now, log_entries):
    rider = make.user()
    seat = booked(make, now, rider)
    assert scim.delete(f"/Users/{rider.id}").status_code == 204
    assert state_of(seat.id) == "cancelled_by_user"
    assert [e.action for e in log_entries(resource_type="User")] == ["deleted"]


def test_reactivation_gives_access_back_but_not_the_seat(scim, make, now, log_entries):
    rider = make.user()
    seat = booked(make, now, rider)
    scim.patch(f"/Users/{rider.id}", [{"op": "replace", "path": "active", "value": False}])
    response = scim.patch(f"/Users/{rider.id}", [{"op": "replace", "path": "active", "value": True}])
    assert response.get_json()["active"] is True
    db.session.refresh(rider)
    assert rider.active is True
    assert state_of(seat.id) == "cancelled_by_user"  # a given-up seat may have gone to someone else
    assert [e.action for e in log_entries(resource_type="User")] == ["deactivated", "reactivated"]


def test_a_change_that_fails_changes_nothing(scim, make, now):
    rider = make.user(email="rider@example.com")
    seat = booked(make, now, rider)
    response = scim.patch(
        f"/Users/{rider.id}",
        [{"op": "replace", "path": "active", "value": False}, {"op": "replace", "path": "userName", "value": "bad"}],
    )
    assert response.status_code == 400
    assert state_of(seat.id) == "booked"
    db.session.refresh(rider)
    assert rider.active is True
