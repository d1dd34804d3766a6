"""Shadow-day rules: partner suggestions, proposals and answers, the two linked days, date changes,
follow-up actions, and what the shadow-day kind says about itself (its ``KindInfo``). Days are all-day
activities on the shared core, so invites, changes, cancellations, attendance and the debrief (due 7 days
later) work as for every other kind. What the pages list is in ``queries``."""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from sqlalchemy import func, select

from program.accounts.models import Role, User
from program.activities import services as core
from program.activities.kinds import KindInfo
from program.activities.models import Activity, ActivityKind, Participation, State
from program.errors import InvalidTransition, NotAllowed, ValidationFailed
from program.extensions import db
from program.shadow.models import (
    DateChange,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    PairingStatus,
    ShadowDay,
    ShadowPairing,
)
from program.shadow.signals import pairing_changed
from program.timeutil import UTC

PROPOSAL_DAYS = 7
LIVE = (PairingStatus.PROPOSED.value, PairingStatus.ACCEPTED.value, PairingStatus.COMPLETED.value)


def _summary(activity: Activity, reveal: bool) -> str:
    return f"Shadow day: {activity.title}"


def repeat_months() -> int:
    """SHADOW_REPEAT_MONTHS (config, from the environment; 12 by default)."""
    if has_app_context():
        return int(current_app.config.get("SHADOW_REPEAT_MONTHS", 12))
    return 12


def repeat_since(now: datetime) -> datetime:
    """The start of the no-repeat window: ``now`` minus SHADOW_REPEAT_MONTHS calendar months (the day is
    clamped to the month's end, so 31 May minus 3 months is 28 or 29 February)."""
    year, month0 = divmod(now.year * 12 + now.month - 1 - repeat_months(), 12)
    day = min(now.day, calendar.monthrange(year, month0 + 1)[1])
    return now.replace(year=year, month=month0 + 1, day=day)


def is_leader(user: User, function: str) -> bool:
    return user.role == Role.LEADER.value and user.active and user.function == function


def in_reporting_line(a: User, b: User) -> bool:
    """True when one of the two manages the other, directly or further up."""

    def chain(u: User) -> set[int]:
        seen: set[int] = set()
        cursor = u.manager
        while cursor is not None and cursor.id not in seen:
            seen.add(cursor.id)
            cursor = cursor.manager
        return seen

    return b.id in chain(a) or a.id in chain(b)


def _pairings_between(sales_id: int, marketing_id: int, since: datetime) -> int:
    return db.session.scalar(
        select(func.count(ShadowPairing.id)).where(
            ShadowPairing.sales_leader_id == sales_id,
            ShadowPairing.marketing_leader_id == marketing_id,
            ShadowPairing.status.in_(LIVE),
            ShadowPairing.proposed_at >= since,
        )
    )


def suggest_partners(leader: User, now: datetime) -> list[tuple[User, int]]:
    """Leaders of the other function, not in the same reporting line, not paired in the last
    SHADOW_REPEAT_MONTHS months, fewest past pairings first. Returns (partner, past pairings)."""
    other = "marketing" if leader.function == "sales" else "sales"
    candidates = [
        u
        for u in db.session.scalars(select(User).where(User.role == Role.LEADER.value, User.active.is_(True)))
        if u.function == other
    ]
    mine = "sales_leader_id" if leader.function == "sales" else "marketing_leader_id"
    theirs = "marketing_leader_id" if mine == "sales_leader_id" else "sales_leader_id"
    history = db.session.execute(
        select(getattr(ShadowPairing, theirs), ShadowPairing.proposed_at).where(
            getattr(ShadowPairing, mine) == leader.id, ShadowPairing.status.in_(LIVE)
        )
    ).all()
    totals = dict(
        db.session.execute(
            select(getattr(ShadowPairing, theirs), func.count(ShadowPairing.id))
            .where(ShadowPairing.status.in_(LIVE))
            .group_by(getattr(ShadowPairing, theirs))
        ).all()
    )
    since = repeat_since(now)
    recent = {pid for pid, at in history if at >= since}
    out = [(u, totals.get(u.id, 0)) for u in candidates if u.id not in recent and not in_reporting_line(leader, u)]
    return sorted(out, key=lambda pair: (pair[1], pair[0].name))


def _day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


