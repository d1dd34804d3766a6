"""Who may do what to an activity and its participations. Pure predicates."""

from __future__ import annotations

from program.accounts.models import Role, User
from program.activities.models import Activity, Participation


def is_manager_of(user: User, other: User | None) -> bool:
    return other is not None and other.manager_id == user.id


def can_manage_activity(user: User, activity: Activity) -> bool:
    """The host, the host's manager (a leader acting on their behalf) and admins manage an activity."""
    return user.id == activity.host_id or is_manager_of(user, activity.host) or user.role == Role.ADMIN.value


def can_mark_attendance(user: User, p: Participation) -> bool:
    """Host, host's manager, the participant's manager, or an admin — never the participant themselves."""
    if user.id == p.user_id:
        return False
    return can_manage_activity(user, p.activity) or is_manager_of(user, p.user)


def can_see_participants(user: User, activity: Activity) -> bool:
    return can_manage_activity(user, activity) or user.role in (Role.HR.value, Role.ADMIN.value)
