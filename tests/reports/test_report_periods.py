"""A goal set over a longer period than the report's (a quarterly goal in a monthly report) is not judged
there: target, % and status read "n/a", it never counts as met, and the row points at the goal's own period,
where it is judged for real. Reports of that period, the exports and the HR roll-ups agree.

The clock is fixed at Monday 23 November 2026; Q4 2026 is October to December.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from openpyxl import load_workbook
from pypdf import PdfReader

from program.extensions import db
from program.goals.dashboards import org_summary
from program.reports import jobs, worker
from program.reports.services import ReportFilters, build_report
from tests.factories.goals import goal, veteran

TZ = "Europe/London"


def sales_with_a_quarterly_goal(make, now):
    """Marketing: 2 ride-alongs a month (Ann has done 1 of them). Sales: 1 review meeting a quarter, which
    rounds to 0 for one month (1 × 30/92); nobody in Sales has done one. Mo (Marketing) also owes 1 shadow
    day a quarter, personally."""
    hr = make.user(role="hr", department="People", name="Hana HR")
    marketing, sales = make.department("Marketing"), make.department("Sales")
    goal(target=2, department=marketing)
    goal("review_meeting", target=1, period="quarter", department=sales)
    ann = veteran(make.marketer(name="Ann Archer", email="ann@example.com"))
    mo = veteran(make.marketer(name="Mo Mixed", email="mo@example.com"))
    goal("shadow_day", target=1, period="quarter", person=mo)
    sam = veteran(make.user(name="Sam Sales", email="sam@example.com"))
    sue = veteran(make.user(name="Sue Sales", email="sue@example.com"))
    make.submit_debrief(make.attended_task(rider=ann, ride=make.ride_along(host=sam, starts_in=timedelta(days=-5))))
    db.session.flush()
    return hr, marketing, sales, sam, sue, mo


def rows_of(report):
    return {p.email: p for p in report.rows}


def test_a_quarterly_goal_is_never_a_fake_met_in_a_monthly_report(make, now):
    _, _, _, sam, _, _ = sales_with_a_quarterly_goal(make, now)
    report = build_report(ReportFilters(period="2026-11"), TZ, now)
    sam_row = rows_of(report)["sam@example.com"]
    assert sam_row.status_key != "met" and sam_row.percent is None and sam_row.target is None
    assert sam_row.status_key == "longer_period" and sam_row.status_label == "n/a (longer period)"
    assert [(g.kind, g.period.key) for g in sam_row.longer] == [("review_meeting", "2026-Q4")]

    sales = next(d for d in report.departments if d.label == "Sales")
    assert sales.statuses["met"] == 0 and sales.with_goal == 0 and sales.percent is None
    assert sales.statuses["longer_period"] == 2 and sales.with_longer == 2
    total = report.total
    assert total.statuses["met"] == 0
    assert (total.with_goal, total.achieved, total.target) == (2, 1, 4)  # Ann and Mo's monthly goals only
    assert total.percent == 25


def test_the_goals_own_period_judges_it(make, now):
    _, _, _, sam, _, mo = sales_with_a_quarterly_goal(make, now)
    quarter = rows_of(build_report(ReportFilters(period="2026-Q4"), TZ, now))
    sam_row = quarter["sam@example.com"]
    assert (sam_row.target, sam_row.achieved, sam_row.percent) == (1, 0, 0)
    assert sam_row.status_key in ("on_track", "at_risk") and not sam_row.longer
    assert {p.kind: p.target for p in quarter["mo@example.com"].goals} == {"ride_along": 6, "shadow_day": 1}
    # A year judges every goal: four quarters of one review meeting.
    assert rows_of(build_report(ReportFilters(period="2026"), TZ, now))["sam@example.com"].target == 4


def test_a_person_with_both_is_judged_on_the_goal_that_fits(make, now):
    _, _, _, _, _, mo = sales_with_a_quarterly_goal(make, now)
    row = rows_of(build_report(ReportFilters(period="2026-11"), TZ, now))["mo@example.com"]
    assert [p.kind for p in row.goals] == ["ride_along"]
    assert (row.target, row.percent, row.status_key) == (2, 0, "behind")
    assert [(g.kind, g.period.label) for g in row.longer] == [("shadow_day", "Q4 2026")]


def test_the_status_filter_keeps_them_apart(make, now):
    sales_with_a_quarterly_goal(make, now)
    met = build_report(ReportFilters(period="2026-11", status="met"), TZ, now)
    assert rows_of(met) == {}
    longer = ReportFilters.from_args({"period": "2026-11", "status": "longer_period"}, now.date())
    assert set(rows_of(build_report(longer, TZ, now))) == {"sam@example.com", "sue@example.com"}


def test_a_target_that_is_truly_zero_is_still_met(make, now):
    """Pro-rating inside the goal's own period is real: someone who joined on the last day of the month owes
    round(2 × 1/30) = 0 of a monthly goal."""
    marketing = make.department("Marketing")
    goal(target=2, department=marketing)
    late = veteran(make.marketer(email="late@example.com"), joined=now.replace(day=30))
    row = rows_of(build_report(ReportFilters(period="2026-11"), TZ, now))[late.email]
    assert (row.target, row.percent, row.status_key) == (0, 100, "met")


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def test_csv_and_page_say_n_a_and_point_at_the_goals_period(make, login, now):
    hr, _, sales, _, _, _ = sales_with_a_quarterly_goal(make, now)
    client = login(hr)
    rows = read_csv(client.get("/reports/participation.csv?period=2026-11"))
    header = rows[0]
    cells = {r[1]: dict(zip(header, r, strict=True)) for r in rows[1:]}
    sam = cells["sam@example.com"]
    assert (sam["Goal target"], sam["Achieved"], sam["% achieved"], sam["Status"]) == (
        "n/a",
        "n/a",
        "n/a",
        "n/a (longer period)",
    )
    assert sam["Goals over a longer period"] == "Review meeting: 1 per quarter, judged over Q4 2026"
    assert cells["ann@example.com"]["Goals over a longer period"] == ""
    subtotal = next(r for r in rows if r[0] == "Subtotal: Sales")
    sub = dict(zip(header, subtotal, strict=True))
    assert (sub["Goal target"], sub["% achieved"]) == ("", "")
    assert "met" not in sub["Status"] and sub["Status"] == "2 n/a (longer period)"
    assert sub["Goals over a longer period"] == "2 people"

    html = client.get(f"/reports/?period=2026-11&department={sales.id}").get_data(as_text=True)
    assert "100%" not in html
    assert 'data-status="longer_period"' in html
    assert "period=2026-Q4" in html and "Q4 2026" in html


def test_xlsx_and_pdf_say_n_a(make, now, app, held_jobs):
    hr, _, sales, _, _, _ = sales_with_a_quarterly_goal(make, now)
    filters = ReportFilters(period="2026-11", department_id=sales.id)
    xlsx = jobs.create_job(hr, "xlsx", filters, TZ, now)
    pdf = jobs.create_job(hr, "pdf", filters, TZ, now)
    db.session.commit()
    worker.run_job(xlsx.id, "test")
    worker.run_job(pdf.id, "test")
    db.session.expire_all()

    ws = load_workbook(io.BytesIO(jobs.job_content(db.session.get(type(xlsx), xlsx.id)))).active
    values = [[c.value for c in row] for row in ws.iter_rows()]
    header_at = next(n for n, row in enumerate(values) if row[0] == "Name")
    rows = {row[1]: dict(zip(values[header_at], row, strict=False)) for row in values[header_at + 1 :]}
    assert (rows["sam@example.com"]["% achieved"], rows["sam@example.com"]["Status"]) == ("n/a", "n/a (longer period)")

    reader = PdfReader(io.BytesIO(jobs.job_content(db.session.get(type(pdf), pdf.id))))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Sam Sales" in text and "n/a" in text and "Q4 2026" in text
    assert "100" not in text.split("People\n", 1)[-1]  # no fake 100 % in the table


def test_the_hr_roll_ups_judge_the_goal_over_its_own_period(make, now):
    sales_with_a_quarterly_goal(make, now)
    summary = org_summary(now, TZ)
    sales = next(d for d in summary.departments if d.name == "Sales")
    assert (sales.with_goal, sales.target, sales.statuses["met"]) == (2, 2, 0)  # Q4: one meeting each
    assert sales.percent == 0
