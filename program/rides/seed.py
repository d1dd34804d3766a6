"""Demo ride-alongs: three weeks back and three weeks ahead, with bookings, waitlists and attendance."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from program.accounts.models import User
from program.activities import services as core
from program.errors import DomainError
from program.extensions import db
from program.rides.models import CALL_TYPES, FUNNEL_STAGES, SEGMENTS
from program.rides.services import CallData, count_rides, offer_call

ACCOUNTS = [
    "Northwind Traders",
    "Globex Corporation",
    "Initech",
    "Umbrella Health",
    "Stark Logistics",
    "Wayne Foods",
    "Hooli Cloud",
    "Vandelay Imports",
    "Soylent Retail",
    "Tyrell Systems",
    "Cyberdyne Labs",
    "Wonka Confectionery",
    "Pied Piper",
    "Gringotts Finance",
    "Acme Manufacturing",
    "Oceanic Airlines",
    "Massive Dynamic",
    "Aperture Science",
]
BRIEFINGS = [
    "Join five minutes early. Cameras on, microphones muted. Listen for how they describe the problem in their words.",
    "Second call with this prospect. Please read the discovery notes in the CRM first; note every objection you hear.",
    "Renewal conversation. Note what they say about onboarding and the content they used. No product questions please.",
]


def seed_rides(now: datetime) -> str:
    """Create the demo calls unless some exist. Mail is suppressed while seeding."""
    if count_rides():
        return ", ride-alongs already present"
    rng = random.Random(7)
    users = {u.email: u for u in db.session.scalars(select(User))}
    reps = [u for u in users.values() if u.function == "sales" and u.role == "staff"]
    reps.sort(key=lambda u: (u.email != "rep@example.com", u.email))
    marketers = sorted(
        (u for u in users.values() if u.function == "marketing" and u.role == "staff"), key=lambda u: u.email
    )
    marketer = users.get("marketer@example.com")
    db.session.info["suppress_mail"] = True
    created = 0
    try:
        for i, offset in enumerate(list(range(-24, 0, 2)) + list(range(1, 22, 2))):
            host = reps[i % len(reps)]
            zone = ZoneInfo(host.timezone)
            day = (now.astimezone(zone) + timedelta(days=offset)).date()
            if day.weekday() >= 5:
                day += timedelta(days=7 - day.weekday())
            start = time(9 + rng.randrange(0, 7), rng.choice([0, 30]))
            end = (datetime.combine(day, start) + timedelta(minutes=rng.choice([30, 45, 60]))).time()
            seats = rng.choice([1, 2, 2, 3])
            call_type = rng.choice([c for c, _ in CALL_TYPES])
            data = CallData(
                host_id=host.id,
                account_name=ACCOUNTS[i % len(ACCOUNTS)],
                segment=rng.choice(SEGMENTS),
                funnel_stage=rng.choice(FUNNEL_STAGES),
                call_type=call_type,
                day=day,
                start=start,
                end=end,
                timezone=host.timezone,
                video_url="https://meet.example.com/" + ACCOUNTS[i % len(ACCOUNTS)].lower().replace(" ", "-"),
                seats=seats,
                cutoff_hours=12,
                briefing=BRIEFINGS[i % len(BRIEFINGS)],
                hide_account=i % 5 == 4,
            )
            offered_at = now - timedelta(days=40)
            activity = offer_call(host, data, offered_at)
            created += 1
            booked_at = (
                activity.starts_at - timedelta(days=4) if offset < 0 else now - timedelta(hours=rng.randrange(2, 48))
            )
            booked_at = max(booked_at, offered_at + timedelta(hours=1))
            if offset < 0:
                wanted = seats + 1
            else:
                wanted = (
                    seats + 2 if i % 4 == 1 else max(seats - 1 - rng.randrange(0, 2), 0) if i % 4 in (0, 2) else seats
                )
            riders = rng.sample(marketers, k=min(len(marketers), wanted))
            if marketer is not None and offset > 0 and i % 3 == 0 and marketer not in riders:
                riders.insert(0, marketer)
            for rider in riders:
                try:
                    core.book_seat(activity.id, rider, booked_at)
                except DomainError:
                    continue
                booked_at += timedelta(minutes=17)
            if offset < 0:
                if i == 2:
                    core.cancel_activity(
                        activity, host, "The customer moved the meeting.", activity.starts_at - timedelta(days=2)
                    )
                    continue
                for n, p in enumerate(activity.participations):
                    if p.state == "booked":
                        core.mark_attendance(
                            p, host, attended=(n + i) % 5 != 0, now=activity.ends_at + timedelta(hours=1)
                        )
        db.session.flush()
    finally:
        db.session.info.pop("suppress_mail", None)
    return f", {created} ride-alongs"