def _check_date(day: date | None, host: User, now: datetime, field: str) -> dict[str, str]:
    if day is None:
        return {field: "Choose a date."}
    today = now.astimezone(ZoneInfo(host.timezone)).date()
    if day <= today:
        return {field: "Choose a date after today."}
    if day.weekday() >= 5:
        return {field: "Choose a working day (Monday to Friday)."}
    return {}


def propose_pairing(
    actor: User,
    sales_leader: User | None,
    marketing_leader: User | None,
    sales_day: date | None,
    marketing_day: date | None,
    now: datetime,
    note: str = "",
) -> ShadowPairing:
    """HR, an admin or either leader proposes a pairing with a date for each leader's day."""
    errors: dict[str, str] = {}
    if sales_leader is None or not is_leader(sales_leader, "sales"):
        errors["sales_leader_id"] = "Choose a sales leader."
    if marketing_leader is None or not is_leader(marketing_leader, "marketing"):
        errors["marketing_leader_id"] = "Choose a marketing leader."
    if errors:
        raise ValidationFailed("Please correct the marked fields.", errors=errors)
    if actor.role not in (Role.HR.value, Role.ADMIN.value) and actor.id not in (sales_leader.id, marketing_leader.id):
        raise NotAllowed("Leaders propose pairings for themselves; HR and admins for anyone.")
    if in_reporting_line(sales_leader, marketing_leader):
        errors["marketing_leader_id"] = "These two are in the same reporting line; choose someone else."
    since = repeat_since(now)
    if _pairings_between(sales_leader.id, marketing_leader.id, since):
        errors["marketing_leader_id"] = f"These two were paired in the last {repeat_months()} months."
    errors.update(_check_date(sales_day, sales_leader, now, "sales_day"))
    errors.update(_check_date(marketing_day, marketing_leader, now, "marketing_day"))
    if not errors and sales_day == marketing_day:
        errors["marketing_day"] = "The two days must be on different dates."
    if errors:
        raise ValidationFailed("Please correct the marked fields.", errors=errors)
    pairing = ShadowPairing(
        sales_leader=sales_leader,
        marketing_leader=marketing_leader,
        proposed_by=actor,
        sales_day_date=sales_day,
        marketing_day_date=marketing_day,
        proposed_at=now,
        expires_at=now + timedelta(days=PROPOSAL_DAYS),
        note=(note or "").strip(),
        sales_answer="accepted" if actor.id == sales_leader.id else "pending",
        marketing_answer="accepted" if actor.id == marketing_leader.id else "pending",
    )
    db.session.add(pairing)
    db.session.flush()
    pairing_changed.send(pairing, change="proposed", actor=actor, now=now)
    return pairing


def answer_pairing(pairing: ShadowPairing, actor: User, accept: bool, reason: str, now: datetime) -> ShadowPairing:
    """The proposed partner accepts or declines (with a reason). When both have accepted, the days are set up."""
    if pairing.status != PairingStatus.PROPOSED.value:
        raise InvalidTransition("This proposal is no longer open.")
    if now >= pairing.expires_at:
        raise InvalidTransition("This proposal has expired.")
    if actor.id == pairing.sales_leader_id and pairing.sales_answer == "pending":
        side = "sales_answer"
    elif actor.id == pairing.marketing_leader_id and pairing.marketing_answer == "pending":
        side = "marketing_answer"
    else:
        raise NotAllowed("There is no answer of yours pending on this proposal.")
    if not accept:
        reason = (reason or "").strip()
        if not reason:
            raise ValidationFailed(
                "Please correct the marked fields.",
                errors={"reason": "Say briefly why you decline, so the proposer can find another match."},
            )
        setattr(pairing, side, "declined")
        pairing.status = PairingStatus.DECLINED.value
        pairing.decline_reason = reason
        pairing.decided_at = now
        pairing_changed.send(pairing, change="declined", actor=actor, now=now)
        return pairing
    setattr(pairing, side, "accepted")
    if pairing.sales_answer == pairing.marketing_answer == "accepted":
        for label, day in (("sales_day", pairing.sales_day_date), ("marketing_day", pairing.marketing_day_date)):
            host = pairing.sales_leader if label == "sales_day" else pairing.marketing_leader
            if day <= now.astimezone(ZoneInfo(host.timezone)).date():
                raise InvalidTransition(
                    "One of the proposed dates has passed; propose the pairing again with new dates."
                )
        pairing.status = PairingStatus.ACCEPTED.value
        pairing.decided_at = now
        pairing.sales_day = _create_day(
            pairing, pairing.sales_leader, pairing.marketing_leader, pairing.sales_day_date, now
        )
        pairing.marketing_day = _create_day(
            pairing, pairing.marketing_leader, pairing.sales_leader, pairing.marketing_day_date, now
        )
        db.session.flush()
        pairing_changed.send(pairing, change="accepted", actor=actor, now=now)
    return pairing


