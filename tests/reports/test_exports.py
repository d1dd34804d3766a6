"""XLSX and PDF exports as background jobs: read back by openpyxl and pypdf; job state, takeover,
expiry, permissions and the audit page."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from program.extensions import db
from program.reports import jobs, worker
from program.reports.models import ExportAudit, ExportFile, ExportJob, JobState
from program.reports.services import ReportFilters
from tests.factories.reports import FORMULA_NAME, company


@pytest.fixture
def exports(app):
    """Exports run on the tests' inline job runner: the job is done when the request that asked answers."""
    return app


def fetch(client, url: str) -> tuple[int, bytes, object]:
    """GET a download and close the response (a file response left open warns)."""
    response = client.get(url)
    try:
        return response.status_code, response.get_data(), response
    finally:
        response.close()


def start(client, fmt: str, **filters) -> ExportJob:
    response = client.post("/reports/exports", data={"format": fmt, **filters})
    assert response.status_code == 302, response.get_data(as_text=True)
    job_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    db.session.expire_all()
    return db.session.get(ExportJob, job_id)


def test_xlsx_export_reads_back(make, login, now, exports):
    c = company(make, now)
    client = login(c.hr)
    job = start(client, "xlsx", period="2026-11", department=str(c.marketing.id))
    assert (job.state, job.progress, job.rows) == ("done", 100, 4)
    page = client.get(f"/reports/exports/{job.id}")
    assert "Download participation-2026-11.xlsx" in page.get_data(as_text=True)
    assert "Refresh" not in page.headers  # finished: no more reloading
    status, data, response = fetch(client, f"/reports/exports/{job.id}/download")
    assert status == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert "filename=participation-2026-11.xlsx" in response.headers["Content-Disposition"]

    ws = load_workbook(io.BytesIO(data)).active
    values = [[c.value for c in row] for row in ws.iter_rows()]
    assert values[0][0] == "Participation report"
    meta = {row[0]: row[1] for row in values[1:6] if row and row[0]}
    assert meta["Organisation"] == "Example Corp" and meta["Period"] == "November 2026"
    assert meta["Department"] == "Marketing"
    header_at = next(n for n, row in enumerate(values) if row[0] == "Name")
    header = values[header_at]
    rows = {row[1]: dict(zip(header, row, strict=False)) for row in values[header_at + 1 :]}
    ann = rows["ann@example.com"]
    assert (ann["Ride-along booked"], ann["Ride-along attended"], ann["% achieved"], ann["Status"]) == (
        4,
        2,
        50,
        "On track",
    )
    assert values[-1][0] == "Total" and values[-2][0] == "Subtotal: Marketing"
    # A formula-looking name is stored as text, never as a formula.
    eve = next(row for row in ws.iter_rows() if row[1].value == "eve@example.com")
    assert eve[0].value == FORMULA_NAME and eve[0].data_type == "s"


def test_pdf_export_reads_back(make, login, now, exports):
    c = company(make, now)
    client = login(c.hr)
    job = start(client, "pdf", period="2026-11", department=str(c.marketing.id), status="behind")
    assert job.state == "done", job.error
    _, data, response = fetch(client, f"/reports/exports/{job.id}/download")
    assert response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(data))
    first = reader.pages[0]
    assert first.mediabox.width > first.mediabox.height  # A4 landscape
    assert round(float(first.mediabox.width)) == 842 and round(float(first.mediabox.height)) == 595
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Participation report" in text and "Example Corp" in text and "November 2026" in text
    assert "Department" in text and "Marketing" in text and "Behind" in text  # the filters in the header
    assert "People by goal status" in text  # the summary charts come first ...
    assert text.index("People by goal status") < text.index("Bob Baker")  # ... then the table
    assert "Bob Baker" in text and "Ann Archer" not in text  # status filter: only who is behind
    assert f"Page 1 of {len(reader.pages)}" in text


def test_a_job_runs_on_the_embedded_runners_export_thread(make, now, thread_jobs):
    c = company(make, now)
    job = jobs.create_job(c.hr, "xlsx", ReportFilters(period="2026-11"), "Europe/London", now)
    db.session.commit()  # the export task is queued when this commits, and runs in the runner's export thread
    assert thread_jobs.drain(timeout=60)
    db.session.expire_all()
    job = db.session.get(ExportJob, job.id)
    assert job.state == "done" and job.size == len(jobs.job_content(job)) > 0


