"""Reminder windows (``flask send-reminders``), judged on the recipient's own calendar:

- a debrief reminder says "due tomorrow" only on the writer's local day before the due day, "due today" only
  on the due day, and "overdue" once the due moment has passed — with the number of local days it is late;
- the activity reminder goes out once in the 24 hours before the start, and its subject names the day the
  activity starts in the participant's zone ("Today" or "Tomorrow").
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from program.extensions import db
from program.mail.models import OutboxMessage
from tests.factories.strategies import (
    DB_SETTINGS,
    days_between,
    local,
    rolled_back,
    start_of_day,
    zones,
)


@st.composite
def due_days(draw) -> tuple[str, date]:
    tz = draw(zones)
    return tz, draw(days_between(date(2000, 1, 1), date(2100, 12, 1), tz))


def end_of_day(day: date, tz: str) -> datetime:
    return start_of_day(day + timedelta(days=1), tz) - timedelta(seconds=1)


def _outbox_for(email: str) -> list[OutboxMessage]:
    return list(
        db.session.scalars(db.select(OutboxMessage).where(OutboxMessage.to == email).order_by(OutboxMessage.id))
    )


@pytest.fixture
def open_task(make):
    """An attended ride-along's open debrief task, shared by the examples of a test (each moves its due date
    and its writer's timezone inside a savepoint that is rolled back)."""
    return make.attended_task(make.marketer())


LONDON_SPRING = (date(2027, 3, 29), timedelta(hours=-47, minutes=-30))  # Monday; Sunday 28 Mar has 23 hours
SYDNEY_SPRING = (date(2026, 10, 5), timedelta(hours=-47, minutes=-10))  # Monday; Sunday 4 Oct has 23 hours


@DB_SETTINGS
@given(
    case=due_days(),
    offset=st.one_of(
        st.timedeltas(min_value=timedelta(hours=-72), max_value=timedelta(hours=2)),
        st.timedeltas(min_value=timedelta(hours=-72), max_value=timedelta(days=22)),
    ),
)
@example(case=("Europe/London", LONDON_SPRING[0]), offset=LONDON_SPRING[1])
@example(case=("Australia/Sydney", SYDNEY_SPRING[0]), offset=SYDNEY_SPRING[1])
@example(case=("Europe/Berlin", date(2026, 10, 26)), offset=timedelta(hours=-48, minutes=-30))  # Sun 25 Oct: 25 hours
@example(case=("UTC", date(2026, 12, 1)), offset=timedelta(hours=1))
@example(case=("Europe/London", date(2000, 1, 1)), offset=timedelta(microseconds=1))  # just past due: "1 day"
def test_debrief_reminders_follow_the_writers_calendar(open_task, case, offset):
    from program.debriefs.mail import remind_debriefs

    tz, due_day = case
    with rolled_back():
        task = open_task
        rider = task.user
        rider.timezone = tz
        task.due_at = end_of_day(due_day, tz)
        db.session.flush()
        now = task.due_at + offset
        before = len(_outbox_for(rider.email))
        remind_debriefs(now)
        db.session.flush()
        sent = _outbox_for(rider.email)[before:]
        today = local(now, tz).date()
        if now > task.due_at:
            assert [m.subject.split(":")[0] for m in sent] == ["Overdue debrief"]
            late = max((today - due_day).days, 1)  # just past the due second on the due day still reads "1 day"
            assert f"is {late} day{'s' if late != 1 else ''} overdue" in sent[0].text_body
        elif today == due_day:
            assert [m.subject.split(":")[0] for m in sent] == ["Debrief due today"]
        elif today == due_day - timedelta(days=1):
            assert [m.subject.split(":")[0] for m in sent] == ["Debrief due tomorrow"]
        else:
            assert sent == [], f"{sent[0].subject!r} on {today}, due {due_day}"


