"""Who sees and does what with debriefs. Pure predicates; an object a user may not see answers 404."""

from __future__ import annotations

from program.accounts.models import Role, User
from program.debriefs.models import Answer, DebriefTask

# Shadow-day debriefs are shared with these roles only, unless the writer shares them with everyone.
LEADER_ROLES = (Role.LEADER.value, Role.HR.value, Role.ADMIN.value)


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


def can_triage_tactics(user: User) -> bool:
    """Marketing leaders (and admins) triage proposed tactics."""
    return user.role == Role.ADMIN.value or (user.role == Role.LEADER.value and user.function == "marketing")


def can_view_insight(user: User) -> bool:
    """Leaders, HR and admins see the reason-code insight."""
    return user.role in (Role.LEADER.value, Role.HR.value, Role.ADMIN.value)


def can_draw_contest(user: User) -> bool:
    return user.role in (Role.HR.value, Role.ADMIN.value)


def sees_leader_shared(user: User) -> bool:
    """Leaders, HR and admins also read what shadow-day debriefs share with leaders only."""
    return user.role in LEADER_ROLES


def can_read_shared_answer(user: User, answer: Answer) -> bool:
    """Outside the debrief (learnings feed, tactics), an answer is readable when its debrief is submitted and
    not kept out of the feed, its question is flagged as shared, and — for a shadow day — the writer shared
    it with everyone or the reader is a leader, HR or admin. (sharing.shared_answers is the same rule in SQL.)"""
    debrief, question = answer.debrief, answer.question
    if not debrief.is_submitted or debrief.keep_out_of_feed or not question.shared_in_feed:
        return False
    if question.qtype not in ("short_text", "long_text") or not answer.text:
        return False
    if debrief.task.activity.kind == "shadow_day" and not debrief.share_with_everyone:
        return sees_leader_shared(user)
    return True