def test_asking_for_an_export_queues_its_task_after_the_commit(make, now, held_jobs):
    c = company(make, now)
    db.session.commit()
    held_jobs.items.clear()  # the company's own mail
    job = jobs.create_job(c.hr, "pdf", ReportFilters(period="2026-11"), "UTC", now)
    assert held_jobs.items == []  # not before the commit
    db.session.commit()
    assert held_jobs.tasks("reports.export") == [{"job_id": job.id}]
    assert [i.lock for i in held_jobs.items] == [f"export:{job.id}"]
    rolled_back = jobs.create_job(c.hr, "pdf", ReportFilters(period="2026-11"), "UTC", now)
    db.session.rollback()
    assert len(held_jobs.items) == 1 and rolled_back.id not in [i.kwargs["job_id"] for i in held_jobs.items]


def test_the_job_page_refreshes_while_running(make, login, now, held_jobs):
    c = company(make, now)  # nobody runs the queued job: it stays queued
    client = login(c.hr)
    job = start(client, "pdf", period="2026-11")
    assert job.state == "queued"
    page = client.get(f"/reports/exports/{job.id}")
    assert page.headers["Refresh"] == "2"
    html = page.get_data(as_text=True)
    assert "Waiting to start" in html and 'value="0"' in html and "Download" not in html
    assert client.get(f"/reports/exports/{job.id}/download").status_code == 404


def test_the_cli_worker_runs_queued_jobs_and_takes_over_abandoned_ones(make, now, app, held_jobs):
    c = company(make, now)
    f = ReportFilters(period="2026-11")
    queued = jobs.create_job(c.hr, "xlsx", f, "Europe/London", now)
    abandoned = jobs.create_job(c.hr, "pdf", f, "Europe/London", now)
    busy = jobs.create_job(c.hr, "xlsx", f, "Europe/London", now)
    abandoned.state, abandoned.worker, abandoned.heartbeat_at = "running", "dead-host:1", now - timedelta(minutes=10)
    busy.state, busy.worker, busy.heartbeat_at = "running", "live-host:2", now - timedelta(seconds=5)
    db.session.commit()

    result = app.test_cli_runner().invoke(args=["run-export-jobs"])
    assert result.exit_code == 0, result.output
    assert "export jobs run: 2" in result.output
    db.session.expire_all()
    assert db.session.get(ExportJob, queued.id).state == "done"
    taken = db.session.get(ExportJob, abandoned.id)
    assert taken.state == "done" and taken.attempts == 1 and taken.worker != "dead-host:1"
    assert db.session.get(ExportJob, busy.id).state == "running"  # its worker is alive: left alone


def test_the_sweep_queues_again_what_nobody_runs(make, now, app, held_jobs):
    c = company(make, now)
    f = ReportFilters(period="2026-11")
    fresh = jobs.create_job(c.hr, "xlsx", f, "UTC", now)
    old = jobs.create_job(c.hr, "xlsx", f, "UTC", now - timedelta(minutes=5))
    abandoned = jobs.create_job(c.hr, "pdf", f, "UTC", now - timedelta(minutes=30))
    busy = jobs.create_job(c.hr, "pdf", f, "UTC", now - timedelta(minutes=30))
    abandoned.state, abandoned.worker, abandoned.heartbeat_at = "running", "dead-host:1", now - timedelta(minutes=10)
    busy.state, busy.worker, busy.heartbeat_at = "running", "live-host:2", now - timedelta(seconds=5)
    db.session.commit()
    held_jobs.items.clear()
    assert jobs.sweep(now) == 2
    assert sorted(k["job_id"] for k in held_jobs.tasks("reports.export")) == sorted([old.id, abandoned.id])
    assert fresh.id not in [k["job_id"] for k in held_jobs.tasks("reports.export")]  # its own job is still waiting


def test_only_one_worker_claims_a_job(make, now, held_jobs):
    c = company(make, now)
    job = jobs.create_job(c.hr, "csv", ReportFilters(period="2026-11"), "UTC", now)
    db.session.commit()
    assert worker.claim(job.id, "a", now) is True
    assert worker.claim(job.id, "b", now) is False
    assert worker.run_job(job.id, "c") is False  # running with a fresh heartbeat: not ours to take


