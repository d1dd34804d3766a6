"""The participation report's PDF at scale (issue 18): laid out in parts, each written and freed before the next,
with the running header and "Page n of N" laid over the joined pages.

Read back with pypdf: every person once, the subtotals and the total, every page numbered across the parts and
carrying the running header. The time and memory of the 600-person PDF are printed, not asserted
(`.ci/bench_pages.py` measures the 5,000-person one in a worker-like subprocess).
"""

from __future__ import annotations

import io
import re
import threading
import time
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from program.accounts.models import User
from program.extensions import db
from program.pdf import html_parts_to_pdf
from program.reports import exporters, jobs, worker
from program.reports.models import ExportJob
from program.reports.services import ReportFilters, Totals
from tests.factories.reports_scale import populate

PEOPLE, PARTICIPATIONS = 600, 3_000


class PeakMemory:
    """The process's resident memory sampled every 20 ms while the block runs: before, peak, and growth."""

    STATM = Path("/proc/self/statm")

    def __init__(self) -> None:
        self.before = self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _rss(self) -> int:
        return int(self.STATM.read_text().split()[1]) * 4096 if self.STATM.exists() else 0

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> PeakMemory:
        self.before = self.peak = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def describe(self) -> str:
        if not self.before:
            return "not measured (no /proc/self/statm)"
        before, peak = self.before / 2**20, self.peak / 2**20
        return f"{before:.0f} MB before, peak {peak:.0f} MB (+{peak - before:.0f})"


def page_texts(content: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]


def test_a_large_report_in_parts_keeps_every_person_and_numbers_its_pages(app, now, held_jobs, monkeypatch):
    company = populate(PEOPLE, PARTICIPATIONS, now)
    names = set(db.session.scalars(select(User.name).where(User.active)))
    assert len(names) == company.people
    hr = db.session.get(User, company.hr_id)
    monkeypatch.setattr(exporters, "PDF_PART_LINES", 150)  # several parts, each department split in two
    parts: list[list] = []
    real_pdf_parts = exporters.pdf_parts

    def noted_parts(lines, size):
        parts.extend(real_pdf_parts(lines, size))
        return parts

    monkeypatch.setattr(exporters, "pdf_parts", noted_parts)
    job = jobs.create_job(hr, "pdf", ReportFilters(period="2026-11"), "Europe/London", now)
    db.session.commit()

    with PeakMemory() as memory:
        started = time.perf_counter()
        assert worker.run_job(job.id, "test")
        seconds = time.perf_counter() - started

    db.session.expire_all()
    job = db.session.get(ExportJob, job.id)
    assert job.state == "done", job.error
    texts = page_texts(jobs.job_content(job))
    pages = len(texts)
    print(
        f"\nPDF of {company.people} people in parts: {pages} pages in {seconds:.1f} s; this process's memory "
        f"{memory.describe()}"
    )

    assert len(parts) >= 6 and [kind for kind, _ in parts[0]][-1] == "person"  # a department went on in part 2
    for n, text in enumerate(texts, 1):
        assert f"Page {n} of {pages}" in text, f"page {n}: {text[-200:]!r}"
        assert "Example Corp · Participation report · November 2026" in text, f"page {n} lost its header"
        assert "Generated " in text
    assert "Participation report" in texts[0] and "People by goal status" in texts[0]  # the front page first

    body = "\n".join(texts)
    missing = sorted(name for name in names if name not in body)
    assert not missing, f"{len(missing)} people missing from the PDF, e.g. {missing[:5]}"
    for name in names:
        if name.startswith("Person "):  # unique, and never anyone's manager: once each
            assert len(re.findall(rf"\b{name}\b", body)) == 1, f"{name} appears more than once"
    words = " ".join(body.split())  # a bold subtotal label may wrap in its cell
    for department in ("Sales", "Marketing", "Operations"):
        assert f"Subtotal: {department}" in words
    assert re.search(r"^Total\b", texts[-1], re.MULTILINE), "no Total row on the last page"
    assert words.index("Subtotal: Sales") < words.rindex("Total")  # departments in order of name, then the total


def test_parts_hold_whole_departments_and_split_only_large_ones():
    def lines(department: str, people: int) -> list[tuple[str, object]]:
        return [("person", f"{department}{n}") for n in range(people)] + [("subtotal", Totals(department))]

    report = lines("a", 3) + lines("b", 4) + lines("c", 12) + lines("d", 2) + [("total", Totals("Total"))]
    parts = exporters.pdf_parts(report, size=6)
    assert [line for part in parts for line in part] == report  # nothing lost, nothing twice, in order
    assert all(0 < len(part) <= 6 for part in parts)
    ends = [part[-1] for part in parts]
    # a and b do not fit together (4 + 5 lines); c (13 lines) is split into three equal parts; d and the total
    # go together.
    assert [len(part) for part in parts] == [4, 5, 5, 5, 3, 4]
    assert [e[1].label if e[0] != "person" else e[1] for e in ends] == ["a", "b", "c4", "c9", "c", "Total"]
    assert exporters.pdf_parts([("total", Totals("Total"))], 6) == [[("total", Totals("Total"))]]  # nobody: one part


def test_page_numbers_and_layout_steps_run_on_across_parts(app):
    page = "<div style='break-after: page'>{}</div>"
    parts = [
        "<style>@page { size: A5 }</style>" + page.format("one") + "<p>two</p>",
        "<style>@page { size: A5 }</style><p>three</p>",
        "<style>@page { size: A5 }</style>" + page.format("four") + page.format("five") + "<p>six</p>",
    ]
    steps: list[str] = []

    def furniture(pages: int) -> str:
        return (
            "<style>@page { size: A5; @bottom-right { content: 'Page ' counter(page) ' of ' counter(pages) } }"
            "div { break-after: page } div:last-child { break-after: auto }</style>" + "<div></div>" * pages
        )

    texts = page_texts(html_parts_to_pdf(parts, furniture=furniture, on_step=steps.append))
    words = ["one", "two", "three", "four", "five", "six"]
    assert len(texts) == 6
    for n, (text, word) in enumerate(zip(texts, words, strict=True), 1):
        assert word in text and f"Page {n} of 6" in text
    numbers = [int(s.rsplit(" ", 1)[1]) for s in steps if "Creating layout - Page" in s]
    assert numbers == [1, 2, 3, 4, 5, 6]
    assert steps[-1] == "Step 6 - Creating PDF" and steps.count("Step 6 - Creating PDF") == 1


def test_furniture_that_does_not_match_the_pages_is_refused(app):
    with pytest.raises(RuntimeError, match="2 pages for 1"):
        html_parts_to_pdf(["<p>one</p>"], furniture=lambda n: "<div style='break-after: page'></div><p>x</p>")
