"""Action items of review meetings: recorded at a meeting, owned by one person, due on a date, carried over
to the next meeting of the same format until someone closes them. Their reminders are in ``mail``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from program.accounts.models import User
from program.activities import services as core
from program.activities.models import Activity
from program.errors import InvalidTransition, NotAllowed, ValidationFailed
from program.extensions import db
from program.reviews.invitations import INVITABLE_FUNCTIONS, invitable_people
from program.reviews.meetings import today_for
from program.reviews.models import ActionItem, ActionStatus, ReviewMeeting
from program.reviews.permissions import can_add_action, can_edit_action, can_update_action_status


@dataclass
class ActionData:
    title: str
    owner_id: int | None
    due_date: date | None
    status: str = ActionStatus.OPEN.value


def action_owners(activity: Activity) -> list[User]:
    """Who can own an action: active sales and marketing people, and the facilitator."""
    people = invitable_people()
    if activity.host.active and all(u.id != activity.host_id for u in people):
        people = sorted([*people, activity.host], key=lambda u: u.name)
    return people


def _validate_action(
    activity: Activity, actor: User, data: ActionData, now: datetime, existing: ActionItem | None
) -> dict:
    errors: dict[str, str] = {}
    data.title = (data.title or "").strip()
    if not data.title:
        errors["title"] = "Say what is to be done."
    elif len(data.title) > 300:
        errors["title"] = "At most 300 characters."
    owner = db.session.get(User, data.owner_id) if data.owner_id else None
    if owner is None:
        errors["owner_id"] = "Choose who owns this action."
    elif existing is None or owner.id != existing.owner_id:
        if not owner.active or not (owner.function in INVITABLE_FUNCTIONS or owner.id == activity.host_id):
            errors["owner_id"] = "Choose an active person from sales or marketing."
    if data.due_date is None:
        errors["due_date"] = "Give a due date."
    elif (existing is None or data.due_date != existing.due_date) and data.due_date < today_for(actor, now):
        errors["due_date"] = "The due date can't be in the past."
    if data.status not in {s.value for s in ActionStatus}:
        errors["status"] = "Choose open, done or dropped."
    if errors:
        raise ValidationFailed("Please correct the marked fields.", errors=errors)
    return {"owner": owner}


def add_action(activity: Activity, actor: User, data: ActionData, now: datetime) -> ActionItem:
    """The facilitator side or an invitee records an action item: what, who, by when."""
    mine = core.find_participation(activity.id, actor.id)
    if not can_add_action(actor, activity, mine):
        raise NotAllowed("Only the facilitator and the invitees add action items to this meeting.")
    if activity.is_cancelled:
        raise InvalidTransition("This meeting was cancelled.")
    data.status = ActionStatus.OPEN.value
    values = _validate_action(activity, actor, data, now, None)
    item = ActionItem(
        activity=activity,
        title=data.title,
        owner=values["owner"],
        due_date=data.due_date,
        status=ActionStatus.OPEN.value,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    db.session.add(item)
    db.session.flush()
    return item


def _set_status(item: ActionItem, status: str, now: datetime) -> None:
    if status == item.status:
        return
    item.status = status
    item.closed_at = None if status == ActionStatus.OPEN.value else now


def update_action(item: ActionItem, actor: User, data: ActionData, now: datetime) -> ActionItem:
    """The facilitator side changes an action's title, owner, due date or status."""
    if not can_edit_action(actor, item):
        raise NotAllowed("Only the meeting's facilitator edits this action item.")
    values = _validate_action(item.activity, actor, data, now, item)
    item.title, item.owner, item.due_date = data.title, values["owner"], data.due_date
    _set_status(item, data.status, now)
    item.updated_at = now
    db.session.flush()
    return item


def set_action_status(item: ActionItem, actor: User, status: str, now: datetime) -> ActionItem:
    """The owner (or the facilitator side) marks an action done, dropped, or open again."""
    if not can_update_action_status(actor, item):
        raise NotAllowed("Only the owner and the facilitator update this action item.")
    if status not in {s.value for s in ActionStatus}:
        raise ValidationFailed("Choose open, done or dropped.", field="status")
    _set_status(item, status, now)
    item.updated_at = now
    db.session.flush()
    return item


def actions_of(activity: Activity) -> list[ActionItem]:
    return list(
        db.session.scalars(
            select(ActionItem)
            .options(joinedload(ActionItem.owner))
            .where(ActionItem.activity_id == activity.id)
            .order_by(ActionItem.status != ActionStatus.OPEN.value, ActionItem.due_date, ActionItem.id)
        )
    )


def carried_over_actions(activity: Activity, limit: int = 100) -> list[ActionItem]:
    """Action items still open from earlier meetings of the same format (cancelled ones had none to carry).

    The previous meeting's open items come first; items that stayed open across several meetings keep coming
    back until someone closes them, so nothing falls off the table.
    """
    return list(
        db.session.scalars(
            select(ActionItem)
            .join(Activity, ActionItem.activity_id == Activity.id)
            .join(ReviewMeeting, ReviewMeeting.activity_id == Activity.id)
            .options(joinedload(ActionItem.owner), joinedload(ActionItem.activity))
            .where(
                ReviewMeeting.format == activity.meeting.format,
                Activity.starts_at < activity.starts_at,
                Activity.id != activity.id,
                ActionItem.status == ActionStatus.OPEN.value,
            )
            .order_by(Activity.starts_at.desc(), ActionItem.due_date, ActionItem.id)
            .limit(limit)
        ).unique()
    )


def action_or_none(activity: Activity, action_id: int) -> ActionItem | None:
    item = db.session.get(ActionItem, action_id)
    if item is None or item.activity_id != activity.id:
        return None
    return item


def owns_an_action(activity_id: int, user: User) -> bool:
    """Action owners need not be invitees; they see the meeting their action came from."""
    return (
        db.session.scalar(
            select(ActionItem.id).where(ActionItem.activity_id == activity_id, ActionItem.owner_id == user.id).limit(1)
        )
        is not None
    )
