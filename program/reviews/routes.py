"""Review meeting pages: list, schedule, the meeting page (answers, attendance, notes, action items, lead
definitions), edit, cancel, invite more, and the one-click answer link from the invitation. The same "reviews"
blueprint carries the action items (``action_routes``) and the lead definition (``lead_definition_routes``).
Thin: parse, call one service, commit once, flash, redirect."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from program.accounts.models import User
from program.activities import services as core
from program.activities.forms import AttendanceForm
from program.activities.models import Activity, ActivityKind, Participation, State
from program.extensions import db
from program.formutil import options
from program.reviews import actions, invitations, lead_definitions, meetings
from program.reviews import permissions as perms
from program.reviews.forms import (
    ActionItemForm,
    CancelMeetingForm,
    InviteForm,
    LeadDefinitionForm,
    MeetingForm,
    NewMeetingForm,
    NotesForm,
    RsvpForm,
)
from program.reviews.mail import read_rsvp_token
from program.reviews.models import FORMAT_CHOICES, ActionStatus, MeetingFormat, RsvpAnswer
from program.timeutil import utcnow
from program.web import page_args, run_post, save_form

bp = Blueprint("reviews", __name__, url_prefix="/meetings")

FUNNEL_FORMATS = (MeetingFormat.FUNNEL_REALITY_CHECK.value, MeetingFormat.WIN_LOSS_PLAYBACK.value)


# --- helpers ---------------------------------------------------------------------------------


def meeting_or_404(activity_id: int) -> tuple[Activity, Participation | None]:
    """The meeting and the viewer's own place in it; 404 when it doesn't exist or isn't theirs to see."""
    activity = meetings.meeting_or_none(activity_id)
    if activity is None:
        abort(404)
    mine = core.find_participation(activity.id, current_user.id)
    if not perms.can_view_meeting(current_user, activity, mine) and not actions.owns_an_action(
        activity.id, current_user
    ):
        abort(404)
    return activity, mine


def back_to(activity: Activity, anchor: str = ""):
    return redirect(url_for("reviews.detail", activity_id=activity.id) + (f"#{anchor}" if anchor else ""))


def _fill_invitees(form) -> None:
    form.people.choices = options(
        (u.id, f"{u.name} ({u.team.name if u.team else u.function.title()})") for u in invitations.invitable_people()
    )
    form.teams.choices = options((t.id, f"{t.name} ({t.department.name})") for t in invitations.invitable_teams())
    form.departments.choices = options((d.id, d.name) for d in invitations.invitable_departments())


def fill_owners(form, activity: Activity) -> None:
    form.owner_id.choices = options([("", "—")] + [(u.id, u.name) for u in actions.action_owners(activity)])


