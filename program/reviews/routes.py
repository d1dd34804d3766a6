"""Review meeting pages: list, schedule, the meeting page (answers, attendance, notes, action items, lead
definitions), edit, cancel, invite more, the one-click answer link from the invitation, and the lead-definition
history. Thin: parse, call one service, commit once, flash, redirect."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload

import program.notify.meeting_mail as meeting_mail  # noqa: F401  (registers the meeting mail and reminder job)
from program.accounts.models import User
from program.activities import services as core
from program.activities.forms import ActionForm, AttendanceForm
from program.activities.models import Activity, ActivityKind, Participation, State
from program.errors import DomainError
from program.extensions import db
from program.formutil import options
from program.reviews import permissions as perms
from program.reviews import services
from program.reviews.forms import (
    ActionEditForm,
    ActionItemForm,
    ActionStatusForm,
    CancelMeetingForm,
    InviteForm,
    LeadDefinitionForm,
    MeetingForm,
    NewMeetingForm,
    NotesForm,
    RsvpForm,
)
from program.reviews.models import FORMAT_CHOICES, ActionStatus, LeadDefinition, MeetingFormat, RsvpAnswer
from program.timeutil import utcnow
from program.validation import refuse_unstorable
from program.web import apply_errors, page_args, save_form

bp = Blueprint("reviews", __name__, url_prefix="/meetings")

# Other parts of the review domain (the funnel numbers, mini-teams, ideas) add a panel to the meeting page:
# register_detail_panel("reviews/funnel_panel.html", fn) where fn(activity, viewer) returns the panel's context
# (a dict, available to the template as ``panel``) or None to show nothing. Templates never query.
DetailPanel = Callable[[Activity, User], dict | None]
_PANELS: list[tuple[str, DetailPanel]] = []
FUNNEL_FORMATS = (MeetingFormat.FUNNEL_REALITY_CHECK.value, MeetingFormat.WIN_LOSS_PLAYBACK.value)


def register_detail_panel(template: str, context: DetailPanel) -> None:
    if all(t != template for t, _ in _PANELS):
        _PANELS.append((template, context))


@bp.record_once
def _short_lead_definition_url(state) -> None:
    """/lead-definition (outside the /meetings prefix) leads to the history page."""
    state.app.add_url_rule(
        "/lead-definition",
        endpoint="reviews.lead_definition_short",
        view_func=lambda: redirect(url_for("reviews.lead_definitions")),
    )


# --- helpers ---------------------------------------------------------------------------------


def _meeting_or_404(activity_id: int) -> tuple[Activity, Participation | None]:
    """The meeting and the viewer's own place in it; 404 when it doesn't exist or isn't theirs to see."""
    activity = db.session.scalar(
        select(Activity).options(joinedload(Activity.host)).where(Activity.id == activity_id)
    )
    if activity is None or activity.kind != ActivityKind.REVIEW_MEETING.value or activity.meeting is None:
        abort(404)
    mine = core.find_participation(activity.id, current_user.id)
    if not perms.can_view_meeting(current_user, activity, mine) and not _owns_an_action(activity.id):
        abort(404)
    return activity, mine


def _owns_an_action(activity_id: int) -> bool:
    """Action owners need not be invitees; they see the meeting their action came from."""
    from program.reviews.models import ActionItem

    return db.session.scalar(
        select(ActionItem.id).where(ActionItem.activity_id == activity_id, ActionItem.owner_id == current_user.id).limit(1)
    ) is not None


def _back(activity: Activity, anchor: str = ""):
    return redirect(url_for("reviews.detail", activity_id=activity.id) + (f"#{anchor}" if anchor else ""))


def _fill_invitees(form) -> None:
    form.people.choices = options(
        (u.id, f"{u.name} ({u.team.name if u.team else u.function.title()})") for u in services.invitable_people()
    )
    form.teams.choices = options((t.id, f"{t.name} ({t.department.name})") for t in services.invitable_teams())
    form.departments.choices = options((d.id, d.name) for d in services.invitable_departments())


def _fill_owners(form, activity: Activity) -> None:
    form.owner_id.choices = options([("", "—")] + [(u.id, u.name) for u in services.action_owners(activity)])


