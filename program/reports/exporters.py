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
  table; page numbers in the footer. WeasyPrint fetches nothing from the network: only our static
  files, everything else is refused.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from flask import render_template
from markupsafe import Markup

from program.pdf import html_to_pdf
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


def report_html(report: Report, meta: Sequence[tuple[str, str]], generated: str, org: str) -> str:
    lines = list(report_lines(report.rows))
    return render_template(
        "reports/pdf/participation.html",
        report=report,
        charts=report.charts,
        lines=lines,
        columns=header(),
        meta=meta,
        generated=generated,
        org=org,
        cells=line_cells,
        css_header=css_string(f"{org} · Participation report · {report.period.label}"),
        css_footer=css_string(f"Generated {generated}"),
    )


def render_pdf(html: str, on_step: Callable[[str], None] | None = None) -> bytes:
    """The PDF of ``html`` (through ``program.pdf``); ``on_step`` hears each WeasyPrint step."""
    return html_to_pdf(html, on_step=on_step)


def lines_of(rows: Iterable[Any]) -> list[tuple[str, Any]]:
    return list(report_lines(rows))