def _create_day(pairing: ShadowPairing, host: User, visitor: User, day: date, now: datetime) -> Activity:
    start, end = _day_bounds(day, host.timezone)
    function = "sales" if host.function == "sales" else "marketing"
    activity = Activity(
        kind=ActivityKind.SHADOW_DAY.value,
        title=f"{visitor.name} in {host.name}'s {function} world",
        host=host,
        created_by=host,
        starts_at=start,
        ends_at=end,
        all_day=True,
        timezone=host.timezone,
        seats=1,
        booking_cutoff_at=start,
        created_at=now,
        updated_at=now,
    )
    db.session.add(activity)
    db.session.flush()
    db.session.add(ShadowDay(activity=activity, pairing=pairing))
    p = Participation(activity=activity, user=visitor, state=State.INVITED.value, state_changed_at=now, created_at=now)
    db.session.add(p)
    db.session.flush()
    core.transition(p, State.BOOKED, host, now, note="shadow pairing accepted")
    return activity


def expire_proposals(now: datetime) -> list[ShadowPairing]:
    expired = list(
        db.session.scalars(
            select(ShadowPairing).where(
                ShadowPairing.status == PairingStatus.PROPOSED.value, ShadowPairing.expires_at <= now
            )
        )
    )
    for pairing in expired:
        pairing.status = PairingStatus.EXPIRED.value
        pairing.decided_at = now
        pairing_changed.send(pairing, change="expired", actor=None, now=now)
    db.session.flush()
    return expired


def expire_stale_proposals(now: datetime) -> int:
    """The scheduled job (``flask send-reminders``): expire the proposals nobody answered in time; how many."""
    return len(expire_proposals(now))


def pairing_of(activity: Activity) -> ShadowPairing:
    return activity.shadow.pairing


def _require_leader_of(pairing: ShadowPairing, actor: User) -> None:
    if actor.id not in (pairing.sales_leader_id, pairing.marketing_leader_id):
        raise NotAllowed("Only the two leaders of this pairing can do that.")


def set_agenda(activity: Activity, actor: User, agenda: str, now: datetime) -> None:
    """The host of the day writes the agenda: meetings to sit in on, calls to join, people to meet."""
    if actor.id != activity.host_id:
        raise NotAllowed("The host of the day writes its agenda.")
    if len(agenda or "") > 10_000:
        raise ValidationFailed(
            "Please correct the marked fields.", errors={"agenda": "Keep the agenda under 10,000 characters."}
        )
    activity.shadow.agenda = (agenda or "").strip()
    activity.updated_at = now


def propose_date_change(activity: Activity, actor: User, new_date: date | None, now: datetime) -> DateChange:
    pairing = pairing_of(activity)
    _require_leader_of(pairing, actor)
    if activity.is_cancelled or activity.has_started(now):
        raise InvalidTransition("This day can no longer be moved.")
    errors = _check_date(new_date, activity.host, now, "new_date")
    if errors:
        raise ValidationFailed("Please correct the marked fields.", errors=errors)
    for old in db.session.scalars(
        select(DateChange).where(DateChange.activity_id == activity.id, DateChange.status == "pending")
    ):
        old.status, old.decided_at = "withdrawn", now
    change = DateChange(activity=activity, proposed_by=actor, new_date=new_date, created_at=now)
    db.session.add(change)
    db.session.flush()
    pairing_changed.send(pairing, change="date_proposed", actor=actor, now=now, date_change=change)
    return change


def answer_date_change(change: DateChange, actor: User, confirm: bool, now: datetime) -> DateChange:
    """The other leader confirms (the day moves; invites update with SEQUENCE+1) or rejects."""
    activity = change.activity
    pairing = pairing_of(activity)
    _require_leader_of(pairing, actor)
    if actor.id == change.proposed_by_id:
        raise NotAllowed("The other leader confirms a date change.")
    if change.status != "pending":
        raise InvalidTransition("This date change is no longer open.")
    change.decided_at = now
    if not confirm:
        change.status = "rejected"
        pairing_changed.send(pairing, change="date_rejected", actor=actor, now=now, date_change=change)
        return change
    if activity.has_started(now) or activity.is_cancelled:
        raise InvalidTransition("This day can no longer be moved.")
    change.status = "confirmed"
    activity.starts_at, activity.ends_at = _day_bounds(change.new_date, activity.timezone)
    activity.booking_cutoff_at = activity.starts_at
    activity.updated_at = now
    if activity.id == pairing.sales_day_id:
        pairing.sales_day_date = change.new_date
    else:
        pairing.marketing_day_date = change.new_date
    db.session.flush()
    core.reschedule_or_update(activity, actor, now, time_changed=True, place_changed=False)
    return change


