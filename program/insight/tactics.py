"""The tactics triage: sales tactics proposed in debriefs, which marketing leaders take up or set aside.

Rules kept here:
- only SUBMITTED debriefs' tactics are listed, and only those whose answer the sharing rules
  (``permissions.shared_answers``) let the viewer read;
- marketing leaders and admins triage; a tactic never goes back to "new"; launching or not pursuing it
  needs a note saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import contains_eager, joinedload

from program.accounts.models import User
from program.activities.kinds import ActivityLink, activity_links
from program.activities.models import Activity
from program.debriefs.models import Answer, Debrief, DebriefTask, Tactic, TacticStatus
from program.errors import NotAllowed, ValidationFailed
from program.extensions import db
from program.insight.permissions import can_triage_tactics, shared_answers

NOTE_MAX = 1000
# Triage moves a tactic out of "new" and never back: "new" means "nobody has looked at it yet".
# Between the other three any move is allowed, so a decision can be revisited (with a note).
TRIAGE_STATUSES = (TacticStatus.EXPLORING, TacticStatus.LAUNCHED, TacticStatus.NOT_PURSUED)
NOTE_REQUIRED = (TacticStatus.LAUNCHED.value, TacticStatus.NOT_PURSUED.value)


@dataclass(frozen=True)
class TacticRow:
    tactic: Tactic
    text: str
    rider_name: str  # the debrief's author proposed it
    rep_name: str  # the activity's host, whose call it came from
    activity_id: int
    activity_starts_at: datetime
    link: ActivityLink
    status: TacticStatus
    updated_by_name: str


def _shared_tactics(stmt: Select, viewer: User) -> Select:
    """Tactics whose answer ``viewer`` may read outside the debrief (the sharing rules)."""
    return (
        stmt.join(Tactic.answer)
        .join(Answer.question)
        .join(Answer.debrief)
        .join(Debrief.task)
        .join(DebriefTask.activity)
        .where(shared_answers(viewer))
    )


def tactics_query(viewer: User, status: str = "") -> Select:
    stmt = (
        _shared_tactics(select(Tactic), viewer)
        .options(
            joinedload(Tactic.updated_by),
            contains_eager(Tactic.answer).contains_eager(Answer.debrief).joinedload(Debrief.author),
            contains_eager(Tactic.answer)
            .contains_eager(Answer.debrief)
            .contains_eager(Debrief.task)
            .contains_eager(DebriefTask.activity)
            .joinedload(Activity.host),
        )
        .order_by(Debrief.submitted_at.desc(), Tactic.id.desc())
    )
    if status:
        stmt = stmt.where(Tactic.status == status)
    return stmt


def tactics_page(status: str, viewer: User, page: int, per_page: int):
    """(pagination, rows) of proposed tactics, newest proposal first."""
    pagination = db.paginate(tactics_query(viewer, status), page=page, per_page=per_page, error_out=False)
    tactics: list[Tactic] = list(pagination.items)
    links = activity_links([t.answer.debrief.task.activity for t in tactics], viewer)
    rows = []
    for t in tactics:
        debrief = t.answer.debrief
        activity = debrief.task.activity
        rows.append(
            TacticRow(
                tactic=t,
                text=t.answer.text,
                rider_name=debrief.author.name,
                rep_name=activity.host.name,
                activity_id=activity.id,
                activity_starts_at=activity.starts_at,
                link=links[activity.id],
                status=TacticStatus(t.status),
                updated_by_name=t.updated_by.name if t.updated_by else "",
            )
        )
    return pagination, rows


def tactic_status_counts(viewer: User) -> dict[str, int]:
    """status -> number of tactics ``viewer`` may see, for the filter's labels."""
    rows = db.session.execute(
        _shared_tactics(select(Tactic.status, func.count(Tactic.id)), viewer).group_by(Tactic.status)
    )
    return {status: count for status, count in rows}


def visible_tactic(tactic_id: int, viewer: User) -> Tactic | None:
    """The tactic if ``viewer`` may see it in the triage list, else None."""
    return db.session.scalar(_shared_tactics(select(Tactic), viewer).where(Tactic.id == tactic_id))


def update_tactic(actor: User, tactic: Tactic, status: str, note: str, now: datetime) -> Tactic:
    """Triage a tactic: marketing leaders and admins set its status with a note.

    Never back to "new"; "launched" and "not pursued" need a note (what was launched, or why not).
    """
    if not can_triage_tactics(actor):
        raise NotAllowed("Only marketing leaders and admins triage tactics.")
    note = (note or "").strip()
    if status == TacticStatus.NEW.value:
        raise ValidationFailed("A tactic can't go back to “new” once it has been triaged.", field="status")
    if status not in {s.value for s in TRIAGE_STATUSES}:
        raise ValidationFailed("Choose a status from the list.", field="status")
    if status in NOTE_REQUIRED and not note:
        what = "what was launched" if status == TacticStatus.LAUNCHED.value else "why it is not pursued"
        raise ValidationFailed(f"Add a note saying {what}.", field="note")
    if len(note) > NOTE_MAX:
        raise ValidationFailed(f"Keep the note under {NOTE_MAX:,} characters.", field="note")
    tactic.status = status
    tactic.note = note
    tactic.updated_by = actor
    tactic.updated_at = now
    db.session.flush()
    return tactic
