"""The forms of the insight pages: marking a learning useful, triaging a tactic."""

from __future__ import annotations

from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import AnyOf, Length

from program.formutil import options, strip
from program.insight.tactics import NOTE_MAX, TRIAGE_STATUSES
from program.validation import TandemForm


class UsefulForm(TandemForm):
    """Mark ("1") or unmark ("0") a learning as useful; explicit, so a double click can't undo itself."""

    useful = HiddenField(validators=[AnyOf(["0", "1"])])


class TacticForm(TandemForm):
    status = SelectField("Status", choices=options((s.value, s.label) for s in TRIAGE_STATUSES))
    note = StringField(
        "Note",
        validators=[Length(max=NOTE_MAX, message=f"Keep the note under {NOTE_MAX:,} characters.")],
        filters=[strip],
        description="Required for “Programme launched” and “Not pursued”.",
    )
