"""What debriefs teach: the learnings feed, tactics triage and the reason-code insight.

Pure query and rule functions. They take plain filter values, the viewing or acting user and ``now``;
routes parse the request, templates only render what comes back (they never query).

Rules kept here:
- only SUBMITTED debriefs feed the learnings, the tactics list and the insight;
- a learning is a non-empty text answer that sharing.py lets this viewer read: its question is flagged
  "shared in the learnings feed", the debrief is not kept out of the feed, and a shadow day's answers
  are for leaders, HR and admins unless the writer shared them with everyone. The tactics triage
  obeys the same rule; the insight counts every code but quotes no words from a kept-out debrief;
- "Useful" is one mark per person per learning (mark / unmark are idempotent);
- a tactic never goes back to "new"; launching or not pursuing it needs a note saying why;
- reason-code shares are of code mentions in a column (a debrief may give several codes), so a
  category's column adds up to 100 %; "Unknown / other" is a row of its own;
- exported cells that a spreadsheet would run as a formula are neutralised.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager, joinedload

from program.accounts.models import Department, User
from program.activities.kinds import KindInfo, kind_info, summary_for
from program.activities.models import Activity, ActivityKind
from program.debriefs.models import (
    Answer,
    AnswerCode,
    CodeCategory,
    Debrief,
    DebriefQuestion,
    DebriefTask,
    LearningUseful,
    ReasonCode,
    Tactic,
    TacticStatus,
)
from program.debriefs.permissions import can_read_shared_answer, can_triage_tactics
from program.debriefs.sharing import quotable_debriefs, shared_answers
from program.errors import NotAllowed, ValidationFailed
from program.extensions import db
from program.rides.models import FUNNEL_STAGES, SEGMENTS, RideAlongCall
from program.rides.services import participations_for, reveals_account
from program.spreadsheet import FORMULA_STARTS, neutralise  # noqa: F401  (re-exported)
from program.timeutil import UTC

SUBMITTED = "submitted"
OTHER_LABEL = "Unknown / other"
QUOTES_PER_CODE = 3
MAX_SEARCH_TERMS = 8
NOTE_MAX = 1000
# Cells starting with these are run as formulas by spreadsheets (OWASP "CSV injection").


# --- shared helpers ----------------------------------------------------------------------------


def day_bounds(day_from: date | None, day_to: date | None, tz: str) -> tuple[datetime | None, datetime | None]:
    """Whole local days [from 00:00, the day after ``to`` 00:00) in ``tz``, as UTC instants."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day_from, time(0), zone).astimezone(UTC) if day_from else None
    end = datetime.combine(day_to + timedelta(days=1), time(0), zone).astimezone(UTC) if day_to else None
    return start, end


def _like(term: str) -> str:
    """A LIKE pattern matching ``term`` literally anywhere ('/' is the escape character)."""
    return "%" + term.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


def _kind_or_none(activity: Activity) -> KindInfo | None:
    try:
        return kind_info(activity)
    except KeyError:  # a kind whose package has not registered itself (yet)
        return None


@dataclass(frozen=True)
class ActivityLink:
    summary: str
    endpoint: str | None  # called with activity_id=; None when the kind has no page


def activity_links(activities: Iterable[Activity], viewer: User) -> dict[int, ActivityLink]:
    """Each activity's summary as this viewer may see it (hidden account names stay hidden), and its page.

    Same answer as ``summary_for``, but the viewer's seats on hidden ride-alongs are read in one query
    rather than one per row. Activities must come with ``host`` (and ``ride``) loaded.
    """
    unique = {a.id: a for a in activities}
    hidden = [
        a.id
        for a in unique.values()
        if a.kind == ActivityKind.RIDE_ALONG.value and a.ride is not None and a.ride.hide_account
    ]
    mine = participations_for(viewer, hidden) if hidden else {}
    links: dict[int, ActivityLink] = {}
    for a in unique.values():
        info = _kind_or_none(a)
        if info is None:
            links[a.id] = ActivityLink(a.title, None)
        elif a.kind == ActivityKind.RIDE_ALONG.value:
            links[a.id] = ActivityLink(info.summary(a, reveals_account(a, viewer, mine.get(a.id))), info.endpoint)
        else:
            links[a.id] = ActivityLink(summary_for(a, viewer), info.endpoint)
    return links


def departments() -> list[Department]:
    return list(db.session.scalars(select(Department).order_by(Department.name)))


# --- learnings feed ----------------------------------------------------------------------------


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


# --- tactics triage ----------------------------------------------------------------------------

