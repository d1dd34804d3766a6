"""The participation report as CSV (streamed), XLSX and PDF.

Rules kept here:
- every format has the same columns, person rows by department, a subtotal after each department and
  the total last;
- CSV is UTF-8 (with a byte-order mark, so spreadsheet programs detect it) and streamed row by row;
  a text cell starting with = + - @, tab or carriage return is neutralised (a leading ') so a
  spreadsheet shows it rather than running it;
- XLSX stores every text cell as text (never as a formula), under a header naming the organisation,
  period and filters;
- PDF is A4 landscape: a header with the organisation, period and filters, the summary charts, then the
  table; "Page n of N" in the footer. It is laid out in parts of a few hundred lines, each written and freed
  before the next (a 5,000-person report would otherwise hold gigabytes of layout), and the running header
  and footers are laid over the joined pages. WeasyPrint fetches nothing from the network: only our static
  files, everything else is refused.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from flask import render_template
from markupsafe import Markup

from program.goals.status import KINDS
from program.pdf import html_parts_to_pdf
from program.reports.services import (
    Report,
    ReportFilters,
    header,
    line_cells,
    report_lines,
    report_rows,
)
from program.spreadsheet import neutralise

Progress = Callable[[int], None]
BOM = "\ufeff"


# --- CSV -----------------------------------------------------------------------------------------


def csv_line(cells: Sequence[object]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([neutralise(c) for c in cells])
    return out.getvalue()


def csv_stream(filters: ReportFilters, tz: str, now: datetime) -> Iterator[str]:
    """The report as CSV text, one line at a time, from a server-side cursor: memory stays flat."""
    yield BOM + csv_line(header())
    for kind, item in report_lines(report_rows(filters, tz, now)):
        yield csv_line(line_cells(kind, item))


def filename(filters: ReportFilters, ext: str) -> str:
    return f"participation-{filters.period}.{ext}"


# --- XLSX ----------------------------------------------------------------------------------------


def write_xlsx(
    target: str | Path | BinaryIO,
    lines: Sequence[tuple[str, Any]],
    meta: Sequence[tuple[str, str]],
    *,
    title: str,
    progress: Progress | None = None,
) -> int:
    """Write the report lines to an XLSX workbook (openpyxl, write-only); returns the person rows written."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Participation")
    columns = header()
    widths = [24, 30, 18, 20, 20] + [11] * (len(columns) - 7) + [18, 40]  # ... status, longer-period goals
    for n, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(n)].width = width
    bold = Font(bold=True)

    def cell(value: object, strong: bool = False) -> WriteOnlyCell:
        c = WriteOnlyCell(ws, value=value)
        if isinstance(value, str):
            c.data_type = "s"  # text stays text: "=cmd()" is never stored as a formula
        if strong:
            c.font = bold
        return c

    ws.append([cell(title, True)])
    for label, value in meta:
        ws.append([cell(label, True), cell(value)])
    ws.append([])
    ws.append([cell(c, True) for c in columns])
    people, reported = 0, 0
    for n, (kind, item) in enumerate(lines, 1):
        ws.append([cell(v, kind != "person") for v in line_cells(kind, item)])
        people += kind == "person"
        tenth = 10 * n // len(lines)
        if progress and tenth > reported:  # at most ten progress reports, whatever the size
            reported = tenth
            progress(10 * tenth)
    wb.save(target)
    return people


# --- PDF -----------------------------------------------------------------------------------------


def css_string(text: str) -> Markup:
    """``text`` as a quoted CSS string, safe inside a <style> element (for running headers and footers)."""
    escaped = "".join(ch if ch.isalnum() or ch in " .,:;·-_()/" else f"\\{ord(ch):x} " for ch in text)
    return Markup(f'"{escaped}"')


@dataclass(frozen=True)
class PdfColumn:
    label: str
    width: float  # mm; the widths add up to the A4 landscape page's 277 mm
    number: bool = False


