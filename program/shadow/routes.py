"""Shadow-day pages: my pairings (all, for HR), propose, the pairing page with both days and debriefs."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from program.accounts import services as accounts
from program.accounts.models import Role, User
from program.activities.models import Activity, ActivityKind, State
from program.activities.permissions import can_mark_attendance
from program.errors import DomainError, NotAllowed
from program.extensions import db
from program.filters import viewer_timezone
from program.formutil import options
from program.shadow import queries, services
from program.shadow.forms import (
    AgendaForm,
    AnswerForm,
    CancelPairingForm,
    DateAnswerForm,
    DateChangeForm,
    FollowUpForm,
    ProposeForm,
)
from program.shadow.models import DateChange, FollowUp, PairingStatus, ShadowPairing
from program.shadow.permissions import can_propose, can_view_pairing
from program.timeutil import UTC, utcnow
from program.validation import refuse_unstorable
from program.web import apply_errors, page_args, run_post, save_form

bp = Blueprint("shadow", __name__, url_prefix="/shadow-days")


def _quarter_bounds(token: str) -> tuple[datetime, datetime] | None:
    try:
        year, q = token.split("-Q")
        year, q = int(year), int(q)
        if not 1 <= q <= 4:
            return None
    except ValueError:
        return None
    tz = ZoneInfo(viewer_timezone())
    start = datetime(year, 3 * q - 2, 1, tzinfo=tz)
    end = datetime(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


@bp.route("/")
@login_required
def index():
    """My pairings; HR and admins see every pairing, filterable by status, quarter and department."""
    page, per_page = page_args(20)
    f = {
        "status": request.args.get("status", ""),
        "quarter": request.args.get("quarter", ""),
        "department": request.args.get("department", type=int),
    }
    pagination = queries.pairings_page(
        current_user,
        queries.PairingFilter(
            status=f["status"],
            proposed_between=_quarter_bounds(f["quarter"]) if f["quarter"] else None,
            department=f["department"],
        ),
        page,
        per_page,
    )
    suggestions = []
    if current_user.role == Role.LEADER.value and current_user.function in ("sales", "marketing"):
        suggestions = services.suggest_partners(current_user, utcnow())[:5]
    return render_template(
        "shadow/index.html",
        pagination=pagination,
        f=f,
        statuses=list(PairingStatus),
        departments=accounts.departments(),
        suggestions=suggestions,
        can_propose=can_propose(current_user),
        everyone=current_user.role in (Role.HR.value, Role.ADMIN.value),
        repeat_months=services.repeat_months(),
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    if not can_propose(current_user):
        abort(404)
    now = utcnow()
    form = ProposeForm()
    sales, marketing = queries.leaders("sales"), queries.leaders("marketing")
    if current_user.role == Role.LEADER.value:
        suggested = {u.id for u, _ in services.suggest_partners(current_user, now)}
        if current_user.function == "sales":
            sales = [current_user]
            marketing = sorted(marketing, key=lambda u: (u.id not in suggested, u.name))
        else:
            marketing = [current_user]
            sales = sorted(sales, key=lambda u: (u.id not in suggested, u.name))
    else:
        suggested = set()
    form.sales_leader_id.choices = options(
        [("", "—")] + [(u.id, u.name + (" (suggested)" if u.id in suggested else "")) for u in sales]
    )
    form.marketing_leader_id.choices = options(
        [("", "—")] + [(u.id, u.name + (" (suggested)" if u.id in suggested else "")) for u in marketing]
    )
    if request.method == "GET":
        partner = request.args.get("partner", type=int)
        if current_user.function == "sales":
            form.sales_leader_id.data, form.marketing_leader_id.data = current_user.id, partner
        elif current_user.function == "marketing":
            form.marketing_leader_id.data, form.sales_leader_id.data = current_user.id, partner
    if form.is_submitted():
        saved, pairing = save_form(
            form,
            lambda: services.propose_pairing(
                current_user,
                db.session.get(User, form.sales_leader_id.data) if form.sales_leader_id.data else None,
                db.session.get(User, form.marketing_leader_id.data) if form.marketing_leader_id.data else None,
                form.sales_day.data,
                form.marketing_day.data,
                now,
                form.note.data or "",
            ),
        )
        if saved:
            flash("Proposal sent. The partner has 7 days to answer.", "success")
            return redirect(url_for("shadow.pairing", pairing_id=pairing.id))
    return render_template("shadow/new.html", form=form), (422 if form.errors else 200)


def _pairing_or_404(pairing_id: int) -> ShadowPairing:
    pairing = db.session.get(ShadowPairing, pairing_id)
    if pairing is None or not can_view_pairing(current_user, pairing):
        abort(404)
    return pairing


@bp.route("/day/<int:activity_id>")
@login_required
def day(activity_id: int):
    activity = db.session.get(Activity, activity_id)
    if activity is None or activity.kind != ActivityKind.SHADOW_DAY.value:
        abort(404)
    pairing = _pairing_or_404(activity.shadow.pairing_id)
    return redirect(url_for("shadow.pairing", pairing_id=pairing.id, _anchor=f"day-{activity.id}"))


@bp.route("/<int:pairing_id>", methods=["GET"])
@login_required
def pairing(pairing_id: int, forms: dict | None = None):
    now = utcnow()
    pairing = _pairing_or_404(pairing_id)
    forms = forms or {}
    days = []
    for detail in queries.day_details(pairing):
        activity, visitor_p, follow_ups = detail.activity, detail.visitor_p, detail.follow_ups
        days.append(
            {
                "activity": activity,
                "visitor_p": visitor_p,
                "task": detail.task,
                "follow_ups": follow_ups,
                "pending": detail.pending,
                "agenda_form": forms.get(("agenda", activity.id)) or AgendaForm(agenda=activity.shadow.agenda),
                "date_form": forms.get(("date", activity.id)) or DateChangeForm(),
                "fu_forms": {
                    fu.id: forms.get(("fu", fu.id))
                    or FollowUpForm(
                        prefix=f"fu{fu.id}",
                        status=fu.status,
                        done_on=fu.done_on,
                        evidence=fu.evidence,
                        drop_reason=fu.drop_reason,
                    )
                    for fu in follow_ups
                },
                "can_mark": bool(
                    visitor_p and can_mark_attendance(current_user, visitor_p) and activity.has_started(now)
                ),
            }
        )
    my_answer_pending = pairing.status == PairingStatus.PROPOSED.value and (
        (current_user.id == pairing.sales_leader_id and pairing.sales_answer == "pending")
        or (current_user.id == pairing.marketing_leader_id and pairing.marketing_answer == "pending")
    )
    return render_template(
        "shadow/pairing.html",
        pairing=pairing,
        days=days,
        now=now,
        State=State,
        answer_form=forms.get("answer") or AnswerForm(),
        cancel_form=CancelPairingForm(),
        my_answer_pending=my_answer_pending,
        is_leader=current_user.id in (pairing.sales_leader_id, pairing.marketing_leader_id),
        can_cancel=pairing.status in ("proposed", "accepted")
        and (
            current_user.id in (pairing.sales_leader_id, pairing.marketing_leader_id)
            or current_user.role in ("hr", "admin")
        ),
    ), (422 if forms else 200)


def _done(pairing: ShadowPairing, message: str, anchor: str | None = None):
    """After a saved change (committed): say so, back to the pairing page."""
    flash(message, "success")
    return redirect(url_for("shadow.pairing", pairing_id=pairing.id, _anchor=anchor))


def _or_404(action):
    """``action``, with a refusal (NotAllowed) answered as 404: the thing is not the viewer's to change."""

    def run():
        try:
            return action()
        except NotAllowed:
            abort(404)

    return run


