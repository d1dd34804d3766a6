"""The seat rules every kind of activity shares: book, waitlist, offer, accept, cancel, attendance.

Every state change goes through ``transition`` (history row + denormalised state in one transaction),
fires ``participation_changed`` (the core's mail subscribes) and calls the kind's ``on_transition`` hook.
Seat counts are protected by a row lock on the activity (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's
write lock), taken before the seats are counted. Reads for pages are in ``queries``; entered times in ``times``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, case, exists, func, select, text
from sqlalchemy.orm import aliased, joinedload

from program.accounts.models import Role, User
from program.activities.kinds import is_bookable, kind_activity_changed, kind_transitioned
from program.activities.models import (
    SEAT_HOLDING,
    Activity,
    ActivityStatus,
    Participation,
    ParticipationEvent,
    State,
)
from program.activities.permissions import can_manage_activity, can_mark_attendance
from program.activities.signals import activity_changed, participation_changed
from program.errors import DomainError, InvalidTransition, NotAllowed, NotFound
from program.extensions import db

OFFER_HOLD = timedelta(hours=24)


class SeatUnavailable(DomainError):
    pass


class NotBookable(SeatUnavailable):
    """The activity's kind is not booked by people themselves (they take part by invitation or pairing)."""


class OfferLapsed(InvalidTransition):
    """Refuses an acceptance that came too late. By then the lapse is recorded and the seat offered to the
    next person waiting: the caller commits that work and shows the refusal (it must not roll back)."""


class StaleOfferLink(InvalidTransition):
    """An emailed link answers one offer; this one's offer is settled and a newer offer is open."""


STALE_OFFER_LINK = (
    "This link was for an earlier offer, which is settled. Use the link in your newest offer email, "
    "or sign in and answer on the activity page."
)


# --- locking and counting ----------------------------------------------------------------------


def _take_row_lock(activity_id: int) -> bool:
    """Take the activity's row lock for the rest of the transaction, in one statement; False if there is no
    such activity. Whatever is read after it sees every booking committed before it."""
    if db.session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks: a no-op write takes the database's write lock (waiting up to busy_timeout).
        result = db.session.execute(text("UPDATE activity SET id = id WHERE id = :id"), {"id": activity_id})
        return result.rowcount == 1
    return (
        db.session.execute(select(Activity.id).where(Activity.id == activity_id).with_for_update()).first() is not None
    )


def lock_activity(activity_id: int) -> Activity:
    """Take the activity's row lock for the rest of the transaction and return it, fresh from the DB."""
    if db.session.get_bind().dialect.name == "sqlite":
        _take_row_lock(activity_id)
        stmt = select(Activity).where(Activity.id == activity_id)
    else:
        stmt = select(Activity).where(Activity.id == activity_id).with_for_update(of=Activity)
    activity = db.session.execute(stmt.execution_options(populate_existing=True)).scalar_one_or_none()
    if activity is None:
        raise DomainError("This activity no longer exists.")
    return activity


def seat_taken_clause(now: datetime, p=Participation):
    """``p`` (Participation or an alias of it) holds a seat: booked, or offered and the offer still open."""
    return (p.state == State.BOOKED.value) | ((p.state == State.OFFERED.value) & (p.offer_expires_at > now))


def taken_seats(activity_id: int, now: datetime) -> int:
    return db.session.scalar(
        select(func.count(Participation.id)).where(Participation.activity_id == activity_id, seat_taken_clause(now))
    )


def waiting_list(activity_id: int) -> list[Participation]:
    return list(
        db.session.scalars(
            select(Participation)
            .where(Participation.activity_id == activity_id, Participation.state == State.WAITLISTED.value)
            .order_by(Participation.waitlist_rank, Participation.id)
        )
    )


def find_participation(activity_id: int, user_id: int) -> Participation | None:
    return db.session.scalar(
        select(Participation).where(Participation.activity_id == activity_id, Participation.user_id == user_id)
    )


# --- the ladder ------------------------------------------------------------------------------


