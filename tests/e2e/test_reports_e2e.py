"""HR in a real browser: filter the participation report, start a PDF export, watch the job page (which
reloads itself, no script) until the file is ready, download it and read it back with pypdf; the export
is on the audit page."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from pypdf import PdfReader

from tests.e2e.conftest import sign_in

JOB_TIMEOUT_MS = 90_000


def test_hr_filters_the_report_and_downloads_a_pdf(page, live_server):
    sign_in(page, live_server, "hr@example.com")
    page.goto(live_server.url + "/reports/")
    expect(page.get_by_role("heading", name="Participation report")).to_be_visible()

    page.get_by_label("Department", exact=True).select_option(label="Marketing")
    page.get_by_role("button", name="Show", exact=True).click()
    page.wait_for_url(re.compile(r".*/reports/\?.*department=\d+"))
    people = page.locator("#report-people")
    expect(people).to_contain_text("Morgan Lee")  # marketing
    expect(people).not_to_contain_text("Riley Patel")  # sales: filtered out
    expect(page.locator("#department-subtotals")).to_contain_text("Marketing")

    page.get_by_role("button", name="Export PDF", exact=True).click()
    page.wait_for_url(re.compile(r".*/reports/exports/\d+$"))
    expect(page.get_by_role("heading", name="PDF export")).to_be_visible()
    expect(page.locator("#job-progress")).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text("Marketing")

    # The page reloads itself every two seconds until the job is done; then the link appears.
    download_link = page.locator("#download")
    expect(download_link).to_be_visible(timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#job-status")).to_have_attribute("data-state", "done")
    expect(page.locator("#job-progress")).to_have_attribute("value", "100")

    with page.expect_download() as info:
        download_link.click()
    download = info.value
    assert re.fullmatch(r"participation-\d{4}-\d{2}\.pdf", download.suggested_filename)
    with open(download.path(), "rb") as handle:
        reader = PdfReader(handle)
        text = "\n".join(p.extract_text() for p in reader.pages)
    assert "Participation report" in text and "Example Corp" in text
    assert "Department" in text and "Marketing" in text
    assert "Morgan Lee" in text and "Riley Patel" not in text
    assert f"Page 1 of {len(reader.pages)}" in text

    page.goto(live_server.url + "/reports/exports/audit")
    log = page.locator("#export-audit")
    expect(log).to_contain_text("Harper Hughes")
    expect(log).to_contain_text("Department: Marketing")
    expect(log).to_contain_text("PDF")
