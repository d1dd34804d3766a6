"""Small forms for participation actions (each a POST with CSRF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import AnyOf, DataRequired, Length


class ActionForm(FlaskForm):
    """A bare confirmation: the CSRF token is the whole form."""


class AttendanceForm(FlaskForm):
    outcome = HiddenField(validators=[AnyOf(["attended", "no_show"])])


class MoveUpForm(FlaskForm):
    reason = StringField("Reason", validators=[DataRequired("Give a reason."), Length(max=500)])


class OfferAnswerForm(FlaskForm):
    answer = HiddenField(validators=[AnyOf(["accept", "decline"])])