@DB_SETTINGS
@given(
    person_tz=zones,
    host_tz=zones,
    day=days_between(date(2000, 2, 1), date(2100, 12, 1), "Europe/London"),
    hour=st.integers(min_value=0, max_value=22),
    ahead=st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(hours=30)),
)
@example(person_tz="Europe/London", host_tz="Europe/London", day=date(2026, 11, 23), hour=20, ahead=timedelta(hours=10))
def test_activity_reminder_once_in_the_last_24_hours_naming_the_local_day(make, person_tz, host_tz, day, hour, ahead):
    from program.activities import services as core
    from program.activities.reminders import remind_upcoming
    from program.errors import ValidationFailed
    from program.rides.services import CallData, offer_call

    with rolled_back(mail=False):
        host = make.user(role="staff", department="Sales", timezone=host_tz)
        person = make.marketer(timezone=person_tz)
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
            seats=2,
            cutoff_hours=0,
        )
        try:
            ride = offer_call(host, data, datetime.combine(day, time(0), UTC) - timedelta(days=3))
        except ValidationFailed as exc:
            assert set(exc.errors) <= {"start", "end"}  # that wall-clock hour doesn't exist that day (DST gap)
            return
        core.book_seat(ride.id, person, ride.starts_at - timedelta(days=2))
        db.session.info.pop("suppress_mail")  # from here on, mail is what is tested
        now = ride.starts_at - ahead
        before = len(_outbox_for(person.email))
        remind_upcoming(now)
        remind_upcoming(now + timedelta(minutes=30))  # the next cron run
        db.session.flush()
        sent = _outbox_for(person.email)[before:]
        if ahead > timedelta(hours=24, minutes=30):
            assert sent == []  # more than 24 hours ahead at both runs
            return
        assert len(sent) == 1  # once, by the first run within 24 hours of the start
        reminded_at = now if ahead <= timedelta(hours=24) else now + timedelta(minutes=30)
        start_day = local(ride.starts_at, person_tz).date()
        reminded_on = local(reminded_at, person_tz).date()
        word = {0: "Today", 1: "Tomorrow"}.get((start_day - reminded_on).days, start_day.strftime("%A %d %b"))
        assert sent[0].subject.startswith(f"{word}:"), (sent[0].subject, reminded_on, start_day)


STAGES = (None, "before", "due-day", "overdue")


@given(
    case=due_days(),
    times=st.lists(
        st.timedeltas(min_value=timedelta(hours=-80), max_value=timedelta(hours=80)), min_size=2, max_size=6
    ),
)
@example(case=("America/Santiago", date(2026, 4, 5)), times=[timedelta(hours=-49), timedelta(hours=-24, minutes=-30)])
@example(case=("Australia/Lord_Howe", date(2026, 10, 5)), times=[timedelta(hours=-47, minutes=-45), timedelta(0)])
def test_debrief_reminder_stages_are_whole_local_days_in_order(case, times):
    """None → "before" (all of the writer's day before the due day) → "due-day" (the due day, to its last
    second) → "overdue", never going back as time passes."""
    from program.debriefs.mail import reminder_stage

    tz, due_day = case
    due = end_of_day(due_day, tz)
    day_before = start_of_day(due_day - timedelta(days=1), tz)
    due_day_starts = start_of_day(due_day, tz)
    second = timedelta(seconds=1)
    assert reminder_stage(due, day_before - second, tz) is None
    assert reminder_stage(due, day_before, tz) == reminder_stage(due, due_day_starts - second, tz) == "before"
    assert reminder_stage(due, due_day_starts, tz) == reminder_stage(due, due, tz) == "due-day"
    assert reminder_stage(due, due + timedelta(microseconds=1), tz) == "overdue"
    ranks = [STAGES.index(reminder_stage(due, due + t, tz)) for t in sorted(times)]
    assert ranks == sorted(ranks)


@pytest.fixture
def open_action(make, now):
    """An open action item from a review meeting, shared by the examples of a test (each moves its due date
    and its owner's timezone inside a savepoint that is rolled back)."""
    from program.reviews import actions
    from tests.factories.reviews import facilitator, schedule

    owner = make.marketer()
    activity = schedule(facilitator(make), people=[owner])
    return actions.add_action(
        activity, activity.host, actions.ActionData("Fix the demo form", owner.id, now.date()), now
    )


@DB_SETTINGS
@given(case=due_days(), offset=st.timedeltas(min_value=timedelta(hours=-80), max_value=timedelta(days=20)))
@example(case=("Pacific/Chatham", date(2026, 11, 25)), offset=timedelta(hours=-47))
def test_action_reminders_follow_the_owners_calendar(open_action, case, offset):
    """An action due on day D: "due tomorrow" on the owner's D-1, "due today" on D (if the day before was
    missed), then "overdue by N days" — N counted in the owner's local days."""
    from program.reviews.mail import remind_action_items

    tz, due = case
    with rolled_back():
        item = open_action
        item.owner.timezone = tz
        item.due_date = due
        db.session.flush()
        now = start_of_day(due, tz) + offset
        before = len(_outbox_for(item.owner.email))
        remind_action_items(now)
        db.session.flush()
        sent = _outbox_for(item.owner.email)[before:]
        today = local(now, tz).date()
        subjects = [m.subject.split(":")[0] for m in sent]
        if today > due:
            late = (today - due).days
            assert subjects == ["Overdue action"]
            assert f"overdue by {late} day{'s' if late != 1 else ''}:" in sent[0].text_body
        elif today == due:
            assert subjects == ["Action due today"]
        elif today == due - timedelta(days=1):
            assert subjects == ["Action due tomorrow"]
        else:
            assert subjects == []
