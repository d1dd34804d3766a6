"""Forms of the funnel reality check and the win/loss playback.

Counts, amounts and lifts arrive as text and are checked by ``inputs`` and the services,
so a form and a CSV upload get the same rules and the same words.
"""

from __future__ import annotations

from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    FieldList,
    Form,
    FormField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from program.formutil import int_or_none, options, strip
from program.reviews.funnel.models import (
    DealOutcome,
    Effort,
    FunnelIdea,
    FunnelSnapshot,
    FunnelStage,
    PlaybackDeal,
)
from program.validation import TandemForm, from_column

STAGE_ROWS_MIN = 8
CSV_FILE_VALIDATORS = [FileRequired("Choose a CSV file."), FileAllowed(["csv", "txt"], "Upload a .csv file.")]


class StageRowForm(Form):
    """One stage of the funnel editor (a plain Form: the outer form carries the CSRF token and checks its input)."""

    saves_to = (FunnelStage,)

    name = StringField("Stage", validators=from_column(FunnelStage.name), filters=[strip])
    entering = StringField("Prospects entering", filters=[strip])


class FunnelForm(TandemForm):
    saves_to = (FunnelSnapshot,)

    period_label = StringField(
        "Period",
        validators=from_column(FunnelSnapshot.period_label),
        filters=[strip],
        description="For example “Q3 2026” or “September”.",
    )
    avg_deal_value = StringField(
        "Average deal value",
        filters=[strip],
        description="Of a won deal, in your reporting currency, for example 24000 or 24,000.50.",
    )
    stages = FieldList(FormField(StageRowForm), min_entries=STAGE_ROWS_MIN)


class FunnelUploadForm(TandemForm):
    saves_to = (FunnelSnapshot,)

    period_label = StringField("Period", validators=from_column(FunnelSnapshot.period_label), filters=[strip])
    avg_deal_value = StringField(
        "Average deal value", filters=[strip], description="The CSV carries stages and counts; the value is given here."
    )
    file = FileField(
        "CSV file",
        validators=CSV_FILE_VALIDATORS,
        description="Header stage,entering — then one line per stage, in funnel order. UTF-8.",
    )


class StageReasonForm(TandemForm):
    stage_id = SelectField(
        "Stage", coerce=int_or_none, validate_choice=False, validators=[InputRequired("Choose a stage.")]
    )
    reason_code_id = SelectField(
        "Reason", coerce=int_or_none, validate_choice=False, validators=[InputRequired("Choose a reason.")]
    )
    count = IntegerField(
        "Prospects", validators=[InputRequired("Give how many prospects."), NumberRange(min=1, message="At least one.")]
    )


class TeamsForm(TandemForm):
    seed = StringField(
        "Seed (optional)",
        validators=[Optional(), *from_column(FunnelSnapshot.team_seed)],
        filters=[strip],
        description="The same seed and attendees give the same teams. Leave empty for a fresh draw.",
    )


class SwapForm(TandemForm):
    user_a = SelectField(
        "Swap", coerce=int_or_none, validate_choice=False, validators=[InputRequired("Choose a person.")]
    )
    user_b = SelectField(
        "with", coerce=int_or_none, validate_choice=False, validators=[InputRequired("Choose a person.")]
    )


class IdeaForm(TandemForm):
    saves_to = (FunnelIdea,)

    team_id = SelectField("Team", coerce=int_or_none, validate_choice=False)
    stage_id = SelectField(
        "Stage", coerce=int_or_none, validate_choice=False, validators=[InputRequired("Choose a stage.")]
    )
    title = StringField(
        "Idea", validators=[InputRequired("Say what the idea is."), *from_column(FunnelIdea.title)], filters=[strip]
    )
    lift = StringField(
        "Expected lift (percentage points)",
        filters=[strip],
        description="How much the stage's conversion rises: 2.5 means from 40 % to 42.5 %.",
    )
    confidence = IntegerField(
        "Confidence (%)",
        validators=[InputRequired("Give a confidence from 0 to 100."), NumberRange(0, 100, "Between 0 and 100.")],
    )
    effort = SelectField(
        "Effort", choices=options([(e.value, f"{e.label} — weight {e.weight}") for e in Effort]), default=Effort.M.value
    )


class DealForm(TandemForm):
    saves_to = (PlaybackDeal,)

    name = StringField(
        "Deal", validators=[InputRequired("Name the deal."), *from_column(PlaybackDeal.name)], filters=[strip]
    )
    segment = StringField("Segment", validators=from_column(PlaybackDeal.segment), filters=[strip])
    outcome = SelectField("Outcome", choices=options([(o.value, o.label) for o in DealOutcome]))
    lead_source = StringField("Lead source", validators=from_column(PlaybackDeal.lead_source), filters=[strip])


class DealUploadForm(TandemForm):
    file = FileField(
        "CSV file",
        validators=CSV_FILE_VALIDATORS,
        description="Header deal,segment,outcome,lead_source; outcome is won, lost or no decision. UTF-8.",
    )


class FeedbackForm(TandemForm):
    lead_quality = RadioField(
        "Lead quality",
        coerce=int_or_none,
        choices=options([(n, str(n)) for n in range(1, 6)]),
        validators=[InputRequired("Rate the lead quality from 1 to 5.")],
        description="1 = poor fit, 5 = ideal customer.",
    )
    codes = SelectMultipleField(
        "Reasons",
        coerce=int,
        validate_choice=False,
        widget=widgets.ListWidget(prefix_label=False),
        option_widget=widgets.CheckboxInput(),
    )
    note = TextAreaField("Notes", validators=[Optional(), Length(max=2000)], filters=[strip])
