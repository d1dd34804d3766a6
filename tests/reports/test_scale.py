"""Dashboard and report pages issue the same number of queries whatever the size of the data.

Two synthetic companies (60 people / 600 participations, then 300 / 3,000) are built with bulk INSERTs;
every page and export is run against each and its SQL statements counted. A lazy load per row (or any
query per person) would make the second count larger. .ci/bench_reports.py runs the 5,000 / 100,000 case.
"""

from __future__ import annotations

from sqlalchemy import update

from program.accounts.models import Team, User
from program.extensions import db
from program.goals.dashboards import dashboard_context
from program.reports import jobs, worker
from program.reports.services import ReportFilters
from tests.conftest import _empty_all_tables
from tests.factories.reports_scale import populate

SIZES = [(60, 600), (300, 3000)]


def measure(app, login, count_queries, now, people, participations):
    company = populate(people, participations, now)
    hr, manager, staff = (db.session.get(User, i) for i in (company.hr_id, company.manager_id, company.staff_id))
    as_hr, as_manager, as_staff = login(hr), login(manager), login(staff)
    counts, rows = {}, {}

    def run(name, fn):
        db.session.expire_all()
        with count_queries() as q:
            result = fn()
        counts[name] = q.count
        return result

    page = run("report page", lambda: as_hr.get("/reports/?period=2026-11&per_page=100"))
    assert page.status_code == 200
    rows["report"] = page.get_data(as_text=True).count("data-person=")
    csv = run("report csv", lambda: as_hr.get("/reports/participation.csv?period=2026-Q4").get_data())
    rows["csv"] = csv.count(b"\n")
    run("report filtered", lambda: as_hr.get("/reports/?period=2026-11&status=behind&role=staff"))
    run("overview", lambda: as_hr.get("/goals/overview"))
    team = run("team page", lambda: as_manager.get("/goals/team?per_page=5"))
    rows["team page"] = team.get_data(as_text=True).count("data-person=")
    run("team page filtered", lambda: as_manager.get("/goals/team?status=behind&page=2&per_page=5"))
    run("my goals", lambda: as_staff.get("/goals/"))
    run("dashboard hr", lambda: dashboard_context(hr, now))
    run("dashboard manager", lambda: dashboard_context(manager, now))
    rows["team"] = len(dashboard_context(manager, now)["goals_dash"].team.people)
    run("dashboard staff", lambda: dashboard_context(staff, now))
    job = jobs.create_job(hr, "xlsx", ReportFilters(period="2026-11"), "Europe/London", now)
    db.session.commit()
    run("xlsx job", lambda: worker.run_job(job.id, "bench"))
    return counts, rows


def test_query_counts_do_not_grow_with_the_data(app, login, count_queries, now, tmp_path):
    small, small_rows = measure(app, login, count_queries, now, *SIZES[0])
    db.session.execute(update(Team).values(manager_id=None))  # see conftest: teams point back at users
    db.session.commit()
    db.session.remove()
    _empty_all_tables()
    large, large_rows = measure(app, login, count_queries, now, *SIZES[1])

    assert large_rows["report"] > small_rows["report"] and large_rows["csv"] > small_rows["csv"]
    assert large_rows["team"] > small_rows["team"]
    assert large == small, {k: (small[k], large[k]) for k in small if small[k] != large[k]}
    assert max(large.values()) < 40, large
    assert small_rows["team page"] == large_rows["team page"] == 5  # the team page shows one page of people
    # Progress is read once per dashboard: goals, then the tallies, leave and people of the organisation (HR)
    # or the person (staff), and the suggestions in one statement. PostgreSQL adds one: JIT off for the tallies.
    jit = 1 if db.engine.dialect.name == "postgresql" else 0
    assert large["dashboard staff"] <= 7 + jit, large  # was 10: progress read once per kind of period
    assert large["dashboard hr"] <= 8 + jit, large  # was 15: HR's own progress is read with everyone's
    assert large["dashboard manager"] <= 12 + 2 * jit, large  # was 17
