"""The learnings feed: what colleagues chose to share from their debriefs, searchable, with "Useful" marks.

Pure query and rule functions. They take plain filter values, the viewing or acting user and ``now``;
routes parse the request, templates only render what comes back (they never query).

Rules kept here:
- only SUBMITTED debriefs feed the learnings;
- a learning is a non-empty text answer that the sharing rules (``permissions.shared_answers``) let this
  viewer read: its question is flagged "shared in the learnings feed", the debrief is not kept out of the
  feed, and a shadow day's answers are for leaders, HR and admins unless the writer shared them with everyone;
- "Useful" is one mark per person per learning (mark / unmark are idempotent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from program.accounts.models import Department, User
from program.activities.kinds import ActivityLink, activity_links
from program.activities.models import Activity
from program.debriefs.models import Answer, Debrief, DebriefQuestion, DebriefTask, LearningUseful
from program.extensions import db
from program.insight.days import day_bounds
from program.insight.permissions import can_read_shared_answer, shared_answers
from program.rides.models import RideAlongCall

MAX_SEARCH_TERMS = 8


def _like(term: str) -> str:
    """A LIKE pattern matching ``term`` literally anywhere ('/' is the escape character)."""
    return "%" + term.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


def departments() -> list[Department]:
    return list(db.session.scalars(select(Department).order_by(Department.name)))


@dataclass(frozen=True)
class LearningFilters:
    q: str = ""
    kind: str = ""
    segment: str = ""
    department_id: int | None = None
    day_from: date | None = None  # by submission date, in ``tz``
    day_to: date | None = None
    tz: str = "UTC"


@dataclass(frozen=True)
class LearningItem:
    answer_id: int
    question: str  # the prompt it answers ("What did you learn?", the tactic, ...)
    text: str
    author_name: str
    department: str
    activity_id: int
    link: ActivityLink
    submitted_at: datetime
    useful: int
    marked: bool  # the viewer marked it useful


def learnings_query(f: LearningFilters, viewer: User | None = None) -> Select:
    """Non-empty shared answers ``viewer`` may read (None: what everyone may read) matching the filters,
    newest debrief first and in question order within one, with what a row shows."""
    stmt = (
        select(Answer)
        .join(Answer.question)
        .join(Answer.debrief)
        .join(Debrief.task)
        .join(DebriefTask.activity)
        .join(Debrief.author)
        .outerjoin(RideAlongCall, RideAlongCall.activity_id == Activity.id)  # other kinds have no call
        .where(shared_answers(viewer), Answer.text != "")
        .options(
            contains_eager(Answer.question),
            contains_eager(Answer.debrief).contains_eager(Debrief.author).joinedload(User.department),
            contains_eager(Answer.debrief)
            .contains_eager(Debrief.task)
            .contains_eager(DebriefTask.activity)
            .joinedload(Activity.host),
        )
        .order_by(Debrief.submitted_at.desc(), Debrief.id.desc(), DebriefQuestion.position, Answer.id)
    )
    for term in f.q.split()[:MAX_SEARCH_TERMS]:  # every word must appear, in any case
        stmt = stmt.where(Answer.text.ilike(_like(term), escape="/"))
    if f.kind:
        stmt = stmt.where(Activity.kind == f.kind)
    if f.segment:
        stmt = stmt.where(RideAlongCall.segment == f.segment)
    if f.department_id:
        stmt = stmt.where(User.department_id == f.department_id)
    start, end = day_bounds(f.day_from, f.day_to, f.tz)
    if start:
        stmt = stmt.where(Debrief.submitted_at >= start)
    if end:
        stmt = stmt.where(Debrief.submitted_at < end)
    return stmt


def useful_counts(answer_ids: Sequence[int], viewer: User) -> dict[int, tuple[int, bool]]:
    """answer id -> (how many marked it useful, whether ``viewer`` did), in one grouped query."""
    if not answer_ids:
        return {}
    rows = db.session.execute(
        select(
            LearningUseful.answer_id,
            func.count(LearningUseful.id),
            func.max(case((LearningUseful.user_id == viewer.id, 1), else_=0)),
        )
        .where(LearningUseful.answer_id.in_(answer_ids))
        .group_by(LearningUseful.answer_id)
    )
    return {answer_id: (count, bool(mine)) for answer_id, count, mine in rows}


def learning_page(f: LearningFilters, viewer: User, page: int, per_page: int):
    """(pagination, items) for one page of the feed; a fixed number of queries whatever the page size."""
    pagination = db.paginate(learnings_query(f, viewer), page=page, per_page=per_page, error_out=False)
    answers: list[Answer] = list(pagination.items)
    useful = useful_counts([a.id for a in answers], viewer)
    links = activity_links([a.debrief.task.activity for a in answers], viewer)
    items = []
    for a in answers:
        debrief = a.debrief
        activity = debrief.task.activity
        count, marked = useful.get(a.id, (0, False))
        items.append(
            LearningItem(
                answer_id=a.id,
                question=a.question.prompt,
                text=a.text,
                author_name=debrief.author.name,
                department=debrief.author.department.name if debrief.author.department else "",
                activity_id=activity.id,
                link=links[activity.id],
                submitted_at=debrief.submitted_at,
                useful=count,
                marked=marked,
            )
        )
    return pagination, items


def learning_answer(answer_id: int, viewer: User) -> Answer | None:
    """The answer if it is a learning ``viewer`` sees in the feed, else None."""
    answer = db.session.get(Answer, answer_id)
    return answer if answer is not None and can_read_shared_answer(viewer, answer) else None


def set_useful(user: User, answer: Answer, useful: bool, now: datetime) -> bool:
    """Mark (``useful``) or unmark a learning for ``user``; doing it twice is the same as once.
    Returns whether it is now marked."""
    existing = db.session.scalar(
        select(LearningUseful).where(LearningUseful.answer_id == answer.id, LearningUseful.user_id == user.id)
    )
    if useful and existing is None:
        try:
            with db.session.begin_nested():
                db.session.add(LearningUseful(answer_id=answer.id, user_id=user.id, created_at=now))
        except IntegrityError:
            pass  # a concurrent click marked it first; the unique key keeps it to one mark
    elif not useful and existing is not None:
        db.session.delete(existing)
        db.session.flush()
    return useful
