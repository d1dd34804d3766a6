"""Ride-along pages: browse, offer, view, edit, cancel."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from program.activities import queries
from program.activities import services as core
from program.activities.models import Activity, ActivityKind, State
from program.activities.permissions import can_manage_activity, can_mark_attendance, can_see_participants
from program.extensions import db
from program.filters import viewer_timezone
from program.formutil import options
from program.rides import services
from program.rides.forms import CallForm, CancelActivityForm
from program.rides.models import CALL_TYPES, FUNNEL_STAGES, SEGMENTS
from program.timeutil import utcnow
from program.web import page_args, run_post, save_form

bp = Blueprint("rides", __name__, url_prefix="/ride-alongs")


def _parse_day(value: str | None):
    try:
        return datetime.strptime(value, "%Y-%m-%d").date() if value else None
    except ValueError:
        return None


@bp.route("/")
@login_required
def index():
    now = utcnow()
    page, per_page = page_args(20)
    f = {
        "segment": request.args.get("segment", ""),
        "stage": request.args.get("stage", ""),
        "call_type": request.args.get("call_type", ""),
        "rep": (request.args.get("rep") or "").strip()[:120],
        "from": request.args.get("from", ""),
        "to": request.args.get("to", ""),
        "free": request.args.get("free", ""),
        "show": request.args.get("show", "upcoming"),
    }
    pagination = services.browse_calls(
        services.CallFilter(
            segment=f["segment"],
            stage=f["stage"],
            call_type=f["call_type"],
            rep=f["rep"],
            day_from=_parse_day(f["from"]),
            day_to=_parse_day(f["to"]),
            free_only=bool(f["free"]),
            past=f["show"] == "past",
        ),
        viewer_timezone(),
        now,
        page,
        per_page,
    )
    ids = [a.id for a in pagination.items]
    counts = queries.seat_counts(ids, now)
    mine = services.participations_for(current_user, ids)
    reveal = {a.id: services.reveals_account(a, current_user, mine.get(a.id)) for a in pagination.items}
    return render_template(
        "rides/index.html",
        pagination=pagination,
        counts=counts,
        mine=mine,
        reveal=reveal,
        f=f,
        segments=SEGMENTS,
        stages=FUNNEL_STAGES,
        call_types=CALL_TYPES,
        now=now,
        can_offer=services.can_offer_calls(current_user),
    )


def _fill(form: CallForm) -> None:
    hosts = services.hosts_actor_may_offer_for(current_user)
    form.host_id.choices = options([(h.id, h.name) for h in hosts])


def _data(form: CallForm) -> services.CallData:
    return services.CallData(
        host_id=form.host_id.data,
        account_name=form.account_name.data or "",
        segment=form.segment.data or "",
        funnel_stage=form.funnel_stage.data or "",
        call_type=form.call_type.data or "",
        day=form.day.data,
        start=form.start.data,
        end=form.end.data,
        timezone=form.timezone.data,
        location=form.location.data or "",
        video_url=form.video_url.data or "",
        seats=form.seats.data,
        cutoff_hours=form.cutoff_hours.data,
        briefing=form.briefing.data or "",
        hide_account=bool(form.hide_account.data),
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    if not services.can_offer_calls(current_user):
        abort(404)
    form = CallForm()
    _fill(form)
    if request.method == "GET":
        form.timezone.data = current_user.timezone
        form.host_id.data = current_user.id
    if form.is_submitted():
        saved, activity = save_form(form, lambda: services.offer_call(current_user, _data(form), utcnow()))
        if saved:
            flash("Your call is offered. Marketing colleagues can book it now.", "success")
            return redirect(url_for("rides.detail", activity_id=activity.id))
    return render_template("rides/form.html", form=form, activity=None), (200 if not form.errors else 422)


def _ride_or_404(activity_id: int) -> Activity:
    activity = db.session.get(Activity, activity_id)
    if activity is None or activity.kind != ActivityKind.RIDE_ALONG.value:
        abort(404)
    return activity


@bp.route("/<int:activity_id>")
@login_required
def detail(activity_id: int):
    now = utcnow()
    activity = _ride_or_404(activity_id)
    mine = core.find_participation(activity.id, current_user.id)
    counts = queries.seat_counts([activity.id], now)[activity.id]
    manage = can_manage_activity(current_user, activity)
    participants = []
    if can_see_participants(current_user, activity):
        participants = queries.participants(activity.id)
    markable = (
        {p.id for p in participants if can_mark_attendance(current_user, p)} if activity.has_started(now) else set()
    )
    return render_template(
        "rides/detail.html",
        activity=activity,
        ride=activity.ride,
        mine=mine,
        position=core.waitlist_position(mine) if mine else None,
        counts=counts,
        seats_left=max((activity.seats or 0) - counts.taken, 0),
        manage=manage,
        participants=participants,
        markable=markable,
        reveal=services.reveals_account(activity, current_user),
        has_seat=mine is not None and mine.state in (State.BOOKED.value, State.ATTENDED.value, State.NO_SHOW.value),
        now=now,
        State=State,
        cancel_form=CancelActivityForm(),
        is_admin=current_user.role == "admin",
    )


@bp.route("/<int:activity_id>/edit", methods=["GET", "POST"])
@login_required
def edit(activity_id: int):
    activity = _ride_or_404(activity_id)
    if not can_manage_activity(current_user, activity):
        abort(404)
    now = utcnow()
    if activity.is_cancelled or activity.has_started(now):
        flash("This call can no longer be edited.", "warning")
        return redirect(url_for("rides.detail", activity_id=activity.id))
    form = CallForm(obj=services.call_data_from(activity) if request.method == "GET" else None)
    form.host_id.choices = options([(activity.host_id, activity.host.name)])
    form.host_id.data = activity.host_id
    if form.is_submitted():
        saved, _ = save_form(form, lambda: services.update_call(current_user, activity, _data(form), now))
        if saved:
            flash("The call is updated; riders were sent the change.", "success")
            return redirect(url_for("rides.detail", activity_id=activity.id))
    return render_template("rides/form.html", form=form, activity=activity), (200 if not form.errors else 422)


@bp.route("/<int:activity_id>/cancel", methods=["POST"])
@login_required
def cancel(activity_id: int):
    activity = _ride_or_404(activity_id)
    if not can_manage_activity(current_user, activity):
        abort(404)
    form = CancelActivityForm()
    if not form.validate_on_submit():
        abort(400)
    run_post(
        lambda: core.cancel_activity(activity, current_user, form.reason.data or "", utcnow()),
        lambda affected: f"The call is cancelled; {len(affected)} rider(s) and waiting people were told.",
    )
    return redirect(url_for("rides.detail", activity_id=activity_id))
