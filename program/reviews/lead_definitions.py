"""The lead definition: what counts as a qualified lead. Versions are recorded (at a lead-definition session
or on their own page) and take force from their effective date once a sales leader and a marketing leader have
both signed them off; earlier versions stay as they were."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from program.accounts.models import User
from program.activities.models import Activity
from program.errors import InvalidTransition, NotAllowed, ValidationFailed
from program.extensions import db
from program.reviews.meetings import today_for
from program.reviews.models import LeadDefinition, MeetingFormat
from program.reviews.permissions import can_record_lead_definition, signoff_side


def _with_people(stmt):
    return stmt.options(
        joinedload(LeadDefinition.created_by),
        joinedload(LeadDefinition.sales_signoff_by),
        joinedload(LeadDefinition.marketing_signoff_by),
    )


def current_lead_definition(today: date) -> LeadDefinition | None:
    """The definition in force on ``today``: the newest version signed off by both sides whose effective date
    has come. Signers are loaded, so a template can show them without a query."""
    return db.session.scalar(
        _with_people(select(LeadDefinition))
        .where(
            LeadDefinition.sales_signoff_by_id.is_not(None),
            LeadDefinition.marketing_signoff_by_id.is_not(None),
            LeadDefinition.effective_date <= today,
        )
        .order_by(LeadDefinition.version.desc())
        .limit(1)
    )


def lead_definitions(activity: Activity | None = None) -> list[LeadDefinition]:
    """Every version, newest first (or those recorded at one meeting)."""
    stmt = _with_people(select(LeadDefinition)).options(joinedload(LeadDefinition.activity))
    if activity is not None:
        stmt = stmt.where(LeadDefinition.activity_id == activity.id)
    return list(db.session.scalars(stmt.order_by(LeadDefinition.version.desc())).unique())


def definition_status(defn: LeadDefinition, current: LeadDefinition | None, today: date) -> tuple[str, str]:
    """(key, label) of a version: current, scheduled, superseded, not_adopted, awaiting."""
    newer_in_force = current is not None and current.version > defn.version
    if current is not None and current.id == defn.id:
        return "current", "In force"
    if defn.is_signed_off:
        if newer_in_force:
            return "superseded", "Superseded"
        return "scheduled", f"Signed off; in force from {defn.effective_date:%d %b %Y}"
    if newer_in_force:
        return "not_adopted", "Not adopted (a newer version is in force)"
    missing = [
        side
        for side, who in (("sales", defn.sales_signoff_by_id), ("marketing", defn.marketing_signoff_by_id))
        if who is None
    ]
    return "awaiting", "Awaiting sign-off by " + " and ".join(f"a {side} leader" for side in missing)


def record_lead_definition(
    actor: User, criteria: str, effective_date: date | None, now: datetime, activity: Activity | None = None
) -> LeadDefinition:
    """Record a new version of the definition (optionally at a lead-definition session). It takes force only
    once a sales leader and a marketing leader have signed it off; earlier versions stay as they are."""
    if activity is not None and (
        activity.meeting is None or activity.meeting.format != MeetingFormat.LEAD_DEFINITION.value
    ):
        raise ValidationFailed("Lead definitions are recorded at lead-definition sessions.")
    if not can_record_lead_definition(actor, activity):
        raise NotAllowed("Only leaders, admins and the session's facilitator record a lead definition.")
    if activity is not None and activity.is_cancelled:
        raise InvalidTransition("This meeting was cancelled.")
    errors: dict[str, str] = {}
    criteria = (criteria or "").strip()
    if not criteria:
        errors["criteria"] = "Write down the criteria of a qualified lead."
    elif len(criteria) > 10000:
        errors["criteria"] = "At most 10,000 characters."
    if effective_date is None:
        errors["effective_date"] = "Give the date from which it applies."
    if errors:
        raise ValidationFailed("Please correct the marked fields.", errors=errors)
    for _attempt in range(3):
        version = (db.session.scalar(select(func.max(LeadDefinition.version))) or 0) + 1
        defn = LeadDefinition(
            version=version,
            criteria=criteria,
            effective_date=effective_date,
            activity=activity,
            created_by=actor,
            created_at=now,
        )
        try:
            with db.session.begin_nested():
                db.session.add(defn)
        except IntegrityError:  # someone recorded the same version number at the same moment: take the next
            continue
        return defn
    raise InvalidTransition("Someone else is recording a definition right now; try again.")


def sign_off_lead_definition(defn: LeadDefinition, actor: User, now: datetime) -> LeadDefinition:
    """A sales leader signs for sales, a marketing leader for marketing; each side once. A version older than
    the one in force can no longer be adopted. The database guards the slot, so two leaders of one side
    signing at once can't both succeed."""
    side = signoff_side(actor)
    if side is None:
        raise NotAllowed("Only a sales leader or a marketing leader signs off a lead definition.")
    current = current_lead_definition(today_for(actor, now))
    if current is not None and current.version > defn.version:
        raise InvalidTransition(f"Version {current.version} is already in force; record a new version instead.")
    by, at = (
        (LeadDefinition.sales_signoff_by_id, LeadDefinition.sales_signoff_at)
        if side == "sales"
        else (LeadDefinition.marketing_signoff_by_id, LeadDefinition.marketing_signoff_at)
    )
    result = db.session.execute(
        update(LeadDefinition)
        .where(LeadDefinition.id == defn.id, by.is_(None))
        .values({by: actor.id, at: now})
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(defn)
    if result.rowcount != 1:
        signer = defn.sales_signoff_by if side == "sales" else defn.marketing_signoff_by
        raise InvalidTransition(f"{signer.name if signer else 'Someone'} has already signed off for {side}.")
    return defn
