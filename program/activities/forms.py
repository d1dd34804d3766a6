"""Small forms for participation actions (each a POST with CSRF)."""

from __future__ import annotations

from wtforms import HiddenField, StringField
from wtforms.validators import AnyOf, DataRequired, Length

from program.validation import TandemForm


class ActionForm(TandemForm):
    """A bare confirmation: the CSRF token is the whole form."""


class AttendanceForm(TandemForm):
    outcome = HiddenField(validators=[AnyOf(["attended", "no_show"])])


class MoveUpForm(TandemForm):
    reason = StringField("Reason", validators=[DataRequired("Give a reason."), Length(max=500)])


class OfferAnswerForm(TandemForm):
    answer = HiddenField(validators=[AnyOf(["accept", "decline"])])
