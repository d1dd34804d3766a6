"""The learnings feed: what colleagues chose to share from their debriefs, searchable, with "Useful" marks.

Pure query and rule functions. They take plain filter values, the viewing or acting user and ``now``;
routes parse the request, templates only render what comes back (they never query).

Rules kept here:
- only SUBMITTED debriefs feed the learnings;
- a search finds the learnings containing every word typed (in any case), a word also finding longer words
  it begins ("onboard" finds "onboarding"). On PostgreSQL the words are looked up in a full-text index
  (``answer.search_vector``, GIN) and then matched exactly as typed; SQLite matches with LIKE alone (there a
  piece from the middle of a word also matches);
- a learning is a non-empty text answer that the sharing rules (``permissions.shared_answers``) let this
  viewer read: its question is flagged "shared in the learnings feed", the debrief is not kept out of the
  feed, and a shadow day's answers are for leaders, HR and admins unless the writer shared them with everyone;
- "Useful" is one mark per person per learning (mark / unmark are idempotent).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, Text, case, cast, func, literal_column, select
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
# The pager counts matches up to this many and then says "more than"; an exact count of a large feed costs
# more than the page itself.
COUNT_CAP = 1000
_WORD = re.compile(r"[^\W_]")  # a letter or digit: something the full-text parser makes a word of


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
    stmt = _search(stmt, f.q.split()[:MAX_SEARCH_TERMS])
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


def _prefix_query(words: str):
    """The tsquery "every word, or a longer word it begins": PostgreSQL splits the words as it splits the
    answers (``plainto_tsquery``), and each word ``w`` becomes ``('w' | 'w':*)`` — the same matches as the
    prefix alone, but the planner then knows how common a whole word is (it has no statistics for prefixes)."""
    simple = literal_column("'simple'::regconfig")
    plain = cast(func.plainto_tsquery(simple, words), Text)
    return func.to_tsquery(simple, func.regexp_replace(plain, "'([^']*)'", r"('\1' | '\1':*)", "g"))


def _search(stmt: Select, terms: list[str]) -> Select:
    """Every term must appear in the answer, in any case. On PostgreSQL the full-text index finds the answers
    with the terms' words; a term of letters and digits only is then found (its word, or a longer one it
    begins), and a term with other characters in it ("e-mail", "3.5") is also matched as typed (ILIKE).
    SQLite matches every term with LIKE."""
    if db.session.get_bind().dialect.name != "postgresql":
        return stmt.where(*(Answer.text.ilike(_like(term), escape="/") for term in terms))
    words = " ".join(term for term in terms if _WORD.search(term))
    if words:
        stmt = stmt.where(Answer.search_vector.op("@@")(_prefix_query(words)))
    exact = [term for term in terms if not term.isalnum()]
    return stmt.where(*(Answer.text.ilike(_like(term), escape="/") for term in exact))


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


@dataclass(frozen=True)
class LearningPage:
    """One page of the feed, shaped like Flask-SQLAlchemy's pagination for the pager; ``total`` is None when
    more than ``COUNT_CAP`` learnings match (then ``has_next`` says whether another page follows)."""

    page: int
    per_page: int
    total: int | None
    has_next: bool

    @property
    def pages(self) -> int | None:
        return None if self.total is None else max((self.total + self.per_page - 1) // self.per_page, 1)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def learning_page(f: LearningFilters, viewer: User, page: int, per_page: int) -> tuple[LearningPage, list]:
    """(pager, items) for one page of the feed; a fixed number of queries whatever the page size and the data:
    the page (one row more, to know whether another follows), the count up to ``COUNT_CAP``, the "useful"
    marks, and the activities' links (a kind may read the viewer's places)."""
    stmt = learnings_query(f, viewer)
    rows: list[Answer] = list(db.session.scalars(stmt.limit(per_page + 1).offset((page - 1) * per_page)).unique().all())
    answers, more = rows[:per_page], len(rows) > per_page
    counted = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).limit(COUNT_CAP + 1).subquery()))
    total = counted if counted <= COUNT_CAP else None
    pager = LearningPage(page, per_page, total, more if total is None else page * per_page < total)
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
    return pager, items


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
