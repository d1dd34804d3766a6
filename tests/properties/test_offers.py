"""Waitlist offers (``program.activities.services.offer_next``): a freed seat is held for the next person
waiting until the earlier of 24 hours and the booking cutoff; after the cutoff no offer is made. The offer
mail names the moment the hold ends, on the recipient's clock; the hold ends exactly then.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from program.activities import services as core
from program.activities.models import State
from program.errors import InvalidTransition, ValidationFailed
from program.extensions import db
from program.filters import localtime
from program.mail.models import OutboxMessage
from tests.factories.strategies import DB_SETTINGS, days_between, rolled_back, zones

HOLD = timedelta(hours=24)


def _ride(make, host_tz: str, day: date, hour: int, cutoff_hours: int):
    """A one-seat ride-along offered well before its cutoff; None when the wall-clock hour doesn't exist."""
    from program.rides.services import CallData, offer_call

    host = make.user(role="staff", department="Sales", timezone=host_tz)
    data = CallData(
        host_id=host.id,
        account_name="Acme Ltd",
        segment="Enterprise",
        funnel_stage="Opportunity",
        call_type="demo",
        day=day,
        start=time(hour),
        end=time(hour + 1),
        timezone=host_tz,
        location="1 Market Street",
        seats=1,
        cutoff_hours=cutoff_hours,
    )
    created = datetime.combine(day, time(0), UTC) - timedelta(hours=cutoff_hours) - timedelta(days=10)
    try:
        return offer_call(host, data, created), created
    except ValidationFailed as exc:
        assert set(exc.errors) <= {"start", "end"}  # that wall-clock hour doesn't exist that day (DST gap)
        return None, None


@st.composite
def rides(draw):
    host_tz = draw(zones)
    day = draw(days_between(date(2000, 2, 1), date(2100, 12, 1), host_tz))
    return (
        host_tz,
        day,
        draw(st.integers(min_value=0, max_value=22)),
        draw(st.sampled_from([0, 1, 2, 12, 23, 24, 25, 48, 168])),
    )


@DB_SETTINGS
@given(
    ride=rides(),
    rider_tz=zones,
    # when the booked rider gives the seat up, counted back from the start
    freed_before_start=st.one_of(
        st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=9)),
        st.sampled_from([timedelta(hours=h) for h in (1, 12, 23, 24, 25, 36, 47, 48, 49)]),
    ),
    answer_after=st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=30)),
)
@example(
    ride=("Europe/London", date(2026, 11, 26), 10, 12),
    rider_tz="Australia/Sydney",
    freed_before_start=timedelta(days=3),
    answer_after=timedelta(hours=23, minutes=59),
)
@example(
    ride=("America/New_York", date(2026, 11, 2), 9, 12),
    rider_tz="America/New_York",
    freed_before_start=timedelta(hours=30),
    answer_after=timedelta(hours=18),
)
def test_a_freed_seat_is_held_until_the_earlier_of_24_hours_and_the_cutoff(
    make, ride, rider_tz, freed_before_start, answer_after
):
    host_tz, day, hour, cutoff_hours = ride
    with rolled_back(mail=False):
        activity, created = _ride(make, host_tz, day, hour, cutoff_hours)
        if activity is None:
            return
        first, waiting = make.marketer(), make.marketer(timezone=rider_tz, email=f"waiting{make._n()}@example.com")
        held = core.book_seat(activity.id, first, created)
        p = core.book_seat(activity.id, waiting, created)
        assert (held.state, p.state) == (State.BOOKED.value, State.WAITLISTED.value)
        db.session.info.pop("suppress_mail")  # from here on, mail is what is tested

        freed_at = activity.starts_at - freed_before_start
        core.cancel_booking(held, first, freed_at)
        db.session.refresh(p)
        if freed_at >= activity.booking_cutoff_at:
            assert p.state == State.WAITLISTED.value and p.offer_expires_at is None  # too late: no offer
            return
        assert p.state == State.OFFERED.value
        expires = p.offer_expires_at
        assert freed_at < expires <= freed_at + HOLD
        assert expires <= activity.booking_cutoff_at
        assert expires in (freed_at + HOLD, activity.booking_cutoff_at)

        offer = db.session.scalars(
            db.select(OutboxMessage).where(
                OutboxMessage.to == waiting.email, OutboxMessage.subject.like("A seat is free%")
            )
        ).one()
        shown = localtime(expires, tz=rider_tz)
        assert shown and f"held for you until {shown}" in offer.text_body

        answer_at = freed_at + answer_after
        if answer_at < expires:
            core.accept_offer(p, waiting, answer_at)
            assert p.state == State.BOOKED.value
        else:
            with pytest.raises(InvalidTransition):
                core.accept_offer(p, waiting, answer_at)
            db.session.refresh(p)
            assert p.state == State.DECLINED.value


@DB_SETTINGS
@given(
    ride=rides(),
    freed_before_start=st.timedeltas(min_value=timedelta(hours=1), max_value=timedelta(days=8)),
    cron_after=st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=30)),
)
def test_the_cron_passes_an_offer_on_exactly_when_it_expires(make, ride, freed_before_start, cron_after):
    host_tz, day, hour, cutoff_hours = ride
    with rolled_back(mail=False):
        activity, created = _ride(make, host_tz, day, hour, cutoff_hours)
        if activity is None:
            return
        first, second, third = make.marketer(), make.marketer(), make.marketer()
        held = core.book_seat(activity.id, first, created)
        p2 = core.book_seat(activity.id, second, created)
        p3 = core.book_seat(activity.id, third, created)
        freed_at = activity.starts_at - freed_before_start
        if freed_at >= activity.booking_cutoff_at:
            return
        core.cancel_booking(held, first, freed_at)
        expires = p2.offer_expires_at
        run_at = freed_at + cron_after
        passed = core.expire_offers(run_at)
        db.session.refresh(p2)
        db.session.refresh(p3)
        if run_at < expires:
            assert passed == 0 and p2.state == State.OFFERED.value and p3.state == State.WAITLISTED.value
            return
        assert passed == 1 and p2.state == State.DECLINED.value
        if run_at < activity.booking_cutoff_at:  # the next person gets a fresh hold, within the same limits
            assert p3.state == State.OFFERED.value
            assert run_at < p3.offer_expires_at == min(run_at + HOLD, activity.booking_cutoff_at)
        else:
            assert p3.state == State.WAITLISTED.value
