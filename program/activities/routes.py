"""Participation actions shared by every kind: book, cancel, waitlist, offers, attendance; My schedule."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from program.accounts.models import User
from program.activities import queries
from program.activities import services as core
from program.activities.forms import AttendanceForm, MoveUpForm, OfferAnswerForm
from program.activities.kinds import has_own_attendance, is_bookable, kind_endpoint, kind_info, summary_for
from program.activities.mail import read_offer_token
from program.activities.models import Activity, Participation, State
from program.activities.permissions import can_mark_attendance
from program.errors import DomainError, NotFound
from program.extensions import db
from program.timeutil import utcnow
from program.web import ConfirmForm, page_args, run_post

bp = Blueprint("activities", __name__)


def _activity_or_404(activity_id: int, *, bookable: bool = True) -> Activity:
    """The activity, if these shared seat actions apply to its kind (ride-alongs); else 404. Shadow days and
    meetings have their own pages and rules for taking part."""
    activity = db.session.get(Activity, activity_id)
    if activity is None or (bookable and not is_bookable(activity)) or (not bookable and has_own_attendance(activity)):
        abort(404)
    return activity


def _back(activity: Activity):
    return redirect(url_for(kind_info(activity).endpoint, activity_id=activity.id))


def _own_participation(activity: Activity) -> Participation:
    p = core.find_participation(activity.id, current_user.id)
    if p is None:
        abort(404)
    return p


def _answer(action, success) -> None:
    """``run_post`` for the seat actions, with two refusals of their own: a lapsed offer is refused only after
    the lapse was recorded and the seat offered on (that work stands: it is committed), and a link to a settled
    offer is refused by the page it returns to, which says why (so no message here)."""
    refused: list[DomainError] = []

    def attempt():
        try:
            return action()
        except (core.OfferLapsed, core.StaleOfferLink) as exc:
            refused.append(exc)
            return None

    run_post(attempt, lambda result: None if refused else (success(result) if callable(success) else success))
    if refused and isinstance(refused[0], core.OfferLapsed):
        flash(refused[0].message, "error")


def _run(activity: Activity, action, success):
    """Run one service call, commit once, flash its outcome, go back to the activity page."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    _answer(action, success)
    return _back(activity)