def _meeting_data(form: MeetingForm) -> meetings.MeetingData:
    return meetings.MeetingData(
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


# --- list, schedule --------------------------------------------------------------------------


@bp.route("/")
@login_required
def index():
    now = utcnow()
    page, per_page = page_args(20)
    f = {"show": "past" if request.args.get("show") == "past" else "upcoming", "format": request.args.get("format", "")}
    stmt = meetings.meetings_stmt(current_user, now, show=f["show"], fmt=f["format"])
    pagination = db.paginate(stmt, page=page, per_page=per_page, error_out=False)
    ids = [a.id for a in pagination.items]
    return render_template(
        "reviews/index.html",
        pagination=pagination,
        mine=meetings.participations_for(current_user, ids),
        counts=meetings.answer_counts(ids),
        f=f,
        formats=FORMAT_CHOICES,
        now=now,
        can_schedule=perms.can_schedule_meetings(current_user),
        summary_for=meetings.meeting_summary,
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
        saved, activity = save_form(
            form,
            lambda: meetings.schedule_meeting(
                current_user,
                _meeting_data(form),
                utcnow(),
                people=form.people.data or [],
                teams=form.teams.data or [],
                departments=form.departments.data or [],
            ),
        )
        if saved:
            flash(
                f"The meeting is scheduled; {len(activity.participations)} invitation(s) are on their way.", "success"
            )
            return redirect(url_for("reviews.detail", activity_id=activity.id))
    return render_template("reviews/form.html", form=form, activity=None), (200 if not form.errors else 422)


# --- the meeting page ------------------------------------------------------------------------


def render_detail(activity: Activity, mine: Participation | None, status: int = 200, **forms):
    """The meeting page; a form that was refused is passed in (``invite_form=``, ``notes_form=``,
    ``action_form=``, ``definition_form=``) to show again with its errors."""
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
        fill_owners(action_form, activity)
    notes_form = forms.get("notes_form") or (NotesForm(formdata=None, notes=activity.meeting.notes) if manage else None)
    people = meetings.invitees(activity)
    started = activity.has_started(now)
    markable = (
        {p.id for p in people if p.state in invitations.MARKABLE and perms.can_take_attendance(current_user, p)}
        if started and not activity.is_cancelled
        else set()
    )
    items = actions.actions_of(activity)
    is_lead_session = activity.meeting.format == MeetingFormat.LEAD_DEFINITION.value
    definitions, current, definition_form = [], None, None
    today = meetings.today_for(current_user, now)
    if is_lead_session:
        definitions = lead_definitions.lead_definitions(activity)
        current = lead_definitions.current_lead_definition(today)
        definition_form = forms.get("definition_form")
        if (
            definition_form is None
            and perms.can_record_lead_definition(current_user, activity)
            and not activity.is_cancelled
        ):
            definition_form = LeadDefinitionForm(formdata=None)
    carried = actions.carried_over_actions(activity)
    funnel_url = None
    if activity.meeting.format in FUNNEL_FORMATS:
        playback = activity.meeting.format == MeetingFormat.WIN_LOSS_PLAYBACK.value
        funnel_url = url_for("funnel.deals" if playback else "funnel.workspace", activity_id=activity.id)
    return render_template(
        "reviews/detail.html",
        activity=activity,
        meeting=activity.meeting,
        summary=meetings.meeting_summary(activity, True),
        mine=mine,
        manage=manage,
        now=now,
        started=started,
        people=people,
        counts=meetings.answer_counts([activity.id])[activity.id],
        markable=markable,
        can_answer=(
            mine is not None and mine.state in invitations.ANSWERABLE and not activity.is_cancelled and not started
        ),
        answers=list(RsvpAnswer),
        invite_form=invite_form if manage and not activity.is_cancelled and now < activity.ends_at else None,
        notes_form=notes_form if not activity.is_cancelled else None,
        action_form=action_form if can_add else None,
        actions=items,
        can_status={a.id for a in items if perms.can_update_action_status(current_user, a)},
        can_edit={a.id for a in items if perms.can_edit_action(current_user, a)},
        carried=carried,
        carried_status={a.id for a in carried if perms.can_update_action_status(current_user, a)},
        today=today,
        funnel_url=funnel_url,
        previous=meetings.previous_meeting(activity),
        is_lead_session=is_lead_session,
        definitions=definitions,
        current_definition=current,
        definition_status=lambda d: lead_definitions.definition_status(d, current, today),
        signoff_side=perms.signoff_side(current_user),
        definition_form=definition_form,
        cancel_form=CancelMeetingForm(formdata=None),
        State=State,
        ActionStatus=ActionStatus,
    ), status


@bp.route("/<int:activity_id>")
@login_required
def detail(activity_id: int):
    activity, mine = meeting_or_404(activity_id)
    return render_detail(activity, mine)


@bp.route("/<int:activity_id>/edit", methods=["GET", "POST"])
@login_required
def edit(activity_id: int):
    activity, _mine = meeting_or_404(activity_id)
    if not perms.can_manage_meeting(current_user, activity):
        abort(404)
    now = utcnow()
    if activity.is_cancelled or activity.has_started(now):
        flash("This meeting can no longer be edited. You can still keep its notes.", "warning")
        return back_to(activity)
    form = MeetingForm(obj=meetings.meeting_data_from(activity) if request.method == "GET" else None)
    if form.is_submitted():
        saved, _ = save_form(form, lambda: meetings.update_meeting(current_user, activity, _meeting_data(form), now))
        if saved:
            flash("The meeting is updated; invitees were sent the change if the time or place moved.", "success")
            return back_to(activity)
    return render_template("reviews/form.html", form=form, activity=activity), (200 if not form.errors else 422)


@bp.route("/<int:activity_id>/cancel", methods=["POST"])
@login_required
def cancel(activity_id: int):
    activity, _mine = meeting_or_404(activity_id)
    if not perms.can_manage_meeting(current_user, activity):
        abort(404)
    form = CancelMeetingForm()
    if not form.validate_on_submit():
        abort(400)
    run_post(
        lambda: meetings.cancel_meeting(current_user, activity, form.reason.data or "", utcnow()),
        lambda affected: f"The meeting is cancelled; {len(affected)} invitee(s) were told.",
    )
    return back_to(activity)


@bp.route("/<int:activity_id>/rsvp", methods=["POST"])
@login_required
def rsvp(activity_id: int):
    activity, mine = meeting_or_404(activity_id)
    if mine is None:
        abort(404)
    form = RsvpForm()
    if not form.validate_on_submit():
        abort(400)
    run_post(
        lambda: invitations.rsvp(mine, current_user, form.answer.data, utcnow()),
        f"Your answer: {RsvpAnswer(form.answer.data).label.lower()}. Thanks!",
    )
    return back_to(activity, "you")


@bp.route("/rsvp/<token>", methods=["GET", "POST"])
def rsvp_link(token: str):
    """The one-click link in the invitation: GET shows the answer page; only the POST changes anything."""
    found = read_rsvp_token(token)
    p = db.session.get(Participation, found[0]) if found else None
    if p is None or p.user_id != found[1] or p.activity.kind != ActivityKind.REVIEW_MEETING.value:
        abort(404)
    person: User = p.user
    activity = p.activity
    form = RsvpForm()
    if form.is_submitted():
        if not form.validate():
            abort(400)
        run_post(
            lambda: invitations.rsvp(p, person, form.answer.data, utcnow()),
            f"Thanks — your answer is recorded: {RsvpAnswer(form.answer.data).label.lower()}.",
        )
        return redirect(url_for("reviews.rsvp_link", token=token))
    now = utcnow()
    chosen = request.args.get("answer", "")
    return render_template(
        "reviews/rsvp.html",
        p=p,
        person=person,
        activity=activity,
        summary=meetings.meeting_summary(activity, True),
        chosen=chosen if chosen in {a.value for a in RsvpAnswer} else "",
        answers=list(RsvpAnswer),
        open_=p.state in invitations.ANSWERABLE and not activity.is_cancelled and not activity.has_started(now),
        State=State,
    )


@bp.route("/<int:activity_id>/invite", methods=["POST"])
@login_required
def invite(activity_id: int):
    activity, mine = meeting_or_404(activity_id)
    if not perms.can_manage_meeting(current_user, activity):
        abort(404)
    form = InviteForm()
    _fill_invitees(form)
    saved, invited = save_form(
        form,
        lambda: invitations.invite(
            activity,
            current_user,
            utcnow(),
            people=form.people.data or [],
            teams=form.teams.data or [],
            departments=form.departments.data or [],
        ),
        default_field="people",
    )
    if not saved:
        return render_detail(activity, mine, 422, invite_form=form)
    flash(f"{len(invited)} invitation(s) sent." if invited else "Everyone chosen was already invited.", "success")
    return back_to(activity, "invitees")


@bp.route("/<int:activity_id>/attendance/<int:participation_id>", methods=["POST"])
@login_required
def attendance(activity_id: int, participation_id: int):
    activity, _mine = meeting_or_404(activity_id)
    p = db.session.get(Participation, participation_id)
    if p is None or p.activity_id != activity.id or not perms.can_take_attendance(current_user, p):
        abort(404)
    form = AttendanceForm()
    if not form.validate_on_submit():
        abort(400)
    run_post(
        lambda: invitations.take_attendance(p, current_user, form.outcome.data == "attended", utcnow()),
        lambda _: f"{p.user.name}: {State(p.state).label.lower()}.",
    )
    return back_to(activity, "invitees")


@bp.route("/<int:activity_id>/notes", methods=["POST"])
@login_required
def notes(activity_id: int):
    activity, mine = meeting_or_404(activity_id)
    if not perms.can_manage_meeting(current_user, activity):
        abort(404)
    form = NotesForm()
    saved, _ = save_form(
        form,
        lambda: meetings.update_notes(current_user, activity, form.notes.data or "", utcnow()),
        default_field="notes",
    )
    if not saved:
        return render_detail(activity, mine, 422, notes_form=form)
    flash("Notes saved.", "success")
    return back_to(activity, "notes")