# Triage moves a tactic out of "new" and never back: "new" means "nobody has looked at it yet".
# Between the other three any move is allowed, so a decision can be revisited (with a note).
TRIAGE_STATUSES = (TacticStatus.EXPLORING, TacticStatus.LAUNCHED, TacticStatus.NOT_PURSUED)
NOTE_REQUIRED = (TacticStatus.LAUNCHED.value, TacticStatus.NOT_PURSUED.value)


@dataclass(frozen=True)
class TacticRow:
    tactic: Tactic
    text: str
    rider_name: str  # the debrief's author proposed it
    rep_name: str  # the activity's host, whose call it came from
    activity_id: int
    activity_starts_at: datetime
    link: ActivityLink
    status: TacticStatus
    updated_by_name: str


def _shared_tactics(stmt: Select, viewer: User) -> Select:
    """Tactics whose answer ``viewer`` may read outside the debrief (the sharing rules)."""
    return (
        stmt.join(Tactic.answer)
        .join(Answer.question)
        .join(Answer.debrief)
        .join(Debrief.task)
        .join(DebriefTask.activity)
        .where(shared_answers(viewer))
    )


def tactics_query(viewer: User, status: str = "") -> Select:
    stmt = (
        _shared_tactics(select(Tactic), viewer)
        .options(
            joinedload(Tactic.updated_by),
            contains_eager(Tactic.answer).contains_eager(Answer.debrief).joinedload(Debrief.author),
            contains_eager(Tactic.answer)
            .contains_eager(Answer.debrief)
            .contains_eager(Debrief.task)
            .contains_eager(DebriefTask.activity)
            .joinedload(Activity.host),
        )
        .order_by(Debrief.submitted_at.desc(), Tactic.id.desc())
    )
    if status:
        stmt = stmt.where(Tactic.status == status)
    return stmt


def tactics_page(status: str, viewer: User, page: int, per_page: int):
    """(pagination, rows) of proposed tactics, newest proposal first."""
    pagination = db.paginate(tactics_query(viewer, status), page=page, per_page=per_page, error_out=False)
    tactics: list[Tactic] = list(pagination.items)
    links = activity_links([t.answer.debrief.task.activity for t in tactics], viewer)
    rows = []
    for t in tactics:
        debrief = t.answer.debrief
        activity = debrief.task.activity
        rows.append(
            TacticRow(
                tactic=t,
                text=t.answer.text,
                rider_name=debrief.author.name,
                rep_name=activity.host.name,
                activity_id=activity.id,
                activity_starts_at=activity.starts_at,
                link=links[activity.id],
                status=TacticStatus(t.status),
                updated_by_name=t.updated_by.name if t.updated_by else "",
            )
        )
    return pagination, rows


def tactic_status_counts(viewer: User) -> dict[str, int]:
    """status -> number of tactics ``viewer`` may see, for the filter's labels."""
    rows = db.session.execute(
        _shared_tactics(select(Tactic.status, func.count(Tactic.id)), viewer).group_by(Tactic.status)
    )
    return {status: count for status, count in rows}


def visible_tactic(tactic_id: int, viewer: User) -> Tactic | None:
    """The tactic if ``viewer`` may see it in the triage list, else None."""
    return db.session.scalar(_shared_tactics(select(Tactic), viewer).where(Tactic.id == tactic_id))


def update_tactic(actor: User, tactic: Tactic, status: str, note: str, now: datetime) -> Tactic:
    """Triage a tactic: marketing leaders and admins set its status with a note.

    Never back to "new"; "launched" and "not pursued" need a note (what was launched, or why not).
    """
    if not can_triage_tactics(actor):
        raise NotAllowed("Only marketing leaders and admins triage tactics.")
    note = (note or "").strip()
    if status == TacticStatus.NEW.value:
        raise ValidationFailed("A tactic can't go back to “new” once it has been triaged.", field="status")
    if status not in {s.value for s in TRIAGE_STATUSES}:
        raise ValidationFailed("Choose a status from the list.", field="status")
    if status in NOTE_REQUIRED and not note:
        what = "what was launched" if status == TacticStatus.LAUNCHED.value else "why it is not pursued"
        raise ValidationFailed(f"Add a note saying {what}.", field="note")
    if len(note) > NOTE_MAX:
        raise ValidationFailed(f"Keep the note under {NOTE_MAX:,} characters.", field="note")
    tactic.status = status
    tactic.note = note
    tactic.updated_by = actor
    tactic.updated_at = now
    db.session.flush()
    return tactic


# --- reason-code insight -----------------------------------------------------------------------

