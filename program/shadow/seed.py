"""Demo shadow pairings in every state: completed (with a debrief and follow-ups), upcoming, proposed,
declined and expired."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from program.accounts.models import User
from program.activities import services as core
from program.debriefs import services as ds
from program.debriefs.models import DebriefTask
from program.extensions import db
from program.shadow import services as shadow
from program.shadow.models import FollowUp, ShadowPairing


def _weekday(d: date) -> date:
    """``d`` itself on a working day, else the Monday after."""
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


def _working_days_after(d: date, n: int) -> date:
    """The n-th working day after ``d`` (n ≥ 1): always a different date from ``d``."""
    for _ in range(n):
        d = _weekday(d + timedelta(days=1))
    return d


def _days(first: date, gap: int, proposed_at: datetime, *leaders: User) -> tuple[date, date]:
    """Two shadow days for one pairing, as ``propose_pairing`` needs them: two different working days, both
    after the proposal day in each leader's own timezone. Computed from ``first`` on any date of the year."""
    sales_day = _weekday(first)
    marketing_day = _working_days_after(sales_day, gap)
    latest_today = max(proposed_at.astimezone(ZoneInfo(u.timezone)).date() for u in leaders)
    assert sales_day != marketing_day, "a pairing needs two different days"
    assert sales_day.weekday() < 5 and marketing_day.weekday() < 5, "shadow days are working days"
    assert min(sales_day, marketing_day) > latest_today, "shadow days come after the day they are proposed"
    return sales_day, marketing_day


def seed_shadow(now: datetime) -> str:
    if db.session.scalar(select(ShadowPairing.id).limit(1)):
        return ""
    users = {u.email: u for u in db.session.scalars(select(User))}
    need = [
        "ent.lead@example.com",
        "demand.lead@example.com",
        "sales.lead@example.com",
        "marketing.lead@example.com",
        "mm.lead@example.com",
        "pmm.lead@example.com",
        "smb.lead@example.com",
        "content.lead@example.com",
        "hr@example.com",
    ]
    if any(e not in users for e in need):
        return ""
    u = users.__getitem__
    today = now.date()
    db.session.info["suppress_mail"] = True
    try:
        # Completed three weeks ago: both days attended, Elena's debrief in, follow-ups under way.
        then = now - timedelta(days=40)
        s_day, m_day = _days(
            today - timedelta(days=21), 3, then, u("ent.lead@example.com"), u("demand.lead@example.com")
        )
        done = shadow.propose_pairing(
            u("hr@example.com"), u("ent.lead@example.com"), u("demand.lead@example.com"), s_day, m_day, then
        )
        shadow.answer_pairing(done, u("ent.lead@example.com"), True, "", then + timedelta(hours=2))
        shadow.answer_pairing(done, u("demand.lead@example.com"), True, "", then + timedelta(hours=5))
        done.sales_day.shadow.agenda = "09:00 pipeline review\n11:00 discovery call with Northwind\n14:00 deal desk"
        done.marketing_day.shadow.agenda = "09:30 campaign stand-up\n11:00 content planning\n15:00 webinar dry-run"
        for day in done.days:
            core.mark_attendance(day.participations[0], day.host, True, day.starts_at + timedelta(hours=17))
        elena_day = done.marketing_day
        task = db.session.scalar(
            select(DebriefTask).where(DebriefTask.participation_id == elena_day.participations[0].id)
        )
        if task is not None:
            debrief = ds.start_debrief(task, task.user, elena_day.ends_at + timedelta(days=3))
            values = {
                q.id: text
                for q, text in zip(
                    debrief.template.questions,
                    [
                        "Marketing plans campaigns a quarter ahead; sales asks for things with two weeks' notice.",
                        "How much of the content team's time goes to one-off requests from reps.",
                        "We'll bring campaign planning into our monthly pipeline review.",
                    ],
                    strict=False,
                )
            }
            ds.save_debrief(debrief, task.user, values, elena_day.ends_at + timedelta(days=3), submit=True)
            follow_ups = db.session.scalars(
                select(FollowUp).where(FollowUp.participation_id == task.participation_id)
            ).all()
            for fu in follow_ups:
                if fu.kind == "shared":
                    shadow.update_follow_up(
                        fu,
                        task.user,
                        "done",
                        (elena_day.ends_at + timedelta(days=4)).date(),
                        "Shared at the Monday team meeting",
                        "",
                        elena_day.ends_at + timedelta(days=5),
                    )
        # Upcoming: the two function heads, next week and the week after.
        at = now - timedelta(days=2)
        nxt = shadow.propose_pairing(
            u("sales.lead@example.com"),
            u("sales.lead@example.com"),
            u("marketing.lead@example.com"),
            *_days(today + timedelta(days=8), 5, at, u("sales.lead@example.com"), u("marketing.lead@example.com")),
            at,
        )
        shadow.answer_pairing(nxt, u("marketing.lead@example.com"), True, "", now - timedelta(days=1))
        nxt.sales_day.shadow.agenda = "Forecast call, two customer calls, lunch with the SDR team."
        # Proposed, waiting for an answer.
        at = now - timedelta(days=1)
        shadow.propose_pairing(
            u("mm.lead@example.com"),
            u("mm.lead@example.com"),
            u("pmm.lead@example.com"),
            *_days(today + timedelta(days=10), 2, at, u("mm.lead@example.com"), u("pmm.lead@example.com")),
            at,
        )
        # Declined with a reason.
        at = now - timedelta(days=3)
        declined = shadow.propose_pairing(
            u("smb.lead@example.com"),
            u("smb.lead@example.com"),
            u("content.lead@example.com"),
            *_days(today + timedelta(days=9), 2, at, u("smb.lead@example.com"), u("content.lead@example.com")),
            at,
        )
        shadow.answer_pairing(
            declined, u("content.lead@example.com"), False, "Launch week; can we do January?", now - timedelta(days=2)
        )
        # Expired.
        old = now - timedelta(days=20)
        shadow.propose_pairing(
            u("smb.lead@example.com"),
            u("smb.lead@example.com"),
            u("pmm.lead@example.com"),
            *_days(today - timedelta(days=5), 1, old, u("smb.lead@example.com"), u("pmm.lead@example.com")),
            old,
        )
        shadow.expire_proposals(now)
        db.session.flush()
    finally:
        db.session.info.pop("suppress_mail", None)
    return ", 5 shadow pairings"
