"""Forms for review meetings: schedule and edit, invite, answer, notes, action items, lead definitions."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, SelectMultipleField, StringField, TextAreaField, TimeField
from wtforms.validators import AnyOf, InputRequired, Length, Optional

from program.formutil import int_or_none, options, strip
from program.reviews.models import ACTION_STATUS_CHOICES, FORMAT_CHOICES, RsvpAnswer
from program.timeutil import all_timezones

PICK_MANY = "Hold Ctrl (or ⌘) to choose several."


class InviteeFields:
    """People, teams and whole departments; the route fills the choices."""

    people = SelectMultipleField("People", coerce=int, validate_choice=False, description=PICK_MANY)
    teams = SelectMultipleField("Teams", coerce=int, validate_choice=False,
                                description="Everyone active in the team, and its manager.")
    departments = SelectMultipleField("Whole departments", coerce=int, validate_choice=False,
                                      description="Everyone active in sales or in marketing.")


class MeetingForm(FlaskForm):
    title = StringField("Title", validators=[InputRequired("Give the meeting a title."), Length(max=200)], filters=[strip])
    format = SelectField("Format", choices=options([("", "—")] + FORMAT_CHOICES))
    day = DateField("Date", validators=[InputRequired("Give the date of the meeting.")])
    start = TimeField("Starts", validators=[InputRequired("Give the start time.")])
    end = TimeField("Ends", validators=[InputRequired("Give the end time.")])
    timezone = SelectField("Timezone of the meeting", choices=options((z, z) for z in all_timezones()))
    location = StringField("Room or address", validators=[Length(max=300)], filters=[strip],
                           description="Leave empty for a video meeting.")
    video_url = StringField("Video link", validators=[Length(max=500)], filters=[strip])
    agenda = TextAreaField("Agenda", validators=[Optional(), Length(max=10000)],
                           description="Invitees see it in the invitation and on the meeting page.")


class NewMeetingForm(MeetingForm, InviteeFields):
    pass


class InviteForm(FlaskForm, InviteeFields):
    pass


class RsvpForm(FlaskForm):
    answer = HiddenField(validators=[AnyOf([a.value for a in RsvpAnswer], "Answer yes, no or maybe.")])


class NotesForm(FlaskForm):
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=20000)], filters=[strip],
                          description="What was discussed and decided. Everyone who can see the meeting reads them.")


class ActionItemForm(FlaskForm):
    title = StringField("Action", validators=[InputRequired("Say what is to be done."), Length(max=300)], filters=[strip])
    owner_id = SelectField("Owner", coerce=int_or_none, validate_choice=False)
    due_date = DateField("Due", validators=[InputRequired("Give a due date.")])


class ActionEditForm(ActionItemForm):
    status = SelectField("Status", choices=options(ACTION_STATUS_CHOICES))


class ActionStatusForm(FlaskForm):
    status = HiddenField(validators=[AnyOf([v for v, _ in ACTION_STATUS_CHOICES])])


class LeadDefinitionForm(FlaskForm):
    criteria = TextAreaField(
        "Criteria of a qualified lead",
        validators=[InputRequired("Write down the criteria of a qualified lead."), Length(max=10000)],
        filters=[strip],
        description="Fit, intent and timing signals, as agreed — one per line reads best.",
    )
    effective_date = DateField("Applies from", validators=[InputRequired("Give the date from which it applies.")])


class CancelMeetingForm(FlaskForm):
    reason = TextAreaField("Reason (invitees see it)", validators=[Optional(), Length(max=1000)])
