"""Demo review meetings: one past Funnel Reality Check (attendance, notes, action items — the funnel numbers,
mini-teams and ideas are seeded into it by the funnel part, which finds it as the one past meeting of format
``funnel_reality_check``), one upcoming win/loss playback, a past lead-definition session with the definition
in force and a newer proposal awaiting sign-off, and the next Funnel Reality Check, which shows the open actions
carried over. Built through the services, with mail suppressed."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from program.accounts.models import Team, User
from program.activities.models import Activity, State
from program.extensions import db
from program.reviews import actions, invitations, lead_definitions, meetings
from program.reviews.models import ActionStatus, MeetingFormat, ReviewMeeting

FRC_AGENDA = """1. The funnel as it stands: stage counts and conversion, last quarter vs. this one (10 min)
2. Where good leads stall: MQL → SQL, and SQL → opportunity (20 min)
3. Mini-teams: one idea per stage, sized by effort and expected lift (40 min)
4. Agree owners and dates (20 min)"""
FRC_NOTES = """- MQL → SQL fell from 31 % to 24 %. Reps say too many MQLs come from webinar attendance alone.
- Enterprise deals stall after the first demo when the budget holder isn't on the call.
- Ideas: budget-holder question on the demo request form; a 15-minute weekly rejected-SQL review; retire the webinar-only trigger.
- Agreed owners below. Next check in four weeks."""
PLAYBACK_AGENDA = """1. Three wins and three losses from last quarter, told by the rep (30 min)
2. What marketing heard in the same accounts: content used, events attended (15 min)
3. Reason codes: do they match what we heard? (15 min)"""
LEAD_AGENDA = """1. What sales rejects today, and why (15 min)
2. Fit, intent and timing criteria: draft and agree (30 min)
3. Sign-off and effective date (15 min)"""
LEAD_V1 = """Fit: company of 200+ employees in a target segment (Enterprise, Mid-Market, Public Sector).
Intent: requested a demo or pricing, or two high-intent page visits within 14 days.
Timing: a project or budget decision within the next two quarters.
Contact: a named person at manager level or above."""
LEAD_V2 = """Fit: company of 200+ employees in a target segment (Enterprise, Mid-Market, Public Sector).
Intent: requested a demo or pricing; webinar attendance alone no longer qualifies.
Timing: a project or budget decision within the next two quarters.
Contact: the budget holder, or a manager who names them."""


def _weekday(d: date, *, forward: bool) -> date:
    while d.weekday() >= 5:
        d += timedelta(days=1 if forward else -1)
    return d


def _data(
    title: str, fmt: str, host: User, day: date, start: time, minutes: int, agenda: str, room: str
) -> meetings.MeetingData:
    end = (datetime.combine(day, start) + timedelta(minutes=minutes)).time()
    return meetings.MeetingData(
        title=title,
        format=fmt,
        day=day,
        start=start,
        end=end,
        timezone=host.timezone,
        location=room,
        video_url="https://meet.example.com/" + fmt.replace("_", "-"),
        agenda=agenda,
    )


def _answer(activity: Activity, rng: random.Random, at: datetime, weights=(7, 2, 1)) -> None:
    for p in list(activity.participations):
        answer = rng.choices(["yes", "maybe", "no"], weights=weights)[0]
        invitations.rsvp(p, p.user, answer, at + timedelta(minutes=rng.randrange(0, 600)))


def _take_attendance(activity: Activity, rng: random.Random) -> None:
    at = activity.ends_at + timedelta(minutes=20)
    for p in list(activity.participations):
        if p.state == State.BOOKED.value:
            invitations.take_attendance(p, activity.host, rng.random() > 0.12, at)
        elif p.state == State.INVITED.value and p.rsvp == "maybe" and rng.random() > 0.5:
            invitations.take_attendance(p, activity.host, True, at)


def seed_reviews(now: datetime) -> str:
    """Create the demo meetings unless some exist."""
    if db.session.scalar(select(func.count(ReviewMeeting.activity_id))):
        return ", review meetings already present"
    users = {u.email: u for u in db.session.scalars(select(User))}
    teams = {t.name: t for t in db.session.scalars(select(Team))}
    sales_lead, marketing_lead = users.get("sales.lead@example.com"), users.get("marketing.lead@example.com")
    needed = ("Enterprise", "Mid-Market", "Demand Generation", "Product Marketing")
    if sales_lead is None or marketing_lead is None or any(name not in teams for name in needed):
        return ""
    rng = random.Random(11)
    zone = ZoneInfo(marketing_lead.timezone)
    today = now.astimezone(zone).date()
    db.session.info["suppress_mail"] = True
    try:
        # 1. The past Funnel Reality Check, ten days ago: attended, noted, with action items.
        day = _weekday(today - timedelta(days=10), forward=False)
        frc = meetings.schedule_meeting(
            marketing_lead,
            _data(
                "Q4 pipeline: where do good leads stall?",
                MeetingFormat.FUNNEL_REALITY_CHECK.value,
                marketing_lead,
                day,
                time(14, 0),
                90,
                FRC_AGENDA,
                "Board room, 3rd floor",
            ),
            now - timedelta(days=24),
            people=[sales_lead.id],
            teams=[teams["Enterprise"].id, teams["Demand Generation"].id],
        )
        _answer(frc, rng, frc.starts_at - timedelta(days=6))
        _take_attendance(frc, rng)
        meetings.update_notes(marketing_lead, frc, FRC_NOTES, frc.ends_at + timedelta(minutes=30))
        noted = frc.ends_at + timedelta(hours=1)
        owners = {
            e: users[e]
            for e in (
                "demand.lead@example.com",
                "ent.lead@example.com",
                "content.lead@example.com",
                "marketing.lead@example.com",
                "rep@example.com",
            )
            if e in users
        }
        planned = [
            ("Add a budget-holder question to the demo request form", "demand.lead@example.com", 5, ActionStatus.OPEN),
            ("Weekly 15-minute review of rejected SQLs with Demand Gen", "ent.lead@example.com", 17, ActionStatus.OPEN),
            (
                "Share the top ten lost-deal reasons with Content & Brand",
                "content.lead@example.com",
                4,
                ActionStatus.DONE,
            ),
            ("Retire the webinar-only MQL trigger", "marketing.lead@example.com", 12, ActionStatus.DROPPED),
            ("Bring three stalled Enterprise deals to the next check", "rep@example.com", 24, ActionStatus.OPEN),
        ]
        for title, email, due_in, status in planned:
            if email not in owners:
                continue
            item = actions.add_action(
                frc,
                marketing_lead,
                actions.ActionData(title=title, owner_id=owners[email].id, due_date=day + timedelta(days=due_in)),
                noted,
            )
            if status != ActionStatus.OPEN:
                actions.set_action_status(item, item.owner, status.value, noted + timedelta(days=3))

        # 2. A past lead-definition session: version 1 in force; version 2 proposed since, awaiting sales.
        day = _weekday(today - timedelta(days=35), forward=False)
        session = meetings.schedule_meeting(
            sales_lead,
            _data(
                "What sales will accept",
                MeetingFormat.LEAD_DEFINITION.value,
                sales_lead,
                day,
                time(11, 0),
                60,
                LEAD_AGENDA,
                "Meeting room 2",
            ),
            now - timedelta(days=50),
            people=[marketing_lead.id]
            + [
                users[e].id
                for e in (
                    "ent.lead@example.com",
                    "mm.lead@example.com",
                    "demand.lead@example.com",
                    "pmm.lead@example.com",
                )
                if e in users
            ],
        )
        _answer(session, rng, session.starts_at - timedelta(days=4), weights=(9, 1, 0))
        _take_attendance(session, rng)
        agreed = session.ends_at + timedelta(minutes=10)
        v1 = lead_definitions.record_lead_definition(sales_lead, LEAD_V1, day + timedelta(days=3), agreed, session)
        lead_definitions.sign_off_lead_definition(v1, sales_lead, agreed + timedelta(minutes=5))
        lead_definitions.sign_off_lead_definition(v1, marketing_lead, agreed + timedelta(hours=2))
        v2 = lead_definitions.record_lead_definition(
            marketing_lead, LEAD_V2, _weekday(today + timedelta(days=14), forward=True), now - timedelta(days=2)
        )
        lead_definitions.sign_off_lead_definition(v2, marketing_lead, now - timedelta(days=2))

        # 3. The upcoming win/loss playback, in six days: invitations out, some answers in.
        day = _weekday(today + timedelta(days=6), forward=True)
        playback = meetings.schedule_meeting(
            sales_lead,
            _data(
                "Q3 Mid-Market deals",
                MeetingFormat.WIN_LOSS_PLAYBACK.value,
                sales_lead,
                day,
                time(15, 0),
                60,
                PLAYBACK_AGENDA,
                "Auditorium",
            ),
            now - timedelta(days=3),
            people=[marketing_lead.id]
            + ([users["marketer@example.com"].id] if "marketer@example.com" in users else []),
            teams=[teams["Mid-Market"].id, teams["Product Marketing"].id],
        )
        answered = [p for p in playback.participations if p.user.email != "marketer@example.com"]
        for p in answered[: len(answered) * 2 // 3]:
            invitations.rsvp(
                p, p.user, rng.choices(["yes", "maybe", "no"], weights=(6, 2, 1))[0], now - timedelta(days=1)
            )

        # 4. The next Funnel Reality Check: the open actions from the one above show there.
        day = _weekday(today + timedelta(days=25), forward=True)
        meetings.schedule_meeting(
            marketing_lead,
            _data(
                f"{day:%B} check",
                MeetingFormat.FUNNEL_REALITY_CHECK.value,
                marketing_lead,
                day,
                time(14, 0),
                90,
                FRC_AGENDA,
                "Board room, 3rd floor",
            ),
            now - timedelta(days=1),
            people=[sales_lead.id],
            teams=[teams["Enterprise"].id, teams["Demand Generation"].id],
        )
        db.session.flush()
    finally:
        db.session.info.pop("suppress_mail", None)
    return ", 4 review meetings (1 past Funnel Reality Check with 5 action items), 2 lead-definition versions"
