"""Forms for shadow pairings: propose, answer, agenda, date change, follow-ups, cancel."""

from __future__ import annotations

from wtforms import DateField, HiddenField, SelectField, TextAreaField
from wtforms.validators import AnyOf, InputRequired, Length, Optional

from program.formutil import int_or_none, options
from program.shadow.models import FollowUpStatus
from program.validation import TandemForm


class ProposeForm(TandemForm):
    sales_leader_id = SelectField("Sales leader", coerce=int_or_none, validate_choice=False)
    marketing_leader_id = SelectField("Marketing leader", coerce=int_or_none, validate_choice=False)
    sales_day = DateField("Day in sales (the marketing leader visits)", validators=[InputRequired("Choose a date.")])
    marketing_day = DateField(
        "Day in marketing (the sales leader visits)", validators=[InputRequired("Choose a date.")]
    )
    note = TextAreaField("Note to the partner", validators=[Optional(), Length(max=2000)])


class AnswerForm(TandemForm):
    answer = HiddenField(validators=[AnyOf(["accept", "decline"])])
    reason = TextAreaField("Reason for declining", validators=[Optional(), Length(max=2000)])


class AgendaForm(TandemForm):
    agenda = TextAreaField(
        "Agenda",
        validators=[Optional(), Length(max=10_000)],
        description="Meetings to sit in on, calls to join, people to meet.",
    )


class DateChangeForm(TandemForm):
    new_date = DateField("New date", validators=[InputRequired("Choose a date.")])


class DateAnswerForm(TandemForm):
    answer = HiddenField(validators=[AnyOf(["confirm", "reject"])])


class FollowUpForm(TandemForm):
    status = SelectField("Status", choices=options([(s.value, s.label) for s in FollowUpStatus]))
    done_on = DateField("Done on", validators=[Optional()])
    evidence = TextAreaField("Evidence", validators=[Optional(), Length(max=2000)])
    drop_reason = TextAreaField("Reason for dropping", validators=[Optional(), Length(max=2000)])


class CancelPairingForm(TandemForm):
    reason = TextAreaField("Reason", validators=[Optional(), Length(max=1000)])
