"""The booking POST runs a handful of SQL statements, whatever the activity's history and waitlist hold.

Counted as a fresh request on a server would run it (empty identity map): the signed-in user, the activity's
row lock, one read of the activity with the person's place and the seat counts, the place and its history row,
and the invitation written to the outbox. The mail's delivery job is held (it runs after the commit, elsewhere).
"""

from __future__ import annotations

from program.activities import services as core
from program.activities.models import Participation, State
from program.extensions import db


def _book(client, activity_id: int, count_queries):
    """POST the booking as a fresh request would (nothing in the session's identity map)."""
    db.session.remove()
    with count_queries() as q:
        response = client.post(f"/activities/{activity_id}/book", follow_redirects=False)
    assert response.status_code == 302
    shown = "\n".join(f"  {n}. {s.splitlines()[0][:150]}" for n, s in enumerate(q.statements, 1))
    return q.count, shown, q.statements


def _flashed(client) -> str:
    with client.session_transaction() as session:
        return " ".join(message for _, message in session.get("_flashes", []))


def test_a_plain_booking_is_at_most_six_statements(make, now, login, count_queries, held_jobs):
    ride = make.ride_along(seats=2)
    rider = make.marketer()
    client = login(rider)
    ride_id, rider_id = ride.id, rider.id
    count, shown, _ = _book(client, ride_id, count_queries)
    print(f"booking POST: {count} statements\n{shown}")
    assert count <= 6, f"{count} statements:\n{shown}"
    assert "You're booked" in _flashed(client)
    p = db.session.scalar(db.select(Participation).where(Participation.user_id == rider_id))
    assert p.state == State.BOOKED.value
    assert [(e.from_state, e.to_state, e.actor_id) for e in p.events] == [("invited", "booked", rider_id)]
    assert len(held_jobs.tasks("mail.deliver")) == 1  # the invitation, queued at the commit


def test_joining_a_long_waitlist_is_as_cheap_and_says_the_place(make, now, login, count_queries, held_jobs):
    ride = make.ride_along(seats=1)
    for _ in range(6):  # one booked, five waiting
        core.book_seat(ride.id, make.marketer(), now)
    rider = make.marketer()
    client = login(rider)
    ride_id, rider_id = ride.id, rider.id
    count, shown, _ = _book(client, ride_id, count_queries)
    assert count <= 6, f"{count} statements:\n{shown}"
    assert "you're number 6 on the waitlist" in _flashed(client)
    p = db.session.scalar(db.select(Participation).where(Participation.user_id == rider_id))
    assert p.state == State.WAITLISTED.value and core.waitlist_position(p) == 6
    from program.mail.models import OutboxMessage

    newest = db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert newest.subject.startswith("On the waitlist") and "(number 6)" in newest.text_body


def test_booking_again_does_not_read_the_history(make, now, login, count_queries, held_jobs):
    """Someone who booked and cancelled many times books again: the history is counted, not loaded."""
    ride = make.ride_along(seats=2)
    rider = make.marketer()
    for _ in range(5):
        p = core.book_seat(ride.id, rider, now)
        core.cancel_booking(p, rider, now)
    client = login(rider)
    ride_id = ride.id
    count, shown, statements = _book(client, ride_id, count_queries)
    print(f"booking again after 5 cancellations: {count} statements\n{shown}")
    # + 1 over a first booking: the invite's SEQUENCE counts the person's history rows (one COUNT, not a load)
    assert count <= 7, f"{count} statements:\n{shown}"
    history_reads = [s for s in statements if s.startswith("SELECT") and "FROM participation_event" in s]
    assert all("count(" in s for s in history_reads), shown
    assert "You're booked" in _flashed(client)


def test_a_refused_booking_goes_back_to_the_page(make, now, login):
    ride = make.ride_along(seats=2)
    rider = make.marketer()
    core.book_seat(ride.id, rider, now)
    client = login(rider)
    response = client.post(f"/activities/{ride.id}/book")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/ride-alongs/{ride.id}")
    assert "You already have a seat" in _flashed(client)
