"""Mail about shadow pairings (proposals, answers, expiry, date changes, cancellation) and the weekly
follow-up nudges (a scheduled job). The days' own invites come from the activity mail like every other kind.
``on_pairing_changed`` and the jobs are wired in ``shadow.init_app``."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from program.activities.models import Activity, Participation
from program.extensions import db
from program.filters import localtime
from program.jobs import claim
from program.mail.services import queue_email
from program.shadow.models import FollowUp, FollowUpStatus, ShadowPairing
from program.web import absolute_url


def _notice(to, subject: str, lines: list[str], pairing: ShadowPairing) -> None:
    queue_email(
        to.email,
        "shadow/notice",
        subject,
        person=to,
        lines=lines,
        url=absolute_url("shadow.pairing", pairing_id=pairing.id),
    )


def on_pairing_changed(pairing: ShadowPairing, change, actor, now, date_change=None, **_):
    s, m = pairing.sales_leader, pairing.marketing_leader
    pair = f"{s.name} (sales) and {m.name} (marketing)"
    if change == "proposed":
        for leader, answer in ((s, pairing.sales_answer), (m, pairing.marketing_answer)):
            if answer == "pending":
                partner = pairing.partner_of(leader)
                _notice(
                    leader,
                    f"Shadow day proposal: you and {partner.name}",
                    [
                        f"{pairing.proposed_by.name} proposes a shadow-day pairing: {pair}.",
                        f"Each of you spends a day in the other's world: {m.name} visits sales on "
                        f"{pairing.sales_day_date:%a %d %b %Y}, {s.name} visits marketing on {pairing.marketing_day_date:%a %d %b %Y}.",
                        f"Please accept or decline by {localtime(pairing.expires_at, tz=leader.timezone)}; "
                        "after that the proposal expires.",
                    ]
                    + ([f"Note: {pairing.note}"] if pairing.note else []),
                    pairing,
                )
    elif change == "declined":
        for person in {pairing.proposed_by.id: pairing.proposed_by, s.id: s, m.id: m}.values():
            if actor is not None and person.id == actor.id:
                continue
            _notice(
                person,
                f"Shadow day declined: {pair}",
                [
                    f"{actor.name if actor else 'Someone'} declined the shadow-day pairing {pair}.",
                    f"Reason: {pairing.decline_reason}",
                ],
                pairing,
            )
    elif change == "expired":
        _notice(
            pairing.proposed_by,
            f"Shadow day proposal expired: {pair}",
            [
                f"Nobody answered the proposal for {pair} within 7 days, so it has expired.",
                "Propose again, or try another partner.",
            ],
            pairing,
        )
    elif change == "accepted":
        for leader in (s, m):
            _notice(
                leader,
                f"Shadow days agreed: {pair}",
                [
                    f"Both of you accepted. {m.name} visits sales on {pairing.sales_day_date:%a %d %b %Y}; "
                    f"{s.name} visits marketing on {pairing.marketing_day_date:%a %d %b %Y}.",
                    "As the host of your day, write an agenda: meetings to sit in on, calls to join, people to meet.",
                ],
                pairing,
            )
    elif change == "date_proposed":
        other = pairing.partner_of(actor)
        _notice(
            other,
            f"New date proposed: {date_change.activity.title}",
            [
                f"{actor.name} proposes to move “{date_change.activity.title}” to {date_change.new_date:%a %d %b %Y}.",
                "Confirm or reject it on the pairing page.",
            ],
            pairing,
        )
    elif change == "date_rejected":
        _notice(
            date_change.proposed_by,
            f"Date change rejected: {date_change.activity.title}",
            [
                f"{actor.name} rejected moving “{date_change.activity.title}” to {date_change.new_date:%a %d %b %Y}.",
            ],
            pairing,
        )
    elif change == "cancelled":
        for leader in (s, m):
            _notice(
                leader,
                f"Shadow pairing cancelled: {pair}",
                [f"{actor.name} cancelled the shadow-day pairing {pair}."]
                + ([f"Reason: {pairing.decline_reason}"] if pairing.decline_reason else []),
                pairing,
            )


def nudge_follow_ups(now: datetime) -> int:
    """Weekly, from a week after the shadow day, while any follow-up is open: one mail per leader and day."""
    rows = db.session.scalars(
        select(FollowUp)
        .join(Participation, Participation.id == FollowUp.participation_id)
        .join(Activity, Activity.id == Participation.activity_id)
        .options(joinedload(FollowUp.participation).joinedload(Participation.activity), joinedload(FollowUp.user))
        .where(FollowUp.status == FollowUpStatus.OPEN.value, Activity.ends_at <= now - timedelta(days=7))
    ).all()
    by_participation: dict[int, list[FollowUp]] = {}
    for fu in rows:
        by_participation.setdefault(fu.participation_id, []).append(fu)
    sent = 0
    for participation_id, items in by_participation.items():
        day = items[0].participation.activity
        week = int((now - day.ends_at) // timedelta(days=7))
        if not claim(f"shadow-followups:{participation_id}:week:{week}", now):
            continue
        person = items[0].user
        pairing = day.shadow.pairing
        _notice(
            person,
            f"Shadow day follow-ups still open ({len(items)})",
            [
                f"After “{day.title}”, these follow-ups are still open:",
                *[f"• {fu.kind_enum.label}" for fu in items],
                "Mark each done with a date and evidence, or drop it with a reason.",
            ],
            pairing,
        )
        sent += 1
    return sent
