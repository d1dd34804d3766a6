"""Who reads what of the debriefs outside the debrief itself, and who triages, studies and draws.

The debrief page is for its author and the few people ``debriefs.permissions.can_view_task`` names. Outside
it, answers are read in the learnings feed (and its search), the tactics triage, and as quotes in the
reason-code insight (page and CSV), as the writer chose (``debriefs/sharing.py`` stores the choice and the
form says what it means):

- only text answers to questions flagged "shared in the learnings feed" are shown in the feed and the
  tactics triage (by default "what I learned" and the tactic; HR and admins change it per template version);
- a writer can keep one debrief out of the feed: then none of its answers is shown anywhere outside it
  (its reason codes still count in the insight's numbers, but its words are not quoted);
- a shadow-day debrief is shared with leaders, HR and admins only, unless its writer ticks
  "Share with everyone".

``shared_answers`` is the rule as a SQL condition for list queries; ``can_read_shared_answer`` is the same
rule for one answer. Keep them in step. Pure predicates; an object a user may not see answers 404.
"""

from __future__ import annotations

from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement

from program.accounts.models import Role, User
from program.activities.models import Activity, ActivityKind
from program.debriefs.models import Answer, Debrief, DebriefQuestion, DebriefState
from program.debriefs.sharing import SHAREABLE_TYPES

SHADOW_DAY = ActivityKind.SHADOW_DAY.value
# Shadow-day debriefs are shared with these roles only, unless the writer shares them with everyone.
LEADER_ROLES = (Role.LEADER.value, Role.HR.value, Role.ADMIN.value)


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
    it with everyone or the reader is a leader, HR or admin. (``shared_answers`` is the same rule in SQL.)"""
    debrief, question = answer.debrief, answer.question
    if not debrief.is_submitted or debrief.keep_out_of_feed or not question.shared_in_feed:
        return False
    if question.qtype not in ("short_text", "long_text") or not answer.text:
        return False
    if debrief.task.activity.kind == "shadow_day" and not debrief.share_with_everyone:
        return sees_leader_shared(user)
    return True


def shared_answers(viewer: User | None) -> ColumnElement[bool]:
    """Answers ``viewer`` may read outside their debrief (None: what every signed-in person may read).

    The statement must have DebriefQuestion, Debrief and Activity (the debrief's activity) in its FROM.
    """
    conditions = [
        Debrief.state == DebriefState.SUBMITTED.value,
        DebriefQuestion.shared_in_feed.is_(True),
        DebriefQuestion.qtype.in_(SHAREABLE_TYPES),
        Debrief.keep_out_of_feed.is_(False),
    ]
    if viewer is None or not sees_leader_shared(viewer):
        conditions.append(or_(Activity.kind != SHADOW_DAY, Debrief.share_with_everyone.is_(True)))
    return and_(*conditions)


def quotable_debriefs() -> ColumnElement[bool]:
    """Debriefs whose reason-code words and "other" descriptions may be quoted in the insight."""
    return Debrief.keep_out_of_feed.is_(False)
