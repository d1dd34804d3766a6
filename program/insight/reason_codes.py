"""The reason-code insight: which codes submitted debriefs gave, per segment, funnel stage or kind, with the
customers' own words, and its CSV.

Rules kept here:
- only SUBMITTED debriefs count;
- every code counts, but no words are quoted from a debrief kept out of the feed
  (``permissions.quotable_debriefs``);
- reason-code shares are of code mentions in a column (a debrief may give several codes), so a
  category's column adds up to 100 %; "Unknown / other" is a row of its own;
- exported cells that a spreadsheet would run as a formula are neutralised.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Select, func, select

from program.activities.models import Activity, ActivityKind
from program.debriefs.models import (
    Answer,
    AnswerCode,
    CodeCategory,
    Debrief,
    DebriefQuestion,
    DebriefState,
    DebriefTask,
    ReasonCode,
)
from program.extensions import db
from program.insight.days import day_bounds
from program.insight.permissions import quotable_debriefs
from program.rides.models import FUNNEL_STAGES, SEGMENTS, RideAlongCall
from program.spreadsheet import neutralise

OTHER_LABEL = "Unknown / other"
QUOTES_PER_CODE = 3

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
    stmt = stmt.where(Debrief.state == DebriefState.SUBMITTED.value)
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
