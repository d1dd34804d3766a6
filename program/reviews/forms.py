"""Forms for review meetings: schedule and edit, invite, answer, notes, action items, lead definitions."""

from __future__ import annotations

from wtforms import DateField, HiddenField, SelectField, SelectMultipleField, StringField, TextAreaField, TimeField
from wtforms.validators import AnyOf, InputRequired, Length, Optional

from program.activities.models import Activity
from program.formutil import int_or_none, options, strip
from program.reviews.models import ACTION_STATUS_CHOICES, FORMAT_CHOICES, ActionItem, ReviewMeeting, RsvpAnswer
from program.timeutil import all_timezones
from program.validation import TandemForm, from_column

PICK_MANY = "Hold Ctrl (or ⌘) to choose several."


class InviteeFields:
    """People, teams and whole departments; the route fills the choices."""

    people = SelectMultipleField("People", coerce=int, validate_choice=False, description=PICK_MANY)
    teams = SelectMultipleField(
        "Teams", coerce=int, validate_choice=False, description="Everyone active in the team, and its manager."
    )
    departments = SelectMultipleField(
        "Whole departments", coerce=int, validate_choice=False, description="Everyone active in sales or in marketing."
    )


class MeetingForm(TandemForm):
    saves_to = (Activity, ReviewMeeting)

    title = StringField(
        "Title", validators=[InputRequired("Give the meeting a title."), *from_column(Activity.title)], filters=[strip]
    )
    format = SelectField("Format", choices=options([("", "—")] + FORMAT_CHOICES))
    day = DateField("Date", validators=[InputRequired("Give the date of the meeting.")])
    start = TimeField("Starts", validators=[InputRequired("Give the start time.")])
    end = TimeField("Ends", validators=[InputRequired("Give the end time.")])
    timezone = SelectField("Timezone of the meeting", choices=options((z, z) for z in all_timezones()))
    location = StringField(
        "Room or address",
        validators=from_column(Activity.location),
        filters=[strip],
        description="Leave empty for a video meeting.",
    )
    video_url = StringField("Video link", validators=from_column(Activity.video_url), filters=[strip])
    agenda = TextAreaField(
        "Agenda",
        validators=[Optional(), Length(max=10000)],
        description="Invitees see it in the invitation and on the meeting page.",
    )


class NewMeetingForm(MeetingForm, InviteeFields):
    pass


class InviteForm(TandemForm, InviteeFields):
    pass


class RsvpForm(TandemForm):
    answer = HiddenField(validators=[AnyOf([a.value for a in RsvpAnswer], "Answer yes, no or maybe.")])


class NotesForm(TandemForm):
    saves_to = (ReviewMeeting,)

    notes = TextAreaField(
        "Notes",
        validators=[Optional(), Length(max=20000)],
        filters=[strip],
        description="What was discussed and decided. Everyone who can see the meeting reads them.",
    )


class ActionItemForm(TandemForm):
    saves_to = (ActionItem,)

    title = StringField(
        "Action", validators=[InputRequired("Say what is to be done."), *from_column(ActionItem.title)], filters=[strip]
    )
    owner_id = SelectField("Owner", coerce=int_or_none, validate_choice=False)
    due_date = DateField("Due", validators=[InputRequired("Give a due date.")])


class ActionEditForm(ActionItemForm):
    status = SelectField("Status", choices=options(ACTION_STATUS_CHOICES))


class ActionStatusForm(TandemForm):
    status = HiddenField(validators=[AnyOf([v for v, _ in ACTION_STATUS_CHOICES])])


class LeadDefinitionForm(TandemForm):
    criteria = TextAreaField(
        "Criteria of a qualified lead",
        validators=[InputRequired("Write down the criteria of a qualified lead."), Length(max=10000)],
        filters=[strip],
        description="Fit, intent and timing signals, as agreed — one per line reads best.",
    )
    effective_date = DateField("Applies from", validators=[InputRequired("Give the date from which it applies.")])


class CancelMeetingForm(TandemForm):
    reason = TextAreaField("Reason (invitees see it)", validators=[Optional(), Length(max=1000)])