def pdf_columns() -> list[PdfColumn]:
    """The PDF's columns: the report's, without Email and Achieved (the CSV and XLSX have them), and with each
    kind's booked / attended / no-show, and the debriefs submitted / overdue, in one cell (fewer cells for
    WeasyPrint to lay out; the same figures)."""
    names = header()
    trio = [
        # U+2011, a hyphen the line is not broken at: "no-" / "show" read badly in a narrow header
        PdfColumn(f"{names[n].removesuffix(' booked')} booked / attended / no\u2011show", 22, True)
        for n in range(5, 5 + 3 * len(KINDS), 3)
    ]
    return [
        PdfColumn(names[0], 32),
        PdfColumn(names[2], 22),
        PdfColumn(names[3], 18),
        PdfColumn(names[4], 22),
        *trio,
        PdfColumn("Debriefs submitted / overdue", 16, True),
        PdfColumn(names[-5], 11, True),  # Goal target
        PdfColumn(names[-3], 12, True),  # % achieved
        PdfColumn(names[-2], 30),  # Status (a subtotal's counts them all)
        PdfColumn(names[-1], 48),  # Goals over a longer period: long text; this wide, two lines
    ]


def pdf_cells(kind: str, item: Any) -> list[object]:
    """One line of the report (``line_cells``) in the PDF's columns (``pdf_columns``)."""
    cells = line_cells(kind, item)
    first = 5 + 3 * len(KINDS)
    trios = [" / ".join(str(v) for v in cells[n : n + 3]) for n in range(5, first, 3)]
    return [
        cells[0],
        cells[2],
        cells[3],
        cells[4],
        *trios,
        f"{cells[first]} / {cells[first + 1]}",  # debriefs submitted / overdue
        cells[-5],
        cells[-3],
        cells[-2],
        cells[-1],
    ]


# Lines per part of the PDF. Each part is laid out, written and freed before the next, so the worker's memory is
# that of one part however many people the report has; a part starts on a new page, so parts hold whole
# departments where they can (a department larger than this is split into equal parts).
PDF_PART_LINES = 400


def pdf_parts(lines: Sequence[tuple[str, Any]], size: int) -> list[list[tuple[str, Any]]]:
    """The report's lines in parts of at most ``size`` lines (at least one part), cut after a department's
    subtotal where possible; a department longer than ``size`` is split into equal parts. The total stays with
    the last department (never alone on a page)."""
    departments: list[list[tuple[str, Any]]] = []
    current: list[tuple[str, Any]] = []
    for line in lines:
        if line[0] == "total" and not current and departments:
            departments[-1].append(line)
            continue
        current.append(line)
        if line[0] != "person":  # a subtotal closes its department
            departments.append(current)
            current = []
    if current:
        departments.append(current)
    parts: list[list[tuple[str, Any]]] = []
    part: list[tuple[str, Any]] = []
    for department in departments:
        if part and len(part) + len(department) > size:
            parts.append(part)
            part = []
        if len(department) > size:
            pieces = -(-len(department) // size)
            step = -(-len(department) // pieces)
            chunks = [department[n : n + step] for n in range(0, len(department), step)]
            parts.extend(chunks[:-1])
            part = chunks[-1]
        else:
            part.extend(department)
    parts.append(part)
    return parts


@dataclass(frozen=True)
class ReportPdf:
    """The participation report as WeasyPrint's input: HTML documents laid out one after another (``parts``) and
    the page furniture laid over every page (``furniture(pages)``: the running header and footers, "Page n of
    N")."""

    parts: list[str]
    furniture: Callable[[int], str]


def report_html(report: Report, meta: Sequence[tuple[str, str]], generated: str, org: str) -> ReportPdf:
    """The report's PDF as HTML parts (``render_pdf`` lays them out): the first with the title, filters, summary
    and charts and the start of the table, the rest with the table's further lines."""
    common = {
        "report": report,
        "org": org,
        "css_header": css_string(f"{org} · Participation report · {report.period.label}"),
        "css_footer": css_string(f"Generated {generated}"),
    }
    columns = pdf_columns()
    parts = [
        render_template(
            "reports/pdf/participation.html",
            front=n == 0,
            charts=report.charts if n == 0 else None,
            meta=meta,
            generated=generated,
            lines=part,
            columns=columns,
            cells=pdf_cells,
            **common,
        )
        for n, part in enumerate(pdf_parts(list(report_lines(report.rows)), PDF_PART_LINES))
    ]

    def furniture(pages: int) -> str:
        return render_template("reports/pdf/participation_furniture.html", pages=pages, **common)

    return ReportPdf(parts, furniture)


def render_pdf(document: ReportPdf, on_step: Callable[[str], None] | None = None) -> bytes:
    """The PDF of the report (through ``program.pdf``); ``on_step`` hears each WeasyPrint step, the layout's
    pages numbered across the parts."""
    return html_parts_to_pdf(document.parts, furniture=document.furniture, on_step=on_step)


def lines_of(rows: Iterable[Any]) -> list[tuple[str, Any]]:
    return list(report_lines(rows))