DIMENSIONS = {"segment": "Segment", "stage": "Funnel stage", "kind": "Activity kind"}
NO_CALL_LABEL = "Not a ride-along"


@dataclass(frozen=True)
class InsightFilters:
    segment: str = ""
    stage: str = ""
    kind: str = ""
    day_from: date | None = None  # by the activity's start, in ``tz``
    day_to: date | None = None
    tz: str = "UTC"
    group_by: str = "segment"


@dataclass(frozen=True)
class Column:
    key: str | None  # the dimension's value; None for activities without one (not a ride-along)
    label: str


@dataclass(frozen=True)
class Cell:
    count: int
    total: int  # the column's total of code mentions in this category

    @property
    def share(self) -> float | None:
        return self.count / self.total if self.total else None

    @property
    def percent(self) -> str:
        """The share as a percentage with one decimal ("66.7"), or "" for an empty column."""
        return "" if self.share is None else f"{self.share * 100:.1f}"


@dataclass
class CodeRow:
    code_id: int | None  # None: "Unknown / other"
    label: str
    cells: list[Cell]
    all: Cell  # across every column
    quotes: list[str] = field(default_factory=list)  # the most recent customer words, newest first
    described: list[str] = field(default_factory=list)  # "Unknown / other": what riders wrote it was
    retired: bool = False

    @property
    def is_other(self) -> bool:
        return self.code_id is None


@dataclass
class CategoryTable:
    category: str
    label: str
    rows: list[CodeRow]
    column_totals: list[int]
    total: int


@dataclass
class InsightReport:
    filters: InsightFilters
    dimension: str
    columns: list[Column]
    categories: list[CategoryTable]
    debriefs: int  # submitted debriefs matching the filters


def _dimension(group_by: str):
    if group_by == "stage":
        return RideAlongCall.funnel_stage
    if group_by == "kind":
        return Activity.kind
    return RideAlongCall.segment


def _activity_filters(stmt: Select, f: InsightFilters) -> Select:
    """Submitted debriefs only, and the filters; the statement must already have Debrief,
    Activity and (outer-joined) RideAlongCall in its FROM."""
    stmt = stmt.where(Debrief.state == SUBMITTED)
    if f.segment:
        stmt = stmt.where(RideAlongCall.segment == f.segment)
    if f.stage:
        stmt = stmt.where(RideAlongCall.funnel_stage == f.stage)
    if f.kind:
        stmt = stmt.where(Activity.kind == f.kind)
    start, end = day_bounds(f.day_from, f.day_to, f.tz)
    if start:
        stmt = stmt.where(Activity.starts_at >= start)
    if end:
        stmt = stmt.where(Activity.starts_at < end)
    return stmt


def _codes_given(stmt: Select, f: InsightFilters) -> Select:
    """Joins from AnswerCode to the debrief, its question (for the category) and its activity."""
    stmt = (
        stmt.select_from(AnswerCode)
        .join(Answer, AnswerCode.answer_id == Answer.id)
        .join(DebriefQuestion, Answer.question_id == DebriefQuestion.id)
        .join(Debrief, Answer.debrief_id == Debrief.id)
        .join(DebriefTask, Debrief.task_id == DebriefTask.id)
        .join(Activity, DebriefTask.activity_id == Activity.id)
        .outerjoin(RideAlongCall, RideAlongCall.activity_id == Activity.id)
    )
    return _activity_filters(stmt, f)


def _ordered_columns(group_by: str, values: Iterable[str | None]) -> list[Column]:
    """The dimension's values that occur, in their natural order (known values first), "none" last."""
    present = set(values)
    if group_by == "kind":
        canonical = [k.value for k in ActivityKind]
        labels = {k.value: k.label for k in ActivityKind}
    else:
        canonical = FUNNEL_STAGES if group_by == "stage" else SEGMENTS
        labels = {}
    known = [v for v in canonical if v in present]
    extra = sorted(v for v in present if v is not None and v not in canonical)
    columns = [Column(v, labels.get(v, v)) for v in known + extra]
    if None in present:
        columns.append(Column(None, NO_CALL_LABEL))
    return columns


