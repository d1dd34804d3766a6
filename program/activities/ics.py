"""ICS building — pure functions: activities in, bytes out (``attendee_sequence`` counts history rows).

Timed events are written in UTC (every client agrees on the instant); all-day events (shadow days) use
DATE values with DTEND the day after. The UID of an activity never changes and SEQUENCE rises with
every change, so a client replaces the event instead of adding a second one. An invite's SEQUENCE is the
attendee's own (``attendee_sequence``): it also rises when their place changes (cancel, book again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText
from sqlalchemy import func, inspect, select

from program.activities.models import Activity, Participation, ParticipationEvent, State
from program.extensions import db
from program.timeutil import UTC

PRODID = "-//Tandem//Sales and Marketing Alignment//EN"


@dataclass(frozen=True)
class Attendee:
    email: str
    name: str
    partstat: str = "ACCEPTED"  # ACCEPTED | NEEDS-ACTION | DECLINED | TENTATIVE


def attendee_sequence(p: Participation) -> int:
    """The SEQUENCE of an invite to one attendee: the activity's SEQUENCE (which the host's changes raise)
    plus one for each change of the attendee's place after the first (their history rows), leaving out a
    cancellation by the host, which raised the activity's SEQUENCE itself.

    Both terms only grow, and every invite an attendee gets follows a rise of one of them, so each carries a
    higher SEQUENCE than the one before (RFC 5546 2.1.4). Without the second term a rider's own CANCEL, or the
    REQUEST after booking again, repeats the SEQUENCE the client already has, and the client ignores it.
    """
    if "events" in inspect(p).unloaded:  # count them in the database rather than load the whole history
        own_changes = db.session.scalar(
            select(func.count(ParticipationEvent.id)).where(
                ParticipationEvent.participation_id == p.id,
                ParticipationEvent.to_state != State.CANCELLED_BY_HOST.value,
            )
        )
    else:
        own_changes = sum(1 for e in p.events if e.to_state != State.CANCELLED_BY_HOST.value)
    return p.activity.ical_sequence + max(own_changes - 1, 0)


def _event(
    activity: Activity,
    *,
    now: datetime,
    summary: str,
    description: str,
    url: str,
    cancelled: bool,
    attendees: list[Attendee],
    sequence: int | None = None,
) -> Event:
    event = Event()
    event.add("uid", activity.ical_uid)
    event.add("sequence", activity.ical_sequence if sequence is None else sequence)
    event.add("dtstamp", now.astimezone(UTC))
    if activity.all_day:
        local_start = activity.starts_at.astimezone(ZoneInfo(activity.timezone)).date()
        event.add("dtstart", local_start)
        event.add("dtend", local_start + timedelta(days=1))
    else:
        event.add("dtstart", activity.starts_at.astimezone(UTC))
        event.add("dtend", activity.ends_at.astimezone(UTC))
    event.add("summary", summary)
    if description:
        event.add("description", description)
    location = activity.location or activity.video_url
    if location:
        event.add("location", location)
    if url:
        event.add("url", url)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    organizer = vCalAddress(f"mailto:{activity.host.email}")
    organizer.params["cn"] = vText(activity.host.name)
    event.add("organizer", organizer)
    for person in attendees:
        address = vCalAddress(f"mailto:{person.email}")
        address.params["cn"] = vText(person.name)
        address.params["role"] = vText("REQ-PARTICIPANT")
        address.params["partstat"] = vText("DECLINED" if cancelled else person.partstat)
        event.add("attendee", address, encode=0)
    return event


def _calendar(method: str | None, name: str | None = None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    if name:
        cal.add("x-wr-calname", name)
    return cal


def invite_ics(
    activity: Activity,
    attendee: Attendee,
    *,
    method: str,
    now: datetime,
    summary: str,
    description: str = "",
    url: str = "",
    sequence: int | None = None,
) -> bytes:
    """A one-event invitation: METHOD:REQUEST (new or changed) or METHOD:CANCEL (STATUS:CANCELLED).

    ``sequence`` is the attendee's (``attendee_sequence``); without it, the activity's."""
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"unsupported METHOD {method}")
    cal = _calendar(method)
    cal.add_component(
        _event(
            activity,
            now=now,
            summary=summary,
            description=description,
            url=url,
            cancelled=method == "CANCEL",
            attendees=[attendee],
            sequence=sequence,
        )
    )
    return cal.to_ical()


@dataclass(frozen=True)
class FeedEntry:
    activity: Activity
    summary: str
    description: str
    url: str
    cancelled: bool


def feed_ics(entries: list[FeedEntry], *, now: datetime, name: str) -> bytes:
    """A subscription feed (no METHOD): one VEVENT per activity, cancelled ones as STATUS:CANCELLED."""
    cal = _calendar(None, name=name)
    cal.add("refresh-interval", timedelta(hours=1), parameters={"value": "DURATION"})
    for entry in entries:
        cal.add_component(
            _event(
                entry.activity,
                now=now,
                summary=entry.summary,
                description=entry.description,
                url=entry.url,
                cancelled=entry.cancelled,
                attendees=[],
            )
        )
    return cal.to_ical()
