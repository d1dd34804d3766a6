"""Ride-along pages: browse, offer, view, edit, cancel."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from program.activities import services as core
from program.activities.models import Activity, ActivityKind, ActivityStatus, Participation, State
from program.activities.permissions import can_manage_activity, can_mark_attendance, can_see_participants
from program.errors import DomainError
from program.extensions import db
from program.filters import viewer_timezone
from program.formutil import options
from program.rides import services
from program.rides.forms import CallForm, CancelActivityForm
from program.rides.models import CALL_TYPES, FUNNEL_STAGES, SEGMENTS, RideAlongCall
from program.timeutil import UTC, utcnow
from program.web import page_args, save_form

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
    tz = ZoneInfo(viewer_timezone())
    f = {
        "segment": request.args.get("segment", ""),
        "stage": request.args.get("stage", ""),
        "call_type": request.args.get("call_type", ""),
        "rep": request.args.get("rep", type=int),
        "from": request.args.get("from", ""),
        "to": request.args.get("to", ""),
        "free": request.args.get("free", ""),
        "show": request.args.get("show", "upcoming"),
    }
    stmt = (
        select(Activity)
        .join(RideAlongCall, RideAlongCall.activity_id == Activity.id)
        .options(joinedload(Activity.host))
        .where(Activity.kind == ActivityKind.RIDE_ALONG.value)
    )
    if f["segment"]:
        stmt = stmt.where(RideAlongCall.segment == f["segment"])
    if f["stage"]:
        stmt = stmt.where(RideAlongCall.funnel_stage == f["stage"])
    if f["call_type"]:
        stmt = stmt.where(RideAlongCall.call_type == f["call_type"])
    if f["rep"]:
        stmt = stmt.where(Activity.host_id == f["rep"])
    day_from, day_to = _parse_day(f["from"]), _parse_day(f["to"])
    if day_from:
        stmt = stmt.where(Activity.starts_at >= datetime.combine(day_from, time(0), tz).astimezone(UTC))
    if day_to:
        stmt = stmt.where(Activity.starts_at < datetime.combine(day_to + timedelta(days=1), time(0), tz).astimezone(UTC))
    if f["show"] == "past":
        stmt = stmt.where(Activity.starts_at < now).order_by(Activity.starts_at.desc(), Activity.id.desc())
    else:
        stmt = stmt.where(Activity.starts_at >= now, Activity.status == ActivityStatus.SCHEDULED.value)
        if f["free"]:
            taken = (
                select(db.func.count(Participation.id))
                .where(Participation.activity_id == Activity.id, core._seat_taken_clause(now))
                .scalar_subquery()
            )
            stmt = stmt.where(taken < Activity.seats)
        stmt = stmt.order_by(Activity.starts_at, Activity.id)
    pagination = db.paginate(stmt, page=page, per_page=per_page, error_out=False)
    ids = [a.id for a in pagination.items]
    counts = core.seat_counts(ids, now)
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
        reps=services.hosts_with_calls(),
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
    counts = core.seat_counts([activity.id], now)[activity.id]
    manage = can_manage_activity(current_user, activity)
    participants = []
    if can_see_participants(current_user, activity):
        participants = list(
            db.session.scalars(
                select(Participation)
                .options(joinedload(Participation.user))
                .where(Participation.activity_id == activity.id)
                .order_by(Participation.waitlist_rank.is_(None), Participation.waitlist_rank, Participation.id)
            )
        )
    markable = {p.id for p in participants if can_mark_attendance(current_user, p)} if activity.has_started(now) else set()
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
    try:
        affected = core.cancel_activity(activity, current_user, form.reason.data or "", utcnow())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(f"The call is cancelled; {len(affected)} rider(s) and waiting people were told.", "success")
    return redirect(url_for("rides.detail", activity_id=activity_id))