def cancel_pairing(pairing: ShadowPairing, actor: User, reason: str, now: datetime) -> None:
    """Either leader, HR or an admin cancels: open proposals close; scheduled days are cancelled (CANCEL invites)."""
    if actor.role not in (Role.HR.value, Role.ADMIN.value):
        _require_leader_of(pairing, actor)
    if pairing.status not in (PairingStatus.PROPOSED.value, PairingStatus.ACCEPTED.value):
        raise InvalidTransition("Only an open or accepted pairing can be cancelled.")
    for day in pairing.days:
        if not day.is_cancelled and not day.has_started(now):
            core.cancel_activity(day, actor, reason, now, permitted=True)
    pairing.status = PairingStatus.CANCELLED.value
    pairing.decided_at = now
    pairing.decline_reason = (reason or "").strip()
    pairing_changed.send(pairing, change="cancelled", actor=actor, now=now)


def complete_when_both_marked(p: Participation, *, new_state: str, **_) -> None:
    """The kind's ``on_transition`` hook: once attendance is marked on both days, the pairing is completed."""
    if new_state not in (State.ATTENDED.value, State.NO_SHOW.value):
        return
    pairing = pairing_of(p.activity)
    marked = all(
        any(q.state in (State.ATTENDED.value, State.NO_SHOW.value) for q in day.participations) for day in pairing.days
    )
    if marked and pairing.status == PairingStatus.ACCEPTED.value:
        pairing.status = PairingStatus.COMPLETED.value


SHADOW_DAY_KIND = KindInfo(
    summary=_summary,
    endpoint="shadow.day",
    reveals_private=lambda activity, viewer: True,
    on_transition=complete_when_both_marked,
)


# --- follow-ups --------------------------------------------------------------------------------


def add_follow_ups(task, now: datetime, **_) -> None:
    """When a shadow day's debrief task is created, its writer gets the three follow-up actions to track.
    Subscribed to ``debriefs.signals.task_created`` in ``shadow.init_app``; other kinds' tasks are let be."""
    if task.activity.kind != ActivityKind.SHADOW_DAY.value:
        return
    existing = {
        f.kind for f in db.session.scalars(select(FollowUp).where(FollowUp.participation_id == task.participation_id))
    }
    for kind in FollowUpKind:
        if kind.value not in existing:
            db.session.add(
                FollowUp(participation_id=task.participation_id, user_id=task.user_id, kind=kind.value, updated_at=now)
            )
    db.session.flush()


def update_follow_up(
    fu: FollowUp, actor: User, status: str, done_on: date | None, evidence: str, drop_reason: str, now: datetime
) -> FollowUp:
    """Mark a follow-up done (with a date and evidence), drop it (with a reason), or reopen it."""
    if actor.id != fu.user_id:
        raise NotAllowed("Only the leader who owns this follow-up updates it.")
    evidence, drop_reason = (evidence or "").strip(), (drop_reason or "").strip()
    errors: dict[str, str] = {}
    if status == FollowUpStatus.DONE:
        if done_on is None:
            errors["done_on"] = "Give the date you did it."
        elif done_on > now.astimezone(ZoneInfo(actor.timezone)).date():
            errors["done_on"] = "That date is in the future."
        if not evidence:
            errors["evidence"] = f"Add evidence: {fu.kind_enum.evidence_hint.lower()}."
    elif status == FollowUpStatus.DROPPED:
        if not drop_reason:
            errors["drop_reason"] = "Say why you are dropping it."
    elif status != FollowUpStatus.OPEN:
        errors["status"] = "Choose done, dropped or open."
    if errors:
        raise ValidationFailed("Please correct the marked fields.", errors=errors)
    fu.status = status
    fu.done_on = done_on if status == FollowUpStatus.DONE else None
    fu.evidence = evidence if status == FollowUpStatus.DONE else fu.evidence
    fu.drop_reason = drop_reason if status == FollowUpStatus.DROPPED else ""
    fu.updated_at = now
    return fu
