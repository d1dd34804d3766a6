"""Who sees and does what with debriefs. Pure predicates; an object a user may not see answers 404.

(Who reads answers outside the debrief — the learnings feed, tactics, insight, contest — is in
``program/insight/permissions.py``.)"""

from __future__ import annotations

from program.accounts.models import Role, User
from program.debriefs.models import DebriefTask


def can_view_task(user: User, task: DebriefTask) -> bool:
    """A debrief is visible to its author, the author's manager, the activity's host, HR and admin; for a
    shadow day, the host is the partner, and the partner's manager sees it too."""
    if user.role in (Role.HR.value, Role.ADMIN.value):
        return True
    if user.id == task.user_id or task.user.manager_id == user.id:
        return True
    if task.activity.host_id == user.id:
        return True
    # A shadow-day debrief is also visible to the partner's manager (the partner hosted that day).
    return task.activity.kind == "shadow_day" and task.activity.host.manager_id == user.id


def can_manage_templates(user: User) -> bool:
    """Admins and HR maintain debrief templates and the reason-code codebook."""
    return user.role in (Role.HR.value, Role.ADMIN.value)


def can_see_submission_status(user: User) -> bool:
    """HR (and admins) see who has and hasn't submitted, for every activity and person."""
    return user.role in (Role.HR.value, Role.ADMIN.value)