def _recent_texts(column, f: InsightFilters, *, where) -> dict[tuple[str, int | None], list[str]]:
    """(category, code id) -> up to QUOTES_PER_CODE non-empty ``column`` values, newest debrief first,
    in one query (a window function numbers them per code)."""
    rank = (
        func.row_number()
        .over(
            partition_by=(DebriefQuestion.code_category, AnswerCode.reason_code_id),
            order_by=(Debrief.submitted_at.desc(), AnswerCode.id.desc()),
        )
        .label("rank")
    )
    inner = (
        _codes_given(
            select(
                DebriefQuestion.code_category.label("category"),
                AnswerCode.reason_code_id.label("code_id"),
                column.label("text"),
                rank,
            ),
            f,
        )
        .where(column != "", quotable_debriefs(), *where)
        .subquery()
    )
    rows = db.session.execute(
        select(inner.c.category, inner.c.code_id, inner.c.text)
        .where(inner.c.rank <= QUOTES_PER_CODE)
        .order_by(inner.c.rank)
    )
    found: dict[tuple[str, int | None], list[str]] = {}
    for category, code_id, text in rows:
        found.setdefault((category, code_id), []).append(text.strip())
    return found


def insight_report(f: InsightFilters) -> InsightReport:
    """Reason codes given in submitted debriefs, counted per code and per value of the chosen dimension.

    Five queries whatever the data: counts, codebook, customer words, "other" descriptions, debriefs.
    """
    group_by = f.group_by if f.group_by in DIMENSIONS else "segment"
    dim = _dimension(group_by)
    counted = db.session.execute(
        _codes_given(
            select(DebriefQuestion.code_category, AnswerCode.reason_code_id, dim, func.count(AnswerCode.id)), f
        ).group_by(DebriefQuestion.code_category, AnswerCode.reason_code_id, dim)
    ).all()
    counts: dict[tuple[str, int | None, str | None], int] = {
        (category, code_id, value): n for category, code_id, value, n in counted
    }
    columns = _ordered_columns(group_by, (value for _, _, value in counts))
    codebook = list(
        db.session.scalars(select(ReasonCode).order_by(ReasonCode.position, ReasonCode.label, ReasonCode.id))
    )
    quotes = _recent_texts(AnswerCode.words, f, where=())
    described = _recent_texts(AnswerCode.other_text, f, where=(AnswerCode.reason_code_id.is_(None),))
    debriefs = (
        db.session.scalar(
            _activity_filters(
                select(func.count(func.distinct(Debrief.id)))
                .select_from(Debrief)
                .join(DebriefTask, Debrief.task_id == DebriefTask.id)
                .join(Activity, DebriefTask.activity_id == Activity.id)
                .outerjoin(RideAlongCall, RideAlongCall.activity_id == Activity.id),
                f,
            )
        )
        or 0
    )

    categories = []
    for category in CodeCategory:
        cat = category.value
        column_totals = [sum(n for (c, _, v), n in counts.items() if c == cat and v == col.key) for col in columns]
        total = sum(column_totals)

        def row(
            code_id: int | None, label: str, retired: bool = False, cat=cat, column_totals=column_totals, total=total
        ):
            cells = [
                Cell(counts.get((cat, code_id, col.key), 0), t) for col, t in zip(columns, column_totals, strict=True)
            ]
            return CodeRow(
                code_id=code_id,
                label=label,
                cells=cells,
                all=Cell(sum(c.count for c in cells), total),
                quotes=quotes.get((cat, code_id), []),
                described=described.get((cat, None), []) if code_id is None else [],
                retired=retired,
            )

        rows = [row(code.id, code.label, code.retired) for code in codebook if code.category == cat]
        rows = [r for r in rows if not r.retired or r.all.count]  # a retired code shows only while it has data
        if not rows and not total:
            continue  # a category with no codes at all
        rows.append(row(None, OTHER_LABEL))
        categories.append(CategoryTable(cat, category.label, rows, column_totals, total))
    return InsightReport(
        filters=f, dimension=DIMENSIONS[group_by], columns=columns, categories=categories, debriefs=debriefs
    )


def insight_csv_rows(report: InsightReport) -> list[list[object]]:
    """The insight table as CSV rows (header first), every cell neutralised against formulas."""
    header: list[object] = ["Category", "Reason code"]
    for col in report.columns:
        header += [f"{col.label} (count)", f"{col.label} (%)"]
    header += ["All (count)", "All (%)", "Recent customer words", "Described as"]
    rows: list[list[object]] = [header]
    for table in report.categories:
        for r in table.rows:
            line: list[object] = [table.label, r.label]
            for cell in r.cells:
                line += [cell.count, cell.percent]
            line += [r.all.count, r.all.percent, " | ".join(r.quotes), " | ".join(r.described)]
            rows.append(line)
    return [[neutralise(cell) for cell in line] for line in rows]


def insight_csv(report: InsightReport) -> str:
    """The CSV text (RFC 4180 line endings). Small: one line per reason code."""
    out = io.StringIO()
    csv.writer(out).writerows(insight_csv_rows(report))
    return out.getvalue()
