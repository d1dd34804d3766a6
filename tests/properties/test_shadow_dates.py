"""Shadow-day dates (``program.shadow.services``):

- a proposal can be answered for exactly 7 days (168 hours) after it was made, and the cron expires it at
  that moment, not before; the proposal mail names that moment on each recipient's clock;
- the same two leaders can't be paired again within 12 months (SHADOW_REPEAT_MONTHS) — a pairing less than
  365 days old always blocks, one more than 366 days old never does — and suggestions follow the same rule;
- a proposed day must be a working day after the host's today; the accepted day is the host's whole local
  day, and its calendar invite is an all-day event on that date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from program.errors import InvalidTransition, ValidationFailed
from program.extensions import db
from program.filters import localtime
from program.mail.models import OutboxMessage
from program.shadow import services as shadow
from program.shadow.models import PairingStatus
from tests.factories.strategies import DB_SETTINGS, any_instant, edge_instants, local, rolled_back, start_of_day, zones

WEEK = timedelta(days=7)


def _leaders(make, sales_tz: str, marketing_tz: str):
    n = make._n()
    s = make.user(role="leader", department="Sales", timezone=sales_tz, email=f"sales{n}@example.com")
    m = make.user(role="leader", department="Marketing", timezone=marketing_tz, email=f"marketing{n}@example.com")
    return s, m


def _working_days_after(now: datetime, *leaders, count: int = 2) -> list[date]:
    """The first ``count`` working days after today for every one of the leaders."""
    day = max(local(now, u.timezone).date() for u in leaders)
    found: list[date] = []
    while len(found) < count:
        day += timedelta(days=1)
        if day.weekday() < 5:
            found.append(day)
    return found


@st.composite
def zoned_now(draw) -> tuple[str, str, datetime]:
    sales_tz, marketing_tz = draw(zones), draw(zones)
    now = draw(st.one_of(any_instant, st.sampled_from(edge_instants(marketing_tz))))
    return sales_tz, marketing_tz, min(now, datetime(2100, 6, 1, tzinfo=UTC))


@DB_SETTINGS
@given(
    case=zoned_now(),
    answer_after=st.one_of(
        st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=8)),
        st.sampled_from([WEEK - timedelta(microseconds=1), WEEK, WEEK - timedelta(hours=1), WEEK + timedelta(hours=1)]),
    ),
)
@example(case=("Europe/London", "America/New_York", datetime(2026, 11, 24, 2, 30, tzinfo=UTC)), answer_after=WEEK)
@example(
    case=("Europe/London", "Pacific/Chatham", datetime(2026, 11, 23, 12, 0, tzinfo=UTC)),
    answer_after=WEEK - timedelta(microseconds=1),
)
def test_a_proposal_is_open_for_exactly_seven_days(make, case, answer_after):
    sales_tz, marketing_tz, now = case
    with rolled_back():
        s, m = _leaders(make, sales_tz, marketing_tz)
        first, second = _working_days_after(now, s, m)
        before = db.session.scalar(db.select(db.func.max(OutboxMessage.id))) or 0
        pairing = shadow.propose_pairing(s, s, m, first, second, now)
        assert pairing.expires_at == now + WEEK

        # The partner hears by when to answer, on their own clock.
        mail = db.session.scalars(
            db.select(OutboxMessage).where(OutboxMessage.id > before, OutboxMessage.to == m.email)
        ).one()
        assert f"by {localtime(pairing.expires_at, tz=m.timezone)}" in mail.text_body

        at = now + answer_after
        if at < pairing.expires_at:
            assert shadow.expire_proposals(at) == []
            shadow.answer_pairing(pairing, m, False, "Busy that week", at)
            assert pairing.status == PairingStatus.DECLINED.value
        else:
            assert shadow.expire_proposals(pairing.expires_at - timedelta(microseconds=1)) == []  # not a moment early
            with pytest.raises(InvalidTransition):
                shadow.answer_pairing(pairing, m, True, "", at)
            assert shadow.expire_proposals(at) == [pairing]
            assert pairing.status == PairingStatus.EXPIRED.value


@DB_SETTINGS
@given(
    case=zoned_now(),
    age=st.one_of(
        st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=800)),
        st.sampled_from([timedelta(days=d, hours=h) for d in (359, 360, 361, 364, 367, 371) for h in (0, 12)]),
    ),
)
@example(case=("Europe/London", "Europe/Berlin", datetime(2026, 11, 23, 10, 0, tzinfo=UTC)), age=timedelta(days=362))
@example(case=("UTC", "UTC", datetime(2029, 2, 28, 12, 0, tzinfo=UTC)), age=timedelta(days=364, hours=12))
def test_no_repeat_pairing_within_twelve_months(make, case, age):
    sales_tz, marketing_tz, now = case
    with rolled_back(mail=False):
        s, m = _leaders(make, sales_tz, marketing_tz)
        then = now - age
        shadow.propose_pairing(s, s, m, *_working_days_after(then, s, m), then)  # still "proposed": it counts
        suggested = {u.id for u, _ in shadow.suggest_partners(s, now)}
        try:
            shadow.propose_pairing(s, s, m, *_working_days_after(now, s, m), now)
            refused = False
        except ValidationFailed as exc:
            assert exc.errors == {"marketing_leader_id": "These two were paired in the last 12 months."}
            refused = True
        if age < timedelta(days=365):
            assert refused and m.id not in suggested
        elif age > timedelta(days=366):
            assert not refused and m.id in suggested
        assert refused == (m.id not in suggested)  # suggestions and the rule agree


@DB_SETTINGS
@given(
    case=zoned_now(),
    offsets=st.tuples(st.integers(min_value=-2, max_value=12), st.integers(min_value=-2, max_value=12)),
)
@example(case=("Pacific/Chatham", "America/New_York", datetime(2026, 11, 23, 11, 0, tzinfo=UTC)), offsets=(1, 1))
def test_shadow_days_are_whole_local_working_days_after_today(make, case, offsets):
    sales_tz, marketing_tz, now = case
    with rolled_back(mail=False):
        s, m = _leaders(make, sales_tz, marketing_tz)
        sales_day = local(now, sales_tz).date() + timedelta(days=offsets[0])
        marketing_day = local(now, marketing_tz).date() + timedelta(days=offsets[1])
        expected = {}
        for field, day, host in (("sales_day", sales_day, s), ("marketing_day", marketing_day, m)):
            if day <= local(now, host.timezone).date():
                expected[field] = "Choose a date after today."
            elif day.weekday() >= 5:
                expected[field] = "Choose a working day (Monday to Friday)."
        if not expected and sales_day == marketing_day:
            expected["marketing_day"] = "The two days must be on different dates."
        try:
            pairing = shadow.propose_pairing(s, s, m, sales_day, marketing_day, now)
        except ValidationFailed as exc:
            assert exc.errors == expected
            return
        assert expected == {}
        shadow.answer_pairing(pairing, m, True, "", now)
        for activity, day, host in ((pairing.sales_day, sales_day, s), (pairing.marketing_day, marketing_day, m)):
            assert activity.all_day and activity.timezone == host.timezone
            assert activity.starts_at == start_of_day(day, host.timezone)
            assert activity.ends_at == start_of_day(day + timedelta(days=1), host.timezone)
            assert activity.booking_cutoff_at == activity.starts_at > now
            assert local(activity.starts_at, host.timezone).date() == day
            assert local(activity.ends_at - timedelta(microseconds=1), host.timezone).date() == day
            assert timedelta(hours=22) <= activity.ends_at - activity.starts_at <= timedelta(hours=26)
            _assert_all_day_invite_on(activity, day, now)


def _assert_all_day_invite_on(activity, day: date, now: datetime) -> None:
    from program.activities.ics import Attendee, invite_ics
    from tests.conftest import parse_ics

    visitor = activity.participations[0].user
    event = parse_ics(
        invite_ics(
            activity,
            Attendee(visitor.email, visitor.name),
            method="REQUEST",
            now=now,
            summary="Shadow day",
            description="",
            url="",
        )
    ).vevent
    assert event.dtstart.value == day and not isinstance(event.dtstart.value, datetime)
    assert event.dtend.value == day + timedelta(days=1)