@bp.route("/<int:pairing_id>/answer", methods=["POST"])
@login_required
def answer(pairing_id: int):
    pairing = _pairing_or_404(pairing_id)
    form = AnswerForm()
    if not form.validate_on_submit():
        abort(400)
    saved, _ = save_form(
        form,
        lambda: services.answer_pairing(
            pairing, current_user, form.answer.data == "accept", form.reason.data or "", utcnow()
        ),
        default_field="reason",
    )
    if not saved:
        return pairing_view_with({"answer": form}, pairing_id)
    text = "You accepted." if form.answer.data == "accept" else "You declined; the proposer is told why."
    if pairing.status == PairingStatus.ACCEPTED.value:
        text = "Both accepted: the two days are scheduled and invitations are on their way."
    return _done(pairing, text)


def pairing_view_with(forms: dict, pairing_id: int):
    flash("Please correct the marked fields.", "error")
    return pairing(pairing_id, forms=forms)


def _day_of(pairing: ShadowPairing, activity_id: int) -> Activity:
    for day in pairing.days:
        if day.id == activity_id:
            return day
    abort(404)


@bp.route("/<int:pairing_id>/days/<int:activity_id>/agenda", methods=["POST"])
@login_required
def agenda(pairing_id: int, activity_id: int):
    pairing = _pairing_or_404(pairing_id)
    day = _day_of(pairing, activity_id)
    form = AgendaForm()
    if not form.validate_on_submit():
        return pairing_view_with({("agenda", day.id): form}, pairing_id)
    saved, _ = save_form(
        form,
        _or_404(lambda: services.set_agenda(day, current_user, form.agenda.data or "", utcnow())),
        default_field="agenda",
    )
    if not saved:
        return pairing_view_with({("agenda", day.id): form}, pairing_id)
    return _done(pairing, "Agenda saved.", f"day-{day.id}")