def test_a_csv_job_and_a_failing_job(make, now, held_jobs, monkeypatch):
    c = company(make, now)
    ok = jobs.create_job(c.hr, "csv", ReportFilters(period="2026-11"), "UTC", now)
    db.session.commit()
    assert worker.run_job(ok.id)
    db.session.expire_all()
    text = jobs.job_content(db.session.get(ExportJob, ok.id)).decode("utf-8-sig")
    assert "'" + FORMULA_NAME.replace('"', '""') in text

    def broken(*a, **kw):
        raise RuntimeError("the printer is on fire")

    monkeypatch.setattr("program.reports.exporters.render_pdf", broken)
    bad = jobs.create_job(c.hr, "pdf", ReportFilters(period="2026-11"), "UTC", now)
    db.session.commit()
    assert worker.run_job(bad.id) is False
    db.session.expire_all()
    bad = db.session.get(ExportJob, bad.id)
    assert bad.state == "failed" and "printer is on fire" in bad.error
    assert db.session.get(ExportFile, bad.id) is None  # no half-written file left behind


def test_expired_files_are_deleted(make, login, now, exports, app):
    c = company(make, now)
    client = login(c.hr)
    job = start(client, "xlsx", period="2026-11")
    assert jobs.job_content(job) and job.expires_at == job.finished_at + timedelta(hours=24)
    assert jobs.purge_expired(now + timedelta(hours=23)) == 0
    assert jobs.purge_expired(now + timedelta(hours=25)) == 1
    assert db.session.get(ExportFile, job.id) is None
    db.session.expire_all()
    assert db.session.get(ExportJob, job.id).state == JobState.EXPIRED.value
    assert client.get(f"/reports/exports/{job.id}/download").status_code == 404
    assert "has expired" in client.get(f"/reports/exports/{job.id}").get_data(as_text=True)


def test_who_may_see_and_download_an_export(make, login, now, exports):
    c = company(make, now)
    job = start(login(c.hr), "xlsx", period="2026-11")
    url = f"/reports/exports/{job.id}/download"
    assert fetch(login(make.user(role="admin")), url)[0] == 200
    assert fetch(login(make.user(role="hr")), url)[0] == 200
    for outsider in (c.ann, c.lead, make.user()):
        assert login(outsider).get(url).status_code == 404
        assert login(outsider).get(f"/reports/exports/{job.id}").status_code == 404
    assert login(c.hr).get("/reports/exports/9999").status_code == 404
    c.hr.role = "staff"  # the file holds everyone's data: losing the HR role loses access to it too
    db.session.commit()
    assert login(c.hr).get(url).status_code == 404


def test_every_export_is_logged_on_the_audit_page(make, login, now, exports):
    c = company(make, now)
    client = login(c.hr)
    client.get("/reports/participation.csv?period=2026-10&role=staff").close()
    start(client, "pdf", period="2026-11", department=str(c.marketing.id), status="behind")
    assert db.session.scalar(db.select(db.func.count(ExportAudit.id))) == 2
    html = login(make.user(role="admin")).get("/reports/exports/audit").get_data(as_text=True)
    assert "Hana HR" in html
    assert "Period: October 2026; Role: Staff" in html
    assert "Period: November 2026; Department: Marketing; Status: Behind" in html
    assert "CSV" in html and "PDF" in html and "streamed" in html
    assert login(c.ann).get("/reports/exports/audit").status_code == 404


def test_a_bad_export_request(make, login, now, exports):
    c = company(make, now)
    assert login(c.hr).post("/reports/exports", data={"format": "exe"}).status_code == 400


def test_pdf_progress_follows_the_layout(make, now, held_jobs):
    c = company(make, now)
    job = jobs.create_job(c.hr, "pdf", ReportFilters(period="2026-11"), "UTC", now)
    db.session.commit()
    assert worker.claim(job.id, "w", now)
    step = worker.pdf_progress(job.id, "w", rows=270)  # about 11 pages
    step("Step 3 - Applying CSS")  # not a step it reports
    step("Step 5 - Creating layout - Page 6")
    db.session.expire_all()
    job = db.session.get(ExportJob, job.id)
    assert (job.progress, job.message) == (55 + 35 * 6 // 11, "Laying out page 6")
