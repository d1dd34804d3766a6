"""Invites as a calendar client applies them (RFC 5545 3.8.7.4, RFC 5546 2.1.4): a message about an event is
applied only when its SEQUENCE is higher than the last one the client applied for that UID, and ignored
otherwise. Every invite one attendee receives is replayed, in the order received, through such a client;
afterwards the client must show what Tandem shows. Each invite is read by two independent readers: vobject,
and the small RFC 5545 reader below (the icalendar library wrote them, so it may not judge them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from program.activities import services as core
from program.activities.models import ON_CALENDAR, Activity, Participation, State
from program.extensions import db
from program.reviews import invitations, meetings
from program.rides.services import call_data_from, update_call
from tests.conftest import calendar_part, parse_ics
from tests.factories.reviews import facilitator, place, schedule

# --- an RFC 5545 reader, by hand -----------------------------------------------------------------------------


def unfold(text: str) -> list[str]:
    """RFC 5545 3.1: a line break followed by one space or tab continues the previous line."""
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] += raw[1:]
        elif raw:
            lines.append(raw)
    return lines


def content_line(line: str) -> tuple[str, dict[str, str], str]:
    """name *(";" param) ":" value — a colon inside a quoted parameter value does not end the name part."""
    quoted = False
    for i, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            head, value = line[:i], line[i + 1 :]
            break
    else:
        raise AssertionError(f"not a content line: {line!r}")
    name, *params = head.split(";")
    return name.upper(), dict(p.split("=", 1) for p in params), value


def ics_date_time(value: str, params: dict[str, str]) -> date | datetime:
    if params.get("VALUE") == "DATE":
        return datetime.strptime(value, "%Y%m%d").date()
    assert value.endswith("Z"), f"expected a UTC time, got {value!r}"
    return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class Invite:
    method: str
    uid: str
    sequence: int
    dtstart: date | datetime
    status: str


def read_by_hand(text: str) -> Invite:
    method, event, depth = None, {}, []
    for line in unfold(text):
        name, params, value = content_line(line)
        if name == "BEGIN":
            depth.append(value.upper())
        elif name == "END":
            assert depth.pop() == value.upper()
        elif depth == ["VCALENDAR"] and name == "METHOD":
            method = value
        elif depth == ["VCALENDAR", "VEVENT"]:
            event[name] = (params, value)
    assert depth == [] and method
    return Invite(
        method=method,
        uid=event["UID"][1],
        sequence=int(event.get("SEQUENCE", ({}, "0"))[1]),
        dtstart=ics_date_time(event["DTSTART"][1], event["DTSTART"][0]),
        status=event["STATUS"][1],
    )


def read_by_vobject(text: str) -> Invite:
    cal = parse_ics(text)
    ev = cal.vevent
    return Invite(cal.method.value, ev.uid.value, int(ev.sequence.value), ev.dtstart.value, ev.status.value)


# --- a calendar client ---------------------------------------------------------------------------------------


@dataclass
class Client:
    """Keeps, per UID, the highest SEQUENCE applied; applies REQUEST (add or replace) and CANCEL (remove) only
    when the message is newer, as a client must (an equal or older SEQUENCE is a duplicate or out of date)."""

    shown: dict[str, date | datetime] = field(default_factory=dict)
    applied: dict[str, int] = field(default_factory=dict)
    ignored: list[Invite] = field(default_factory=list)

    def receive(self, invite: Invite) -> None:
        if invite.uid in self.applied and invite.sequence <= self.applied[invite.uid]:
            self.ignored.append(invite)
            return
        self.applied[invite.uid] = invite.sequence
        if invite.method == "REQUEST":
            self.shown[invite.uid] = invite.dtstart
        elif invite.method == "CANCEL":
            self.shown.pop(invite.uid, None)


class Inbox:
    """Reads each new invite to one address with both readers (they must agree) and hands it to the client."""

    def __init__(self, mail, address: str) -> None:
        self.mail, self.address, self.seen, self.client, self.invites = mail, address, 0, Client(), []

    def deliver(self, expect: int = 1) -> list[Invite]:
        msgs = self.mail.wait_for(self.address, self.seen + expect)[self.seen :]
        assert len(msgs) == expect, [m["Subject"] for m in msgs]
        self.seen += expect
        new = []
        for msg in msgs:
            part = calendar_part(msg)
            if part is None:
                continue
            text = part.get_content()
            invite = read_by_hand(text)
            assert read_by_vobject(text) == invite
            assert part.get_param("method") == invite.method
            self.client.receive(invite)
            self.invites.append(invite)
            new.append(invite)
        return new


def tandem_shows(p: Participation) -> dict[str, date | datetime]:
    """What the attendee's place in Tandem says belongs in their calendar."""
    db.session.expire_all()
    p = db.session.get(Participation, p.id)
    activity: Activity = p.activity
    on_calendar = p.state in ON_CALENDAR or p.state == State.INVITED.value
    if activity.is_cancelled or not on_calendar:
        return {}
    return {activity.ical_uid: activity.starts_at}