@bp.route("/<int:pairing_id>/days/<int:activity_id>/date", methods=["POST"])
@login_required
def propose_date(pairing_id: int, activity_id: int):
    pairing = _pairing_or_404(pairing_id)
    day = _day_of(pairing, activity_id)
    form = DateChangeForm()

    def propose():
        if form.errors:  # no date, or not a date: the field says so, and the day is not looked at
            raise DomainError("Choose a date.", field="new_date")
        return services.propose_date_change(day, current_user, form.new_date.data, utcnow())

    saved, _ = save_form(form, propose, default_field="new_date")
    if not saved:
        return pairing_view_with({("date", day.id): form}, pairing_id)
    return _done(pairing, "New date proposed; the other leader confirms it.", f"day-{day.id}")


@bp.route("/<int:pairing_id>/date-changes/<int:change_id>", methods=["POST"])
@login_required
def answer_date(pairing_id: int, change_id: int):
    pairing = _pairing_or_404(pairing_id)
    change = db.session.get(DateChange, change_id)
    if change is None or change.activity_id not in {d.id for d in pairing.days}:
        abort(404)
    form = DateAnswerForm()
    if not form.validate_on_submit():
        abort(400)
    done, _ = run_post(
        lambda: services.answer_date_change(change, current_user, form.answer.data == "confirm", utcnow()),
        lambda answered: (
            "Date confirmed; updated invitations are on their way."
            if answered.status == "confirmed"
            else "Date change rejected."
        ),
    )
    return redirect(
        url_for("shadow.pairing", pairing_id=pairing.id, _anchor=f"day-{change.activity_id}" if done else None)
    )


@bp.route("/<int:pairing_id>/follow-ups/<int:follow_up_id>", methods=["POST"])
@login_required
def follow_up(pairing_id: int, follow_up_id: int):
    pairing = _pairing_or_404(pairing_id)
    fu = db.session.get(FollowUp, follow_up_id)
    if fu is None or fu.participation.activity_id not in {d.id for d in pairing.days} or fu.user_id != current_user.id:
        abort(404)
    form = FollowUpForm(prefix=f"fu{fu.id}")
    form.validate_on_submit()
    # Not save_form: only the date's own error stops the update; the service checks the rest.
    try:
        refuse_unstorable(form)
        if form.done_on.errors:
            raise DomainError("Give the date as YYYY-MM-DD.", field="done_on")
        services.update_follow_up(
            fu,
            current_user,
            form.status.data,
            form.done_on.data,
            form.evidence.data or "",
            form.drop_reason.data or "",
            utcnow(),
        )
    except DomainError as exc:
        db.session.rollback()
        apply_errors(form, exc)
        return pairing_view_with({("fu", fu.id): form}, pairing_id)
    db.session.commit()
    return _done(pairing, f"Follow-up {fu.status}.", f"fu-{fu.id}")


@bp.route("/<int:pairing_id>/cancel", methods=["POST"])
@login_required
def cancel(pairing_id: int):
    pairing = _pairing_or_404(pairing_id)
    form = CancelPairingForm()
    if not form.validate_on_submit():
        abort(400)
    run_post(
        _or_404(lambda: services.cancel_pairing(pairing, current_user, form.reason.data or "", utcnow())),
        "The pairing is cancelled; both leaders are told.",
    )
    return redirect(url_for("shadow.pairing", pairing_id=pairing.id))
