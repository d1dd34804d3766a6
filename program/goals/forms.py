"""Forms for goals and leave. Rules (and their messages) live in services; these only parse."""

from __future__ import annotations

from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from program.accounts.models import ROLE_CHOICES
from program.activities.models import ActivityKind
from program.formutil import int_or_none, options, strip
from program.goals.models import Goal, Scope
from program.goals.services import MAX_TARGET, NOTE_MAX
from program.periods import PeriodType
from program.validation import TandemForm, from_column


class GoalForm(TandemForm):
    saves_to = (Goal,)

    kind = SelectField("Activity", choices=options((k.value, k.label) for k in ActivityKind))
    target = IntegerField(
        "Target",
        validators=[
            InputRequired("Give a whole number."),
            NumberRange(min=1, max=MAX_TARGET, message=f"Give a whole number from 1 to {MAX_TARGET}."),
        ],
        description="How many activities of this kind each person should take part in.",
    )
    period = SelectField("Per", choices=options((p.value, p.label) for p in PeriodType), default="month")
    scope = SelectField(
        "For",
        choices=options((s.value, s.label) for s in reversed(Scope)),
        default=Scope.DEPARTMENT.value,
        description="The most specific goal applies: a person's beats their team's, a team's beats the "
        "department's, a department's beats the role's.",
    )
    role = SelectField("Role", choices=options([("", "—"), *ROLE_CHOICES]), default="")
    department_id = SelectField("Department", coerce=int_or_none, validate_choice=False)
    team_id = SelectField("Team", coerce=int_or_none, validate_choice=False)
    person_email = StringField("Person (email)", validators=[Length(max=254)], filters=[strip])
    requires_debrief = BooleanField(
        "Count only activities whose debrief is submitted",
        default=True,
        description="Untick to count every attended activity.",
    )
    note = StringField("Note", validators=from_column(Goal.note), filters=[strip])


class LeaveForm(TandemForm):
    person_email = StringField(
        "Person (email)", validators=[InputRequired("Give the person's email."), Length(max=254)], filters=[strip]
    )
    starts_on = DateField("First day", validators=[InputRequired("Give the first day of leave.")])
    ends_on = DateField("Last day", validators=[InputRequired("Give the last day of leave.")])
    note = StringField("Note", validators=[Optional(), Length(max=NOTE_MAX)], filters=[strip])