def transition(
    p: Participation, to: State, actor: User | None, now: datetime, note: str = "", *, position: int | None = None
) -> None:
    """Move a participation to a new state: append the history row and fire the signal.

    The row is appended without reading the history (``p.events`` stays unloaded if it was). ``position`` is
    the place on the waitlist when the caller already knows it (mail then needs no count of its own)."""
    old = p.state
    p.state = to.value
    p.state_changed_at = now
    if to != State.WAITLISTED:
        p.waitlist_rank = None
    if to != State.OFFERED:
        p.offer_expires_at = None
    db.session.add(
        ParticipationEvent(
            participation=p, actor_id=actor.id if actor else None, at=now, from_state=old, to_state=to.value, note=note
        )
    )
    db.session.flush()
    participation_changed.send(p, old_state=old, new_state=to.value, actor=actor, now=now, note=note, position=position)
    kind_transitioned(p, old_state=old, new_state=to.value, actor=actor, now=now, note=note)


def _participation_for(activity: Activity, user: User, now: datetime) -> Participation:
    """A new place (invited, the ladder's start), written by the flush of its first transition."""
    p = Participation(activity=activity, user=user, state=State.INVITED.value, state_changed_at=now, created_at=now)
    db.session.add(p)
    return p


def _check_bookable(activity: Activity, user: User, now: datetime) -> None:
    if not is_bookable(activity):
        raise NotBookable("This activity is by invitation; it can't be booked.")
    if activity.host_id == user.id:
        raise SeatUnavailable("You host this call; you can't book a seat on it.")
    if activity.is_cancelled:
        raise SeatUnavailable("This call was cancelled.")
    if activity.has_started(now):
        raise SeatUnavailable("This call has already started.")
    if now >= activity.booking_cutoff_at:
        raise SeatUnavailable("Booking for this call has closed (past its booking cutoff).")


def _check_no_overlap(activity: Activity, user: User) -> None:
    clash = db.session.scalar(
        select(Activity)
        .join(Participation, Participation.activity_id == Activity.id)
        .where(
            Participation.user_id == user.id,
            Participation.state.in_(SEAT_HOLDING),
            Activity.id != activity.id,
            Activity.status == ActivityStatus.SCHEDULED.value,
            Activity.starts_at < activity.ends_at,
            Activity.ends_at > activity.starts_at,
        )
        .limit(1)
    )
    if clash is not None:
        raise SeatUnavailable("This overlaps another booking of yours; cancel that one first.")


@dataclass(frozen=True)
class Booking:
    """What a booking did, as plain values: a page shows them after the commit without reading anything again."""

    participation: Participation
    activity_kind: str
    state: str
    position: int | None  # the place on the waitlist (1 = next in line); None when booked


@dataclass(frozen=True)
class _SeatView:
    activity: Activity
    mine: Participation | None
    taken: int
    waiting: int
    last_rank: float | None
    expired_offers: int
    clash: bool  # the person holds a seat on another scheduled activity at an overlapping time