@bp.route("/activities/<int:activity_id>/book", methods=["POST"])
@login_required
def book(activity_id: int):
    """The service locks and reads the activity itself (once): a missing activity, or a kind people don't book
    themselves, is 404. The message is made from the booking's plain values, so nothing is read after the commit."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    kind: list[str] = []

    def attempt() -> core.Booking:
        try:
            booking = core.book_place(activity_id, current_user, utcnow())
        except (NotFound, core.NotBookable):
            abort(404)
        kind.append(booking.activity_kind)
        return booking

    def message(booking: core.Booking) -> str:
        if booking.state == State.BOOKED.value:
            return "You're booked. The invitation is on its way to your inbox."
        return f"The call is full; you're number {booking.position} on the waitlist."

    _answer(attempt, message)
    if kind:
        return redirect(url_for(kind_endpoint(kind[0]), activity_id=activity_id))
    return _back(_activity_or_404(activity_id))  # refused: the transaction was rolled back


@bp.route("/activities/<int:activity_id>/cancel-booking", methods=["POST"])
@login_required
def cancel_booking(activity_id: int):
    activity = _activity_or_404(activity_id)
    p = _own_participation(activity)
    was = p.state
    text = (
        "You left the waitlist."
        if was == State.WAITLISTED.value
        else "Your seat is cancelled; the calendar entry is withdrawn."
    )
    return _run(activity, lambda: core.cancel_booking(p, current_user, utcnow()), text)


@bp.route("/activities/<int:activity_id>/accept", methods=["POST"])
@login_required
def accept(activity_id: int):
    activity = _activity_or_404(activity_id)
    p = _own_participation(activity)
    return _run(
        activity,
        lambda: core.accept_offer(p, current_user, utcnow()),
        "The seat is yours. The invitation is on its way.",
    )


@bp.route("/activities/<int:activity_id>/decline", methods=["POST"])
@login_required
def decline(activity_id: int):
    activity = _activity_or_404(activity_id)
    p = _own_participation(activity)
    return _run(
        activity,
        lambda: core.decline_offer(p, current_user, utcnow()),
        "You declined; the seat goes to the next person waiting.",
    )


def _participation_in(activity: Activity, participation_id: int) -> Participation:
    p = db.session.get(Participation, participation_id)
    if p is None or p.activity_id != activity.id:
        abort(404)
    return p


@bp.route("/activities/<int:activity_id>/attendance/<int:participation_id>", methods=["POST"])
@login_required
def attendance(activity_id: int, participation_id: int):
    activity = _activity_or_404(activity_id, bookable=False)
    p = _participation_in(activity, participation_id)
    if not can_mark_attendance(current_user, p):
        abort(404)
    form = AttendanceForm()
    if not form.validate_on_submit():
        abort(400)
    run_post(
        lambda: core.mark_attendance(p, current_user, form.outcome.data == "attended", utcnow()),
        lambda _: f"{p.user.name}: {State(p.state).label.lower()}.",
    )
    return _back(activity)


@bp.route("/activities/<int:activity_id>/waitlist/<int:participation_id>/move-up", methods=["POST"])
@login_required
def move_up(activity_id: int, participation_id: int):
    activity = _activity_or_404(activity_id)
    if current_user.role != "admin":
        abort(404)
    p = _participation_in(activity, participation_id)
    form = MoveUpForm()
    if not form.validate_on_submit():
        refused = form.unstorable and form.reason.errors  # e.g. a NUL byte: say so, not that it is missing
        flash(form.reason.errors[0] if refused else "Give a reason for moving someone up the waitlist.", "error")
        return _back(activity)
    run_post(
        lambda: core.move_up_waitlist(p, current_user, form.reason.data, utcnow()),
        lambda _: f"{p.user.name} is now first on the waitlist.",
    )
    return _back(activity)


@bp.route("/offers/<token>", methods=["GET", "POST"])
def offer(token: str):
    """The one-click link in an offer email: the signed token names the participation, its person and the
    offer it answers; once that offer is settled (accepted, declined, lapsed or followed by a newer one) the
    link answers nothing."""
    found = read_offer_token(token)
    p = db.session.get(Participation, found[0]) if found else None
    if p is None or p.user_id != found[1] or not p.user.active:
        abort(404)
    offer_id = found[2]
    person: User = p.user
    activity = p.activity
    form = OfferAnswerForm()
    if form.validate_on_submit():
        if form.answer.data == "accept":
            _answer(
                lambda: core.accept_offer(p, person, utcnow(), offer_id=offer_id),
                "The seat is yours. The invitation is on its way.",
            )
        else:
            _answer(
                lambda: core.decline_offer(p, person, utcnow(), offer_id=offer_id),
                "You declined; the seat goes to the next person waiting.",
            )
        return redirect(url_for("activities.offer", token=token))
    this_offer = core.current_offer_id(p) == offer_id
    return render_template(
        "activities/offer.html",
        p=p,
        activity=activity,
        summary=summary_for(activity, person),
        open_offer=this_offer and p.offer_expires_at and p.offer_expires_at > utcnow(),
        stale_link=p.state == State.OFFERED.value and not this_offer and core.STALE_OFFER_LINK,
        page_url=url_for(kind_info(activity).endpoint, activity_id=activity.id),
    )


@bp.route("/schedule")
@login_required
def schedule():
    """My schedule: what I booked, wait for, was offered, and host — upcoming first, then past."""
    now = utcnow()
    show = request.args.get("show", "upcoming")
    page, per_page = page_args(20)
    pagination, hosted_page = queries.schedule(
        current_user,
        now,
        past=show == "past",
        page=page,
        hosted_page=request.args.get("hpage", 1, type=int),
        per_page=per_page,
    )
    items = [(p, summary_for(p.activity, current_user)) for p in pagination.items]
    hosted_items = [(a, summary_for(a, current_user)) for a in hosted_page.items]
    return render_template(
        "activities/schedule.html",
        pagination=pagination,
        items=items,
        hosted_page=hosted_page,
        hosted_items=hosted_items,
        show=show,
        now=now,
        endpoint_for=lambda a: kind_info(a).endpoint,
        State=State,
    )