def assert_in_step(inbox: Inbox, p: Participation) -> None:
    assert inbox.client.shown == tandem_shows(p), f"ignored: {inbox.client.ignored}"
    assert inbox.client.ignored == []
    sequences = [i.sequence for i in inbox.invites]
    assert sequences == sorted(set(sequences)), f"SEQUENCE must rise with every message: {sequences}"


# --- the replays ---------------------------------------------------------------------------------------------


def test_book_cancel_rebook_move_cancel_replays_to_what_tandem_shows(make, now, mail):
    ride = make.ride_along(seats=2, starts_in=timedelta(days=4))
    rider = make.marketer(email="replay@example.com")
    inbox = Inbox(mail, "replay@example.com")
    db.session.commit()

    p = core.book_seat(ride.id, rider, now)
    db.session.commit()
    assert [i.method for i in inbox.deliver()] == ["REQUEST"]
    assert_in_step(inbox, p)
    assert ride.ical_uid in inbox.client.shown

    core.cancel_booking(p, rider, now + timedelta(hours=1))
    db.session.commit()
    assert [i.method for i in inbox.deliver()] == ["CANCEL"]
    assert_in_step(inbox, p)
    assert inbox.client.shown == {}

    core.book_seat(ride.id, rider, now + timedelta(hours=2))  # rebooked: the event must come back
    db.session.commit()
    assert [i.method for i in inbox.deliver()] == ["REQUEST"]
    assert_in_step(inbox, p)
    assert ride.ical_uid in inbox.client.shown

    data = call_data_from(ride)
    data.start, data.end = data.start.replace(hour=15), data.end.replace(hour=16)
    update_call(ride.host, ride, data, now + timedelta(hours=3))  # the host moves the call
    db.session.commit()
    assert [i.method for i in inbox.deliver()] == ["REQUEST"]
    assert_in_step(inbox, p)
    assert inbox.client.shown[ride.ical_uid] == ride.starts_at and ride.starts_at.hour == 15

    core.cancel_activity(ride, ride.host, "Customer postponed", now + timedelta(hours=4))
    db.session.commit()
    assert [i.method for i in inbox.deliver()] == ["CANCEL"]
    assert_in_step(inbox, p)
    assert inbox.client.shown == {}
    assert {i.uid for i in inbox.invites} == {ride.ical_uid}


def test_a_waitlisted_rider_offered_a_seat_sees_the_event(make, now, mail):
    ride = make.ride_along(seats=1, starts_in=timedelta(days=4))
    first, rider = make.marketer(), make.marketer(email="wl@example.com")
    inbox = Inbox(mail, "wl@example.com")
    pf = core.book_seat(ride.id, first, now)
    p = core.book_seat(ride.id, rider, now)
    db.session.commit()
    inbox.deliver()  # "on the waitlist": no invite
    core.cancel_booking(pf, first, now)
    db.session.commit()
    inbox.deliver()  # the offer: no invite
    core.accept_offer(db.session.get(Participation, p.id), rider, now)
    db.session.commit()
    assert [i.method for i in inbox.deliver()] == ["REQUEST"]
    core.cancel_booking(db.session.get(Participation, p.id), rider, now)
    db.session.commit()
    assert [i.method for i in inbox.deliver()] == ["CANCEL"]
    assert_in_step(inbox, p)
    assert inbox.client.shown == {}


def test_meeting_invite_yes_move_cancel_replays_to_what_tandem_shows(make, now, mail):
    host = facilitator(make)
    person = make.marketer(email="meet@example.com")
    inbox = Inbox(mail, "meet@example.com")
    activity = schedule(host, people=[person])
    db.session.commit()
    p = place(activity, person)
    assert [i.method for i in inbox.deliver()] == ["REQUEST"]  # the invitation
    assert_in_step(inbox, p)

    invitations.rsvp(p, person, "yes", now)
    db.session.commit()
    assert [i.method for i in inbox.deliver()] == ["REQUEST"]  # the confirmation of the yes
    assert_in_step(inbox, p)

    data = meetings.meeting_data_from(activity)
    data.start, data.end = data.start.replace(hour=16), data.end.replace(hour=17)
    meetings.update_meeting(host, activity, data, now)
    db.session.commit()
    assert [i.method for i in inbox.deliver()] == ["REQUEST"]
    assert_in_step(inbox, p)
    assert inbox.client.shown[activity.ical_uid].hour == 16

    meetings.cancel_meeting(host, activity, "Quarter close", now)
    db.session.commit()
    assert [i.method for i in inbox.deliver()] == ["CANCEL"]
    assert_in_step(inbox, p)
    assert inbox.client.shown == {}


def test_the_hand_reader_reads_folded_lines_and_quoted_colons():
    text = (
        "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:abc@tan\r\n dem\r\nSEQUENCE:\r\n\t7\r\n"
        'ATTENDEE;CN="Zoë: Sales";PARTSTAT=ACCEPTED:mailto:z@example.com\r\n'
        "DTSTART:20261127T100000Z\r\nSTATUS:CONFIRMED\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert read_by_hand(text) == Invite("REQUEST", "abc@tandem", 7, datetime(2026, 11, 27, 10, tzinfo=UTC), "CONFIRMED")
    assert content_line('ATTENDEE;CN="a:b":mailto:x') == ("ATTENDEE", {"CN": '"a:b"'}, "mailto:x")
