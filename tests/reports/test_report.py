"""The participation report: rows, subtotals, totals, filters, who may see it, and the streamed CSV."""

from __future__ import annotations

import csv
import io

import pytest

from program.extensions import db
from program.reports.models import ExportAudit
from program.reports.services import ReportFilters, build_report
from tests.factories.reports import FORMULA_NAME, company

TZ = "Europe/London"


def filters(**kw) -> ReportFilters:
    return ReportFilters(period=kw.pop("period", "2026-11"), **kw)


def by_email(report):
    return {p.email: p for p in report.rows}


def test_rows_subtotals_and_totals(make, now):
    c = company(make, now)
    report = build_report(filters(), TZ, now)
    rows = by_email(report)
    ann = rows["ann@example.com"]
    ride = ann.numbers["ride_along"]
    assert (ride.booked, ride.attended, ride.no_show) == (4, 2, 1)
    assert (ann.debriefs_submitted, ann.debriefs_overdue) == (1, 1)
    assert (ann.target, ann.achieved, ann.percent, ann.status_key) == (2, 1, 50, "on_track")
    assert (ann.department, ann.team, ann.manager) == ("Marketing", "Demand Generation", "Lee Lead")
    assert rows["bob@example.com"].status_key == "behind" and rows["bob@example.com"].percent == 0
    assert rows["eve@example.com"].status_key == "met" and rows["eve@example.com"].percent == 100
    assert rows["rex@example.com"].status_key == "no_goal" and rows["rex@example.com"].target is None

    # Ordered by department, then name; a subtotal per department, and the total.
    departments = [d.label for d in report.departments]
    assert departments == sorted(departments)
    marketing = next(d for d in report.departments if d.label == "Marketing")
    assert marketing.people == 4  # Lee, Ann, Bob and Eve
    assert marketing.kinds["ride_along"].attended == 4 and marketing.kinds["ride_along"].no_show == 1
    assert (marketing.with_goal, marketing.target, marketing.achieved) == (4, 8, 3)
    assert report.total.people == len(report.rows)
    assert report.total.kinds["ride_along"].booked == 6
    assert sum(d.people for d in report.departments) == report.total.people
    assert c.hr.email in rows


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"status": "behind"}, {"bob@example.com", "lead"}),
        ({"status": "met"}, {"eve@example.com"}),
        ({"role": "leader"}, {"lead"}),
    ],
)
def test_filters(make, now, kw, expected):
    c = company(make, now)
    emails = set(by_email(build_report(filters(**kw), TZ, now)))
    assert emails == {c.lead.email if e == "lead" else e for e in expected}


def test_department_team_and_manager_filters(make, now):
    c = company(make, now)
    assert set(by_email(build_report(filters(team_id=c.demand.id), TZ, now))) == {"ann@example.com"}
    assert set(by_email(build_report(filters(manager_id=c.lead.id), TZ, now))) == {"ann@example.com", "bob@example.com"}
    marketing = by_email(build_report(filters(department_id=c.marketing.id), TZ, now))
    assert set(marketing) == {c.lead.email, "ann@example.com", "bob@example.com", "eve@example.com"}


def test_another_period(make, now):
    company(make, now)
    october = build_report(filters(period="2026-10"), TZ, now)
    assert by_email(october)["ann@example.com"].numbers["ride_along"].booked == 0
    assert by_email(october)["ann@example.com"].status_key == "behind"  # the month is over, nothing done


def test_filters_from_request_arguments_are_validated(app, now):
    f = ReportFilters.from_args(
        {"period": "2026-13", "department": "x", "role": "god", "status": "meh", "team": "12"}, now.date()
    )
    assert (f.period, f.department_id, f.role, f.status, f.team_id) == ("2026-11", None, "", "", 12)
    assert ReportFilters.from_args(f.args(), now.date()) == f


# --- the page ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["staff", "leader"])
def test_the_report_is_not_there_for_staff_and_leaders(as_role, role):
    client, _ = as_role(role)
    for url in ["/reports/", "/reports/participation.csv", "/reports/exports/audit"]:
        assert client.get(url).status_code == 404
    assert client.post("/reports/exports", data={"format": "pdf"}).status_code == 404


@pytest.mark.parametrize("role", ["hr", "admin"])
def test_the_report_page(make, login, now, role):
    c = company(make, now)
    client = login(make.user(role=role))
    html = client.get(f"/reports/?period=2026-11&department={c.marketing.id}").get_data(as_text=True)
    assert "November 2026" in html
    assert "Ann Archer" in html and "Bob Baker" in html and "Rex Rep" not in html
    assert "&#34;" in html or "&quot;" in html  # the formula-looking name is escaped, not raw markup
    assert html.count("<svg") == 3
    assert 'id="department-subtotals"' in html
    assert f'name="department" value="{c.marketing.id}"' in html  # the export forms carry the filters


def test_the_report_page_paginates(make, login, now):
    company(make, now)
    client = login(make.user(role="hr"))
    first = client.get("/reports/?per_page=5").get_data(as_text=True)
    second = client.get("/reports/?per_page=5&page=2").get_data(as_text=True)
    assert first.count("data-person=") == 5
    assert 0 < second.count("data-person=") <= 5
    assert "Page 1 of" in first


# --- CSV -----------------------------------------------------------------------------------------


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def test_csv_export_streams_reads_back_and_is_logged(make, login, now):
    c = company(make, now)
    client = login(c.hr)
    response = client.get(f"/reports/participation.csv?period=2026-11&department={c.marketing.id}")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="participation-2026-11.csv"' in response.headers["Content-Disposition"]
    assert response.get_data().startswith("\ufeff".encode())  # UTF-8 with a BOM, for spreadsheets
    rows = read_csv(response)
    header = rows[0]
    assert header[:5] == ["Name", "Email", "Department", "Team", "Manager"]
    ann = next(r for r in rows if r[1] == "ann@example.com")
    cell = dict(zip(header, ann, strict=True))
    assert (cell["Ride-along booked"], cell["Ride-along attended"], cell["Ride-along no-show"]) == ("4", "2", "1")
    assert (cell["Goal target"], cell["% achieved"], cell["Status"]) == ("2", "50", "On track")
    assert rows[-2][0] == "Subtotal: Marketing" and rows[-1][0] == "Total"
    assert rows[-1][1] == "4 people"

    audit = db.session.scalar(db.select(ExportAudit))
    assert (audit.user_id, audit.kind, audit.filters["department"]) == (c.hr.id, "csv", str(c.marketing.id))


def test_csv_neutralises_formulas(make, login, now):
    c = company(make, now)
    for n, name in enumerate(["+1 555 0100", "-minus", "@at", "\tTabbed", "\rReturn"]):
        make.marketer(name=name, email=f"odd{n}@example.com")
    rows = read_csv(login(c.hr).get(f"/reports/participation.csv?department={c.marketing.id}"))
    names = {r[1]: r[0] for r in rows[1:]}
    assert names["eve@example.com"] == "'" + FORMULA_NAME
    assert [names[f"odd{n}@example.com"] for n in range(5)] == [
        "'+1 555 0100",
        "'-minus",
        "'@at",
        "'\tTabbed",
        "'\rReturn",
    ]
    assert names["ann@example.com"] == "Ann Archer"  # ordinary text is untouched
    # Numbers stay numbers (a negative number would be neutralised only if it were text).
    assert all(not r[5].startswith("'") for r in rows[1:])
