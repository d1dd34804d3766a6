"""Forms for offering and editing a ride-along call, and for the list filters."""

from __future__ import annotations

from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from program.activities.models import Activity
from program.formutil import int_or_none, options, strip
from program.rides.models import CALL_TYPES, FUNNEL_STAGES, SEGMENTS, RideAlongCall
from program.rides.services import DEFAULT_CUTOFF_HOURS, MAX_SEATS
from program.timeutil import all_timezones
from program.validation import TandemForm, from_column


class CallForm(TandemForm):
    saves_to = (Activity, RideAlongCall)  # the account name is the activity's title too

    host_id = SelectField("Rep (whose call)", coerce=int_or_none, validate_choice=False)
    account_name = StringField(
        "Account or prospect",
        validators=[
            InputRequired("Name the account or prospect."),
            *from_column(RideAlongCall.account_name, Activity.title),
        ],
        filters=[strip],
    )
    hide_account = BooleanField(
        "Hide the account name from people who haven't booked",
        description="Prospect privacy: others see only the segment until they have a seat.",
    )
    segment = SelectField("Customer segment", choices=options([("", "—")] + [(s, s) for s in SEGMENTS]))
    funnel_stage = SelectField("Funnel stage", choices=options([("", "—")] + [(s, s) for s in FUNNEL_STAGES]))
    call_type = SelectField("Call type", choices=options([("", "—")] + CALL_TYPES))
    day = DateField("Date", validators=[InputRequired("Give the date of the call.")])
    start = TimeField("Starts", validators=[InputRequired("Give the start time.")])
    end = TimeField("Ends", validators=[InputRequired("Give the end time.")])
    timezone = SelectField("Timezone of the call", choices=options((z, z) for z in all_timezones()))
    location = StringField(
        "Address",
        validators=from_column(Activity.location),
        filters=[strip],
        description="Where riders go, or leave empty for a video call.",
    )
    video_url = StringField("Video link", validators=from_column(Activity.video_url), filters=[strip])
    seats = IntegerField(
        "Seats for riders",
        default=2,
        validators=[
            InputRequired("Give the number of seats."),
            NumberRange(1, MAX_SEATS, f"Between 1 and {MAX_SEATS}."),
        ],
    )
    cutoff_hours = IntegerField(
        "Booking closes (hours before the start)",
        default=DEFAULT_CUTOFF_HOURS,
        validators=[InputRequired("Give the cutoff."), NumberRange(0, 168, "Between 0 and 168 hours.")],
    )
    briefing = TextAreaField(
        "Briefing for riders",
        validators=[Optional(), Length(max=5000)],
        description="What to prepare, what to expect, etiquette on the call.",
    )


class CancelActivityForm(TandemForm):
    reason = TextAreaField("Reason (riders see it)", validators=[Optional(), Length(max=1000)])