def _seat_view(activity_id: int, user: User, now: datetime) -> _SeatView | None:
    """In one statement: the activity (with its host and kind detail), the person's place on it, its seat
    counts and whether the person is booked elsewhere at the same time. Call with the activity locked."""
    seat = aliased(Participation)
    counts = (
        select(
            seat.activity_id,
            func.sum(case((seat_taken_clause(now, seat), 1), else_=0)).label("taken"),
            func.sum(case((seat.state == State.WAITLISTED.value, 1), else_=0)).label("waiting"),
            func.max(case((seat.state == State.WAITLISTED.value, seat.waitlist_rank))).label("last_rank"),
            func.sum(case(((seat.state == State.OFFERED.value) & (seat.offer_expires_at <= now), 1), else_=0)).label(
                "expired"
            ),
        )
        .where(seat.activity_id == activity_id)
        .group_by(seat.activity_id)
        .subquery()
    )
    other, theirs = aliased(Activity), aliased(Participation)
    clash = (
        exists()
        .where(
            theirs.user_id == user.id,
            theirs.state.in_(SEAT_HOLDING),
            other.id == theirs.activity_id,
            other.id != Activity.id,
            other.status == ActivityStatus.SCHEDULED.value,
            other.starts_at < Activity.ends_at,
            other.ends_at > Activity.starts_at,
        )
        .correlate(Activity)
    )
    row = db.session.execute(
        select(Activity, Participation, counts.c.taken, counts.c.waiting, counts.c.last_rank, counts.c.expired, clash)
        .outerjoin(Participation, and_(Participation.activity_id == Activity.id, Participation.user_id == user.id))
        .outerjoin(counts, counts.c.activity_id == Activity.id)
        .options(joinedload(Activity.host))
        .where(Activity.id == activity_id)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if row is None:
        return None
    activity, mine, taken, waiting, last_rank, expired, clashes = row
    return _SeatView(activity, mine, int(taken or 0), int(waiting or 0), last_rank, int(expired or 0), bool(clashes))


def book_place(activity_id: int, user: User, now: datetime, *, join_waitlist: bool = True) -> Booking:
    """Book a seat, or join the waitlist when the call is full. Never overbooks, even under concurrency.

    The activity's row lock is taken first; then one statement reads the activity, the person's place and the
    seat counts (``_seat_view``), so a booking is a fixed, small number of statements. Raises ``NotFound`` for
    a missing activity and ``NotBookable`` for a kind people don't book themselves."""
    naive = current_app.config.get("TESTING_NAIVE_BOOKING", False)
    if not naive and not _take_row_lock(activity_id):
        raise NotFound("This activity no longer exists.")
    view = _seat_view(activity_id, user, now)
    if view is None:
        raise NotFound("This activity no longer exists.")
    activity = view.activity
    _check_bookable(activity, user, now)
    if view.expired_offers:  # rare: pass lapsed offers on first, then look again
        _expire_offers_locked(activity, now)
        view = _seat_view(activity_id, user, now)
    p = view.mine
    if p is not None and p.state in SEAT_HOLDING:
        raise SeatUnavailable("You already have a seat on this call.")
    if p is not None and p.state == State.WAITLISTED.value:
        raise SeatUnavailable("You are already on the waitlist for this call.")
    if view.clash:
        raise SeatUnavailable("This overlaps another booking of yours; cancel that one first.")
    free = (activity.seats or 0) - view.taken
    delay = current_app.config.get("TESTING_BOOKING_DELAY", 0)
    if delay:
        time.sleep(delay)  # test-only: widen the gap between counting and writing
    p = p or _participation_for(activity, user, now)
    if free > 0:
        transition(p, State.BOOKED, user, now)
        return Booking(p, activity.kind, State.BOOKED.value, None)
    if not join_waitlist:
        raise SeatUnavailable("Sorry, the last seat has just gone.")
    # Everyone waiting has a rank of at most ``last_rank``: the newcomer is behind all of them.
    p.waitlist_rank = (view.last_rank or 0) + 1
    position = view.waiting + 1
    transition(p, State.WAITLISTED, user, now, note="call full", position=position)
    return Booking(p, activity.kind, State.WAITLISTED.value, position)


def book_seat(activity_id: int, user: User, now: datetime, *, join_waitlist: bool = True) -> Participation:
    """``book_place`` for callers that want the participation only."""
    return book_place(activity_id, user, now, join_waitlist=join_waitlist).participation


def waitlist_position(p: Participation) -> int | None:
    if p.state != State.WAITLISTED.value:
        return None
    ahead = db.session.scalar(
        select(func.count(Participation.id)).where(
            Participation.activity_id == p.activity_id,
            Participation.state == State.WAITLISTED.value,
            (Participation.waitlist_rank < p.waitlist_rank)
            | and_(Participation.waitlist_rank == p.waitlist_rank, Participation.id < p.id),
        )
    )
    return ahead + 1


def offer_next(activity: Activity, now: datetime) -> list[Participation]:
    """Offer free seats to the people waiting, in order. Call with the activity locked.

    An offer holds the seat until the earlier of 24 hours or the booking cutoff. After the cutoff no
    offers are made: a freed seat simply shows as free.
    """
    offered: list[Participation] = []
    if activity.is_cancelled or now >= activity.booking_cutoff_at or activity.seats is None:
        return offered
    free = activity.seats - taken_seats(activity.id, now)
    for p in waiting_list(activity.id)[: max(free, 0)]:
        p.offer_expires_at = min(now + OFFER_HOLD, activity.booking_cutoff_at)  # before the mail that states it
        transition(p, State.OFFERED, None, now, note="a seat came free")
        offered.append(p)
    db.session.flush()
    return offered


def _expire_offers_locked(activity: Activity, now: datetime) -> int:
    expired = list(
        db.session.scalars(
            select(Participation).where(
                Participation.activity_id == activity.id,
                Participation.state == State.OFFERED.value,
                Participation.offer_expires_at <= now,
            )
        )
    )
    for p in expired:
        transition(p, State.DECLINED, None, now, note="offer expired")
    if expired:
        offer_next(activity, now)
    return len(expired)


def expire_offers(now: datetime) -> int:
    """Pass every expired offer to the next person waiting (run from cron via send-reminders)."""
    activity_ids = set(
        db.session.scalars(
            select(Participation.activity_id).where(
                Participation.state == State.OFFERED.value, Participation.offer_expires_at <= now
            )
        )
    )
    total = 0
    for activity_id in sorted(activity_ids):
        total += _expire_offers_locked(lock_activity(activity_id), now)
    return total


def _own(p: Participation, actor: User) -> None:
    if p.user_id != actor.id:
        raise NotAllowed("That is someone else's place.")


def current_offer_id(p: Participation) -> int | None:
    """The open offer's identity: the id of the history row that made it (None when no offer is open).
    Each offer is a new row, so a link naming an earlier one no longer matches."""
    if p.state != State.OFFERED.value:
        return None
    return db.session.scalar(
        select(func.max(ParticipationEvent.id)).where(
            ParticipationEvent.participation_id == p.id, ParticipationEvent.to_state == State.OFFERED.value
        )
    )


def _check_offer_open(p: Participation, offer_id: int | None) -> None:
    """With the activity locked: the place holds an offer, and it is the one the link (if any) was for."""
    if p.state != State.OFFERED.value:
        raise InvalidTransition("This offer is no longer open.")
    if offer_id is not None and current_offer_id(p) != offer_id:
        raise StaleOfferLink(STALE_OFFER_LINK)


def accept_offer(p: Participation, actor: User, now: datetime, *, offer_id: int | None = None) -> Participation:
    """Take the offered seat. ``offer_id`` (from an emailed link) must name the open offer. A lapsed offer is
    passed on to the next person waiting, and ``OfferLapsed`` says so (commit before showing it)."""
    _own(p, actor)
    activity = lock_activity(p.activity_id)
    db.session.refresh(p)
    _check_offer_open(p, offer_id)
    if p.offer_expires_at is None or p.offer_expires_at <= now:
        _expire_offers_locked(activity, now)
        raise OfferLapsed("This offer has expired and passed to the next person waiting.")
    if activity.is_cancelled or activity.has_started(now):
        raise InvalidTransition("This call was cancelled or has started.")
    _check_no_overlap(activity, actor)
    transition(p, State.BOOKED, actor, now, note="accepted offer")
    return p


def decline_offer(p: Participation, actor: User, now: datetime, *, offer_id: int | None = None) -> Participation:
    _own(p, actor)
    activity = lock_activity(p.activity_id)
    db.session.refresh(p)
    _check_offer_open(p, offer_id)
    transition(p, State.DECLINED, actor, now, note="declined offer")
    offer_next(activity, now)
    return p


def cancel_booking(p: Participation, actor: User, now: datetime) -> Participation:
    """A rider gives up their seat (or leaves the waitlist). A freed seat goes to the waitlist."""
    _own(p, actor)
    activity = lock_activity(p.activity_id)
    db.session.refresh(p)
    if activity.has_started(now):
        raise InvalidTransition("The call has started; ask the host to mark you as not attending.")
    if p.state not in (State.BOOKED.value, State.OFFERED.value, State.WAITLISTED.value):
        raise InvalidTransition("You have no booking here to cancel.")
    late = now >= activity.booking_cutoff_at and p.state == State.BOOKED.value
    freed = p.state in SEAT_HOLDING
    note = "left the waitlist" if p.state == State.WAITLISTED.value else ("late cancellation" if late else "")
    transition(p, State.CANCELLED_BY_USER, actor, now, note=note)
    if freed:
        offer_next(activity, now)
    return p


def move_up_waitlist(p: Participation, actor: User, reason: str, now: datetime) -> Participation:
    """Admins may move someone to the front of the waitlist, only with a recorded reason."""
    if actor.role != Role.ADMIN.value:
        raise NotAllowed("Only an admin can reorder a waitlist.")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give a reason for moving this person up.", field="reason")
    lock_activity(p.activity_id)
    db.session.refresh(p)
    if p.state != State.WAITLISTED.value:
        raise InvalidTransition("This person is not on the waitlist.")
    first = db.session.scalar(
        select(func.min(Participation.waitlist_rank)).where(
            Participation.activity_id == p.activity_id, Participation.state == State.WAITLISTED.value
        )
    )
    rank = (first or 1) - 1
    transition(p, State.WAITLISTED, actor, now, note=f"moved to the front of the waitlist: {reason}")
    p.waitlist_rank = rank
    return p


def mark_attendance(p: Participation, actor: User, attended: bool, now: datetime) -> Participation:
    """After the start, the host (or the rider's leader, or an admin) marks attended or no-show."""
    if not can_mark_attendance(actor, p):
        raise NotAllowed("You can't mark attendance for this person.")
    activity = p.activity
    if not activity.has_started(now):
        raise InvalidTransition("Attendance can be marked once the activity has started.")
    if activity.is_cancelled:
        raise InvalidTransition("This activity was cancelled.")
    if p.state not in (State.BOOKED.value, State.ATTENDED.value, State.NO_SHOW.value):
        raise InvalidTransition("Only booked participants can be marked.")
    target = State.ATTENDED if attended else State.NO_SHOW
    if p.state != target.value:
        transition(p, target, actor, now)
    return p


def cancel_activity(
    activity: Activity, actor: User, reason: str, now: datetime, *, permitted: bool = False
) -> list[Participation]:
    """The host cancels: every live participation is cancelled by host; a late cancellation is recorded.

    ``permitted`` is for kinds whose own rule already allowed ``actor`` (e.g. either shadow-day leader)."""
    if not permitted and not can_manage_activity(actor, activity):
        raise NotAllowed("You can't cancel this activity.")
    activity = lock_activity(activity.id)
    if activity.is_cancelled:
        raise InvalidTransition("This activity is already cancelled.")
    if activity.has_started(now):
        raise InvalidTransition("This activity has already started.")
    late = now >= activity.booking_cutoff_at
    activity.status = ActivityStatus.CANCELLED.value
    activity.cancelled_at = now
    activity.cancel_reason = (reason or "").strip()
    activity.late_cancellation = late
    activity.ical_sequence += 1
    affected = [
        p
        for p in activity.participations
        if p.state in (State.BOOKED.value, State.OFFERED.value, State.WAITLISTED.value, State.INVITED.value)
    ]
    note = ("late cancellation by host" if late else "cancelled by host") + (
        f": {activity.cancel_reason}" if activity.cancel_reason else ""
    )
    for p in affected:
        transition(p, State.CANCELLED_BY_HOST, actor, now, note=note)
    activity_changed.send(activity, change="cancelled", actor=actor, now=now, affected=affected)
    kind_activity_changed(activity, change="cancelled", actor=actor, now=now, affected=affected)
    return affected


def reschedule_or_update(
    activity: Activity, actor: User, now: datetime, *, time_changed: bool, place_changed: bool
) -> None:
    """After a host edits an activity: bump SEQUENCE and tell riders when what they'd notice changed."""
    if time_changed or place_changed:
        activity.ical_sequence += 1
        riders = [p for p in activity.participations if p.state in SEAT_HOLDING]
        change = "rescheduled" if time_changed else "updated"
        activity_changed.send(activity, change=change, actor=actor, now=now, affected=riders)
        kind_activity_changed(activity, change=change, actor=actor, now=now, affected=riders)


def seats_changed(activity: Activity, now: datetime) -> list[Participation]:
    """After seats were added, offer the new seats to the waitlist."""
    locked = lock_activity(activity.id)
    return offer_next(locked, now)


def release_places(person: User, actor: User | None, now: datetime, **_) -> None:
    """A person who leaves (is deactivated) gives up their upcoming seats, offers and waitlist places (seats go
    to the next person waiting); their history stays. Subscribed to ``accounts.signals.person_deactivated``."""
    places = db.session.scalars(
        select(Participation)
        .join(Activity)
        .where(
            Participation.user_id == person.id,
            Participation.state.in_([State.BOOKED.value, State.OFFERED.value, State.WAITLISTED.value]),
            Activity.starts_at > now,
        )
    ).all()
    for p in places:
        activity = lock_activity(p.activity_id)
        freed = p.state in (State.BOOKED.value, State.OFFERED.value)
        transition(p, State.CANCELLED_BY_USER, actor, now, note="deactivated")
        if freed:
            offer_next(activity, now)
