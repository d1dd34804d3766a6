"""Review meetings, mail: invitations with ICS and one-click answers, updates and cancellations read back with
an independent parser, and `flask send-reminders` for action items (idempotent)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from program.activities.models import State
from program.extensions import db
from program.jobs import run_all
from program.mail.models import OutboxMessage
from program.reviews import actions, invitations, meetings
from program.reviews.mail import rsvp_token
from tests.conftest import body_text, calendar_part, parse_ics
from tests.factories.reviews import facilitator, place, schedule

JOB = "action item reminders"


def _vevent(msg):
    part = calendar_part(msg)
    assert part is not None, "no text/calendar part"
    cal = parse_ics(part.get_content())
    return cal, cal.vevent


def _answer_links(msg) -> dict[str, str]:
    return dict(re.findall(r"(Yes|No|Maybe):\s+(http\S+)", body_text(msg)))


def test_invitation_carries_a_request_and_answer_links(make, mail):
    host = facilitator(make, name="Fay Facilitator")
    activity = schedule(host, people=[make.marketer(email="inv@example.com")], title="Where leads stall")
    db.session.commit()
    (msg,) = mail.wait_for("inv@example.com")
    assert msg["Subject"] == "Invitation: Funnel Reality Check: Where leads stall"
    cal, event = _vevent(msg)
    assert cal.method.value == "REQUEST"
    assert event.uid.value == activity.ical_uid
    assert int(event.sequence.value) == 0
    assert event.status.value == "CONFIRMED"
    assert event.summary.value == "Funnel Reality Check: Where leads stall"
    assert event.attendee.params["PARTSTAT"] == ["NEEDS-ACTION"]
    assert event.organizer.value == f"mailto:{host.email}"
    text = body_text(msg)
    assert "Fay Facilitator invites you" in text and "1. The funnel" in text
    assert set(_answer_links(msg)) == {"Yes", "No", "Maybe"}


def test_one_click_answer_from_the_email(make, mail, client):
    person = make.marketer(email="click@example.com")
    activity = schedule(facilitator(make), people=[person])
    db.session.commit()
    (msg,) = mail.wait_for("click@example.com")
    link = _answer_links(msg)["Yes"]
    path = link.replace("http://tandem.test", "")
    page = client.get(path)
    assert page.status_code == 200
    assert b"Yes, I&#39;ll come" in page.data and b"Confirm your answer" in page.data
    assert place(activity, person).state == State.INVITED.value  # a GET never answers
    resp = client.post(path.split("?")[0], data={"answer": "yes"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert place(activity, person).state == State.BOOKED.value
    follow = client.get(resp.headers["Location"])
    assert b"your answer is recorded: yes" in follow.data
    client.post(path.split("?")[0], data={"answer": "no"})
    db.session.expire_all()
    assert place(activity, person).state == State.DECLINED.value


def test_answer_link_refuses_forged_and_foreign_tokens(make, client):
    a, b = make.marketer(), make.marketer()
    activity = schedule(facilitator(make), people=[a, b])
    db.session.commit()
    assert client.get("/meetings/rsvp/not-a-token").status_code == 404
    token = rsvp_token(place(activity, a))
    assert client.post(f"/meetings/rsvp/{token[:-2]}xx", data={"answer": "yes"}).status_code == 404
    ride = make.ride_along()
    from program.activities import services as core

    seat = core.book_seat(ride.id, a, ride.starts_at - timedelta(days=1))
    db.session.commit()
    assert client.get(f"/meetings/rsvp/{rsvp_token(seat)}").status_code == 404  # not a meeting
    assert client.post(f"/meetings/rsvp/{token}", data={"answer": "sure"}).status_code == 400
    db.session.expire_all()
    assert place(activity, a).state == State.INVITED.value


def test_answer_link_after_the_start_changes_nothing(make, app, client):
    person = make.marketer()
    activity = schedule(facilitator(make), people=[person], starts_in=timedelta(days=1))
    db.session.commit()
    token = rsvp_token(place(activity, person))
    app.config["FIXED_NOW"] = activity.starts_at + timedelta(minutes=5)
    page = client.get(f"/meetings/rsvp/{token}")
    assert b"Answers are closed" in page.data
    resp = client.post(f"/meetings/rsvp/{token}", data={"answer": "yes"}, follow_redirects=True)
    assert b"answers are closed" in resp.data
    db.session.expire_all()
    assert place(activity, person).state == State.INVITED.value


def test_reschedule_sends_one_update_each_with_a_higher_sequence(make, mail, now):
    host = facilitator(make)
    waiting, coming = make.marketer(email="waiting@example.com"), make.marketer(email="coming@example.com")
    activity = schedule(host, people=[waiting, coming])
    invitations.rsvp(place(activity, coming), coming, "yes", now)
    db.session.commit()
    mail.wait_for("coming@example.com", 2)  # invitation, then the core's confirmation of the yes
    mail.clear()
    data = meetings.meeting_data_from(activity)
    data.start, data.end = data.start.replace(hour=16), data.end.replace(hour=17)
    meetings.update_meeting(host, activity, data, now)
    db.session.commit()
    # each attendee's SEQUENCE: the meeting's (1 after the move) + their own changes (the yes was one: its
    # confirmation carried 1, so the update must carry 2)
    for address, partstat, sequence in (
        ("waiting@example.com", "NEEDS-ACTION", 1),
        ("coming@example.com", "ACCEPTED", 2),
    ):
        (msg,) = mail.wait_for(address)
        assert msg["Subject"].startswith("Updated: Funnel Reality Check")
        cal, event = _vevent(msg)
        assert (cal.method.value, event.uid.value, int(event.sequence.value)) == (
            "REQUEST",
            activity.ical_uid,
            sequence,
        )
        assert event.dtstart.value.hour == 16
        assert event.attendee.params["PARTSTAT"] == [partstat]
    assert len(mail.to("waiting@example.com")) == len(mail.to("coming@example.com")) == 1
    assert set(_answer_links(mail.to("waiting@example.com")[0])) == {"Yes", "No", "Maybe"}


def test_cancellation_reaches_invited_and_booked_people_as_cancel(make, mail, now):
    host = facilitator(make)
    waiting, coming = make.marketer(email="w2@example.com"), make.marketer(email="c2@example.com")
    declined = make.marketer(email="d2@example.com")
    activity = schedule(host, people=[waiting, coming, declined])
    invitations.rsvp(place(activity, coming), coming, "yes", now)
    invitations.rsvp(place(activity, declined), declined, "no", now)
    db.session.commit()
    mail.wait_for("c2@example.com", 2)
    mail.wait_for("d2@example.com", 1)
    mail.clear()
    meetings.cancel_meeting(host, activity, "Quarter close", now)
    db.session.commit()
    for address, sequence in (("w2@example.com", 1), ("c2@example.com", 2)):  # c2's yes raised theirs by one
        msgs = mail.wait_for(address)
        cancels = [m for m in msgs if calendar_part(m) is not None]
        assert len(cancels) == 1
        cal, event = _vevent(cancels[0])
        assert (cal.method.value, event.status.value) == ("CANCEL", "CANCELLED")
        assert (event.uid.value, int(event.sequence.value)) == (activity.ical_uid, sequence)
        assert "Quarter close" in body_text(cancels[0])
    assert mail.to("d2@example.com") == []  # said no: nothing to take out of their calendar


def test_an_invited_person_gets_exactly_one_cancellation(make, mail, now):
    host = facilitator(make)
    activity = schedule(host, people=[make.marketer(email="once@example.com")])
    db.session.commit()
    mail.wait_for("once@example.com")
    mail.clear()
    meetings.cancel_meeting(host, activity, "", now)
    db.session.commit()
    mail.wait_for("once@example.com")
    assert len(mail.to("once@example.com")) == 1


# --- action item reminders -----------------------------------------------------------------------


def _reminders_to(address: str) -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.to == address, OutboxMessage.subject.ilike("%action%"))
            .order_by(OutboxMessage.id)
        )
    )


def _meeting_with_action(make, now, due_in_days: int, email: str):
    host = facilitator(make)
    owner = make.marketer(email=email)
    activity = schedule(host, people=[owner])
    item = actions.add_action(
        activity, host, actions.ActionData("Fix the demo form", owner.id, now.date() + timedelta(days=due_in_days)), now
    )
    db.session.commit()
    return activity, item


def test_reminder_the_day_before_then_weekly_while_overdue(make, now):
    _activity, item = _meeting_with_action(make, now, 1, "owner@example.com")
    assert dict(run_all(now - timedelta(days=1)))[JOB] == 0  # two days ahead: nothing yet
    assert dict(run_all(now))[JOB] == 1
    assert dict(run_all(now + timedelta(hours=2)))[JOB] == 0  # idempotent
    db.session.commit()
    (first,) = _reminders_to("owner@example.com")
    assert first.subject == "Action due tomorrow: Fix the demo form"
    day = timedelta(days=1)
    results = [dict(run_all(now + n * day))[JOB] for n in (1, 2, 3, 4, 8, 9, 15, 16)]
    db.session.commit()
    # due day (already reminded) · week 1 overdue from the day after · quiet · quiet · week 2 from day 8 ·
    # quiet through day 14 · week 3 from day 15
    assert results == [0, 1, 0, 0, 0, 1, 0, 1]
    subjects = [m.subject for m in _reminders_to("owner@example.com")]
    assert subjects == ["Action due tomorrow: Fix the demo form"] + ["Overdue action: Fix the demo form"] * 3
    assert "overdue by 1 day:" in _reminders_to("owner@example.com")[1].text_body


def test_no_reminders_for_closed_actions_or_cancelled_meetings(make, now):
    _a, done = _meeting_with_action(make, now, 1, "done@example.com")
    actions.set_action_status(done, done.owner, "done", now)
    activity, _item = _meeting_with_action(make, now, 1, "cancelled@example.com")
    meetings.cancel_meeting(activity.host, activity, "", now)
    db.session.commit()
    assert dict(run_all(now))[JOB] == 0
    assert dict(run_all(now + timedelta(days=3)))[JOB] == 0


def test_a_new_due_date_restarts_the_reminders(make, now):
    activity, item = _meeting_with_action(make, now, 1, "moved@example.com")
    assert dict(run_all(now))[JOB] == 1
    actions.update_action(
        item, activity.host, actions.ActionData(item.title, item.owner_id, now.date() + timedelta(days=5)), now
    )
    db.session.commit()
    assert dict(run_all(now + timedelta(days=4)))[JOB] == 1


def test_cli_send_reminders_is_idempotent(app, make, now):
    _meeting_with_action(make, now, 1, "cli-owner@example.com")
    runner = app.test_cli_runner()
    first = runner.invoke(args=["send-reminders"])
    second = runner.invoke(args=["send-reminders"])
    assert first.exit_code == second.exit_code == 0
    assert f"{JOB}: 1" in first.output and f"{JOB}: 0" in second.output
    assert len(_reminders_to("cli-owner@example.com")) == 1


def test_an_answer_is_not_mistaken_for_a_new_invitation(make, mail, now):
    person = make.marketer(email="maybe@example.com")
    activity = schedule(facilitator(make), people=[person])
    db.session.commit()
    mail.wait_for("maybe@example.com")
    mail.clear()
    invitations.rsvp(place(activity, person), person, "maybe", now)
    invitations.rsvp(place(activity, person), person, "no", now)
    db.session.commit()
    assert mail.to("maybe@example.com") == []
    invitations.invite_people(activity, activity.host, [person], now)  # the facilitator asks again after a no
    db.session.commit()
    (again,) = mail.wait_for("maybe@example.com")
    assert again["Subject"].startswith("Invitation:")
