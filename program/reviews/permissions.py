"""Who may see and do what with review meetings, action items and lead definitions. Pure predicates.

A meeting the user may not see answers 404. Meetings are seen by their invitees, the facilitator side
(host, host's manager, admin), and by leaders and HR.
"""

from __future__ import annotations

from program.accounts.models import Role, User
from program.activities.models import Activity, Participation, State
from program.activities.permissions import can_manage_activity
from program.reviews.models import ActionItem

SIGNOFF_FUNCTIONS = ("sales", "marketing")
# An invitee who has not declined or been cancelled may add action items.
NOT_INVITED = (State.WAITLISTED.value, State.OFFERED.value)
CONTRIBUTING = (State.INVITED.value, State.BOOKED.value, State.ATTENDED.value, State.NO_SHOW.value)


def can_schedule_meetings(user: User) -> bool:
    """Leaders, HR and admins schedule joint review meetings (and facilitate them)."""
    return user.role in (Role.LEADER.value, Role.HR.value, Role.ADMIN.value)


def sees_all_meetings(user: User) -> bool:
    """Leaders, HR and admins see every review meeting; everyone else sees the ones they are part of."""
    return user.role in (Role.LEADER.value, Role.HR.value, Role.ADMIN.value)


def can_view_meeting(user: User, activity: Activity, participation: Participation | None) -> bool:
    """Invitees (whatever their answer), the facilitator side, leaders, HR and admins see a meeting.

    ``participation`` is the user's own participation in it (or None), passed in so lists need no query per row.
    """
    if sees_all_meetings(user) or can_manage_activity(user, activity):
        return True
    # Meetings have no seats: a waitlist place can only come from the generic booking URL, not an invitation.
    return participation is not None and participation.user_id == user.id and participation.state not in NOT_INVITED


def can_manage_meeting(user: User, activity: Activity) -> bool:
    """The facilitator (host), the facilitator's manager and admins edit, invite, cancel and take notes."""
    return can_manage_activity(user, activity)


def can_take_attendance(user: User, p: Participation) -> bool:
    """The facilitator side marks attendance for invitees — never their own."""
    return user.id != p.user_id and can_manage_activity(user, p.activity)


def can_add_action(user: User, activity: Activity, participation: Participation | None) -> bool:
    """The facilitator side and the meeting's invitees (unless they declined) record action items."""
    if can_manage_activity(user, activity):
        return True
    return participation is not None and participation.user_id == user.id and participation.state in CONTRIBUTING


def can_edit_action(user: User, item: ActionItem) -> bool:
    """The facilitator side changes everything about an action item (title, owner, due date, status)."""
    return can_manage_activity(user, item.activity)


def can_update_action_status(user: User, item: ActionItem) -> bool:
    """The owner (and the facilitator side) mark an action item done, dropped, or open again."""
    return user.id == item.owner_id or can_edit_action(user, item)


def can_record_lead_definition(user: User, activity: Activity | None = None) -> bool:
    """Leaders and admins record a new definition; so does the facilitator side of a lead-definition session."""
    if user.role in (Role.LEADER.value, Role.ADMIN.value):
        return True
    return activity is not None and can_manage_activity(user, activity)


def signoff_side(user: User) -> str | None:
    """Which side a person signs for: a leader in a sales or a marketing department; anyone else none."""
    if user.role == Role.LEADER.value and user.active and user.function in SIGNOFF_FUNCTIONS:
        return user.function
    return None
