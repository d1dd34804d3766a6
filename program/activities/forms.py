"""Small forms for participation actions (each a POST with CSRF; a bare confirmation is ``web.ConfirmForm``)."""

from __future__ import annotations

from wtforms import HiddenField, StringField
from wtforms.validators import AnyOf, DataRequired, Length

from program.validation import TandemForm


class AttendanceForm(TandemForm):
    outcome = HiddenField(validators=[AnyOf(["attended", "no_show"])])


class MoveUpForm(TandemForm):
    reason = StringField("Reason", validators=[DataRequired("Give a reason."), Length(max=500)])


class OfferAnswerForm(TandemForm):
    answer = HiddenField(validators=[AnyOf(["accept", "decline"])])