def _meeting_data(form: MeetingForm) -> services.MeetingData:
    return services.MeetingData(
        title=form.title.data or "",
        format=form.format.data or "",
        day=form.day.data,
        start=form.start.data,
        end=form.end.data,
        timezone=form.timezone.data or "",
        location=form.location.data or "",
        video_url=form.video_url.data or "",
        agenda=form.agenda.data or "",
    )


def _action_data(form: ActionItemForm, status: str = ActionStatus.OPEN.value) -> services.ActionData:
    return services.ActionData(
        title=form.title.data or "", owner_id=form.owner_id.data, due_date=form.due_date.data, status=status
    )


# --- list, schedule --------------------------------------------------------------------------


@bp.route("/")
@login_required
def index():
    now = utcnow()
    page, per_page = page_args(20)
    f = {"show": "past" if request.args.get("show") == "past" else "upcoming", "format": request.args.get("format", "")}
    stmt = services.meetings_stmt(current_user, now, show=f["show"], fmt=f["format"])
    pagination = db.paginate(stmt, page=page, per_page=per_page, error_out=False)
    ids = [a.id for a in pagination.items]
    return render_template(
        "reviews/index.html",
        pagination=pagination,
        mine=services.participations_for(current_user, ids),
        counts=services.answer_counts(ids),
        f=f,
        formats=FORMAT_CHOICES,
        now=now,
        can_schedule=perms.can_schedule_meetings(current_user),
        summary_for=services.meeting_summary,
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    if not perms.can_schedule_meetings(current_user):
        abort(404)
    form = NewMeetingForm()
    _fill_invitees(form)
    if request.method == "GET":
        form.timezone.data = current_user.timezone
        if request.args.get("format") in {v for v, _ in FORMAT_CHOICES}:
            form.format.data = request.args["format"]
    if form.is_submitted():
        form.validate()
        try:
            refuse_unstorable(form)
            activity = services.schedule_meeting(
                current_user,
                _meeting_data(form),
                utcnow(),
                people=form.people.data or [],
                teams=form.teams.data or [],
                departments=form.departments.data or [],
            )
            if form.errors:
                raise DomainError("Please correct the marked fields.")
            invited = len(activity.participations)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            flash(f"The meeting is scheduled; {invited} invitation(s) are on their way.", "success")
            return redirect(url_for("reviews.detail", activity_id=activity.id))
    return render_template("reviews/form.html", form=form, activity=None), (200 if not form.errors else 422)


# --- the meeting page ------------------------------------------------------------------------


def _render_detail(activity: Activity, mine: Participation | None, status: int = 200, **forms):
    now = utcnow()
    manage = perms.can_manage_meeting(current_user, activity)
    invite_form = forms.get("invite_form")
    if invite_form is None and manage:
        invite_form = InviteForm(formdata=None)
    if invite_form is not None:
        _fill_invitees(invite_form)
    action_form = forms.get("action_form")
    can_add = perms.can_add_action(current_user, activity, mine) and not activity.is_cancelled
    if action_form is None and can_add:
        action_form = ActionItemForm(formdata=None)
    if action_form is not None:
        _fill_owners(action_form, activity)
    notes_form = forms.get("notes_form") or (NotesForm(formdata=None, notes=activity.meeting.notes) if manage else None)
    people = services.invitees(activity)
    started = activity.has_started(now)
    markable = (
        {p.id for p in people if p.state in services.MARKABLE and perms.can_take_attendance(current_user, p)}
        if started and not activity.is_cancelled
        else set()
    )
    actions = services.actions_of(activity)
    is_lead_session = activity.meeting.format == MeetingFormat.LEAD_DEFINITION.value
    definitions, current, definition_form = [], None, None
    today = services.today_for(current_user, now)
    if is_lead_session:
        definitions = services.lead_definitions(activity)
        current = services.current_lead_definition(today)
        definition_form = forms.get("definition_form")
        if definition_form is None and perms.can_record_lead_definition(current_user, activity) and not activity.is_cancelled:
            definition_form = LeadDefinitionForm(formdata=None)
    carried = services.carried_over_actions(activity)
    panels = [(tpl, ctx) for tpl, fn in _PANELS if (ctx := fn(activity, current_user)) is not None]
    funnel_url = None
    if activity.meeting.format in FUNNEL_FORMATS and "funnel.workspace" in current_app.view_functions:
        playback = activity.meeting.format == MeetingFormat.WIN_LOSS_PLAYBACK.value
        funnel_url = url_for("funnel.deals" if playback else "funnel.workspace", activity_id=activity.id)
    return render_template(
        "reviews/detail.html",
        activity=activity,
        meeting=activity.meeting,
        summary=services.meeting_summary(activity, True),
        mine=mine,
        manage=manage,
        now=now,
        started=started,
        people=people,
        counts=services.answer_counts([activity.id])[activity.id],
        markable=markable,
        can_answer=(
            mine is not None and mine.state in services.ANSWERABLE and not activity.is_cancelled and not started
        ),
        answers=list(RsvpAnswer),
        invite_form=invite_form if manage and not activity.is_cancelled and now < activity.ends_at else None,
        notes_form=notes_form if not activity.is_cancelled else None,
        action_form=action_form if can_add else None,
        actions=actions,
        can_status={a.id for a in actions if perms.can_update_action_status(current_user, a)},
        can_edit={a.id for a in actions if perms.can_edit_action(current_user, a)},
        carried=carried,
        carried_status={a.id for a in carried if perms.can_update_action_status(current_user, a)},
        today=today,
        panels=panels,
        funnel_url=funnel_url,
        previous=services.previous_meeting(activity),
        is_lead_session=is_lead_session,
        definitions=definitions,
        current_definition=current,
        definition_status=lambda d: services.definition_status(d, current, today),
        signoff_side=perms.signoff_side(current_user),
        definition_form=definition_form,
        cancel_form=CancelMeetingForm(formdata=None),
        State=State,
        ActionStatus=ActionStatus,
    ), status


@bp.route("/<int:activity_id>")
@login_required
def detail(activity_id: int):
    activity, mine = _meeting_or_404(activity_id)
    return _render_detail(activity, mine)


@bp.route("/<int:activity_id>/edit", methods=["GET", "POST"])
@login_required
def edit(activity_id: int):
    activity, _mine = _meeting_or_404(activity_id)
    if not perms.can_manage_meeting(current_user, activity):
        abort(404)
    now = utcnow()
    if activity.is_cancelled or activity.has_started(now):
        flash("This meeting can no longer be edited. You can still keep its notes.", "warning")
        return _back(activity)
    form = MeetingForm(obj=services.meeting_data_from(activity) if request.method == "GET" else None)
    if form.is_submitted():
        saved, _ = save_form(form, lambda: services.update_meeting(current_user, activity, _meeting_data(form), now))
        if saved:
            flash("The meeting is updated; invitees were sent the change if the time or place moved.", "success")
            return _back(activity)
    return render_template("reviews/form.html", form=form, activity=activity), (200 if not form.errors else 422)


@bp.route("/<int:activity_id>/cancel", methods=["POST"])
@login_required
def cancel(activity_id: int):
    activity, _mine = _meeting_or_404(activity_id)
    if not perms.can_manage_meeting(current_user, activity):
        abort(404)
    form = CancelMeetingForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        affected = services.cancel_meeting(current_user, activity, form.reason.data or "", utcnow())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(f"The meeting is cancelled; {len(affected)} invitee(s) were told.", "success")
    return _back(activity)


@bp.route("/<int:activity_id>/rsvp", methods=["POST"])
@login_required
def rsvp(activity_id: int):
    activity, mine = _meeting_or_404(activity_id)
    if mine is None:
        abort(404)
    form = RsvpForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.rsvp(mine, current_user, form.answer.data, utcnow())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(f"Your answer: {RsvpAnswer(form.answer.data).label.lower()}. Thanks!", "success")
    return _back(activity, "you")


@bp.route("/rsvp/<token>", methods=["GET", "POST"])
def rsvp_link(token: str):
    """The one-click link in the invitation: GET shows the answer page; only the POST changes anything."""
    found = meeting_mail.read_rsvp_token(token)
    p = db.session.get(Participation, found[0]) if found else None
    if p is None or p.user_id != found[1] or p.activity.kind != ActivityKind.REVIEW_MEETING.value:
        abort(404)
    person: User = p.user
    activity = p.activity
    form = RsvpForm()
    if form.is_submitted():
        if not form.validate():
            abort(400)
        try:
            services.rsvp(p, person, form.answer.data, utcnow())
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            flash(f"Thanks — your answer is recorded: {RsvpAnswer(form.answer.data).label.lower()}.", "success")
        return redirect(url_for("reviews.rsvp_link", token=token))
    now = utcnow()
    chosen = request.args.get("answer", "")
    return render_template(
        "reviews/rsvp.html",
        p=p,
        person=person,
        activity=activity,
        summary=services.meeting_summary(activity, True),
        chosen=chosen if chosen in {a.value for a in RsvpAnswer} else "",
        answers=list(RsvpAnswer),
        open_=p.state in services.ANSWERABLE and not activity.is_cancelled and not activity.has_started(now),
        State=State,
    )


@bp.route("/<int:activity_id>/invite", methods=["POST"])
@login_required
def invite(activity_id: int):
    activity, mine = _meeting_or_404(activity_id)
    if not perms.can_manage_meeting(current_user, activity):
        abort(404)
    form = InviteForm()
    _fill_invitees(form)
    form.validate()
    try:
        refuse_unstorable(form)
        invited = services.invite(
            activity,
            current_user,
            utcnow(),
            people=form.people.data or [],
            teams=form.teams.data or [],
            departments=form.departments.data or [],
        )
        if form.errors:
            raise DomainError("Please correct the marked fields.")
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        apply_errors(form, exc, default_field="people")
        return _render_detail(activity, mine, 422, invite_form=form)
    flash(f"{len(invited)} invitation(s) sent." if invited else "Everyone chosen was already invited.", "success")
    return _back(activity, "invitees")


@bp.route("/<int:activity_id>/attendance/<int:participation_id>", methods=["POST"])
@login_required
def attendance(activity_id: int, participation_id: int):
    activity, _mine = _meeting_or_404(activity_id)
    p = db.session.get(Participation, participation_id)
    if p is None or p.activity_id != activity.id or not perms.can_take_attendance(current_user, p):
        abort(404)
    form = AttendanceForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.take_attendance(p, current_user, form.outcome.data == "attended", utcnow())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(f"{p.user.name}: {State(p.state).label.lower()}.", "success")
    return _back(activity, "invitees")


@bp.route("/<int:activity_id>/notes", methods=["POST"])
@login_required
def notes(activity_id: int):
    activity, mine = _meeting_or_404(activity_id)
    if not perms.can_manage_meeting(current_user, activity):
        abort(404)
    form = NotesForm()
    form.validate()
    try:
        refuse_unstorable(form)
        services.update_notes(current_user, activity, form.notes.data or "", utcnow())
        if form.errors:
            raise DomainError("Please correct the marked fields.")
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        apply_errors(form, exc, default_field="notes")
        return _render_detail(activity, mine, 422, notes_form=form)
    flash("Notes saved.", "success")
    return _back(activity, "notes")


# --- action items ----------------------------------------------------------------------------


@bp.route("/<int:activity_id>/actions", methods=["POST"])
@login_required
def add_action(activity_id: int):
    activity, mine = _meeting_or_404(activity_id)
    if not perms.can_add_action(current_user, activity, mine):
        abort(404)
    form = ActionItemForm()
    _fill_owners(form, activity)
    form.validate()
    try:
        refuse_unstorable(form)
        services.add_action(activity, current_user, _action_data(form), utcnow())
        if form.errors:
            raise DomainError("Please correct the marked fields.")
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        apply_errors(form, exc)
        return _render_detail(activity, mine, 422, action_form=form)
    flash("Action item added.", "success")
    return _back(activity, "actions")


def _action_or_404(activity: Activity, action_id: int):
    item = services.action_or_none(activity, action_id)
    if item is None:
        abort(404)
    return item


@bp.route("/<int:activity_id>/actions/<int:action_id>/edit", methods=["GET", "POST"])
@login_required
def edit_action(activity_id: int, action_id: int):
    activity, _mine = _meeting_or_404(activity_id)
    item = _action_or_404(activity, action_id)
    if not perms.can_edit_action(current_user, item):
        abort(404)
    form = ActionEditForm(obj=item if request.method == "GET" else None)
    _fill_owners(form, activity)
    if item.owner_id not in {c.value for c in form.owner_id.choices}:  # a past owner stays choosable
        form.owner_id.choices = [*form.owner_id.choices, *options([(item.owner_id, item.owner.name)])]
    if form.is_submitted():
        saved, _ = save_form(form, lambda: services.update_action(item, current_user, _action_data(form, form.status.data or ""), utcnow()))
        if saved:
            flash("Action item updated.", "success")
            return _back(activity, "actions")
    return render_template("reviews/action_form.html", form=form, activity=activity, item=item), (
        200 if not form.errors else 422
    )


@bp.route("/<int:activity_id>/actions/<int:action_id>/status", methods=["POST"])
@login_required
def action_status(activity_id: int, action_id: int):
    activity, _mine = _meeting_or_404(activity_id)
    item = _action_or_404(activity, action_id)
    if not perms.can_update_action_status(current_user, item):
        abort(404)
    form = ActionStatusForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.set_action_status(item, current_user, form.status.data, utcnow())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(f"“{item.title}” is {ActionStatus(item.status).label.lower()}.", "success")
    back = request.form.get("back", "")
    if back.isdigit() and int(back) != activity.id:  # changed from the next meeting's carried-over list
        return redirect(url_for("reviews.detail", activity_id=int(back)) + "#carried")
    return _back(activity, "actions")


# --- lead definitions ------------------------------------------------------------------------


@bp.route("/<int:activity_id>/lead-definitions", methods=["POST"])
@login_required
def record_definition(activity_id: int):
    activity, mine = _meeting_or_404(activity_id)
    if activity.meeting.format != MeetingFormat.LEAD_DEFINITION.value:
        abort(404)
    if not perms.can_record_lead_definition(current_user, activity):
        abort(404)
    form = LeadDefinitionForm()
    form.validate()
    try:
        refuse_unstorable(form)
        defn = services.record_lead_definition(
            current_user, form.criteria.data or "", form.effective_date.data, utcnow(), activity
        )
        if form.errors:
            raise DomainError("Please correct the marked fields.")
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        apply_errors(form, exc, default_field="criteria")
        return _render_detail(activity, mine, 422, definition_form=form)
    flash(f"Version {defn.version} recorded. It takes force once a sales and a marketing leader sign it off.", "success")
    return _back(activity, "lead-definition")


@bp.route("/lead-definition", methods=["GET", "POST"])
@login_required
def lead_definitions():
    now = utcnow()
    today = services.today_for(current_user, now)
    may_record = perms.can_record_lead_definition(current_user)
    form = LeadDefinitionForm() if may_record else None
    status = 200
    if request.method == "POST":
        if form is None:
            abort(404)
        form.validate()
        try:
            refuse_unstorable(form)
            defn = services.record_lead_definition(current_user, form.criteria.data or "", form.effective_date.data, now)
            if form.errors:
                raise DomainError("Please correct the marked fields.")
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc, default_field="criteria")
            status = 422
        else:
            flash(f"Version {defn.version} recorded. It takes force once a sales and a marketing leader sign it off.",
                  "success")
            return redirect(url_for("reviews.lead_definitions"))
    current = services.current_lead_definition(today)
    return render_template(
        "reviews/lead_definitions.html",
        definitions=services.lead_definitions(),
        current_definition=current,
        definition_status=lambda d: services.definition_status(d, current, today),
        signoff_side=perms.signoff_side(current_user),
        form=form,
    ), status


@bp.route("/lead-definition/<int:definition_id>/sign-off", methods=["POST"])
@login_required
def sign_off(definition_id: int):
    defn = db.session.get(LeadDefinition, definition_id)
    if defn is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        services.sign_off_lead_definition(defn, current_user, utcnow())
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(f"You signed off version {defn.version} for {perms.signoff_side(current_user)}.", "success")
    back = request.form.get("back", "")
    if back.isdigit():
        return redirect(url_for("reviews.detail", activity_id=int(back)) + "#lead-definition")
    return redirect(url_for("reviews.lead_definitions"))
