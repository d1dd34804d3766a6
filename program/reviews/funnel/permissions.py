"""Who may see and change a meeting's funnel work (pure predicates), and the guards the services call.

The facilitator (host, host's manager, admin) edits the funnel, forms and swaps teams, and keeps the deal
list; members add ideas for their own team's stages, the facilitator for any; attendees give deal feedback;
leaders, HR, admins and participants read. A cancelled meeting's funnel work is read-only.
"""

from __future__ import annotations

from dataclasses import dataclass

from program.accounts.models import Role, User
from program.activities.models import Activity, Participation, State
from program.activities.permissions import can_manage_activity
from program.errors import NotAllowed

VIEW_ROLES = (Role.LEADER.value, Role.HR.value, Role.ADMIN.value)
GONE = (State.CANCELLED_BY_USER.value, State.CANCELLED_BY_HOST.value, State.DECLINED.value)
ATTENDING = (State.INVITED.value, State.BOOKED.value, State.ATTENDED.value)


def is_attendee(p: Participation | None) -> bool:
    """Invited, booked or attended, and not having answered "no"."""
    return p is not None and p.state in ATTENDING and p.rsvp != "no"


def can_view_funnel(user: User, activity: Activity, participation: Participation | None) -> bool:
    """The facilitator, leaders, HR, admins and the meeting's participants see the funnel work."""
    if can_manage_activity(user, activity) or user.role in VIEW_ROLES:
        return True
    return participation is not None and participation.state not in GONE


def can_edit_funnel(user: User, activity: Activity) -> bool:
    """The facilitator edits the funnel, forms and swaps teams, and keeps the deal list: the host,
    the host's manager and admins (the same people who manage the activity)."""
    return can_manage_activity(user, activity)


def can_add_idea(user: User, activity: Activity, own_team_id: int | None, team_id: int | None) -> bool:
    """Members add ideas for their own team; the facilitator for any team."""
    return can_edit_funnel(user, activity) or (own_team_id is not None and own_team_id == team_id)


def can_give_feedback(user: User, activity: Activity, participation: Participation | None) -> bool:
    """Attendees (and the host) record feedback on the deals."""
    return (
        user.id == activity.host_id
        or is_attendee(participation)
        or (participation is not None and participation.state == State.ATTENDED.value)
    )


@dataclass(frozen=True)
class Viewer:
    user: User
    participation: Participation | None
    team_id: int | None
    can_view: bool
    can_edit: bool
    can_give_feedback: bool

    def may_add_idea(self, activity: Activity, team_id: int | None) -> bool:
        return can_add_idea(self.user, activity, self.team_id, team_id)


class MeetingClosed(NotAllowed):
    """The meeting was cancelled: its funnel work is read-only."""


def require_open(activity: Activity) -> None:
    if activity.is_cancelled:
        raise MeetingClosed("This meeting was cancelled; its funnel work can be read but not changed.")


def require_edit(actor: User, activity: Activity) -> None:
    if not can_edit_funnel(actor, activity):
        raise NotAllowed("Only the facilitator can change this.")
    require_open(activity)
