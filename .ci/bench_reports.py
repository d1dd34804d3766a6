"""Benchmark: report, CSV and dashboard cost at two data sizes (not part of the test suite).

    .venv/bin/python .ci/bench_reports.py                    # 500/10,000 vs 5,000/100,000 on SQLite
    .venv/bin/python .ci/bench_reports.py --small 100 2000 --large 1000 20000
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/tandem_bench .venv/bin/python .ci/bench_reports.py

For each size it builds a synthetic company with bulk INSERTs (tests/factories/reports_scale.py), then times
and counts the SQL statements of: the report page, the streamed CSV (with its peak Python memory), the
XLSX export job, and the dashboard pieces for HR, a manager and a member of staff. It prints both sizes
and the ratios: the query-count ratio should be 1.00 (bounded queries); the time ratio grows with the data.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, text  # noqa: E402

from program import create_app  # noqa: E402
from program.config import _normalise_db_url  # noqa: E402
from program.extensions import db  # noqa: E402

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


class Counter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *args) -> None:
        self.count += 1


def measure(name: str, fn, results: dict) -> None:
    counter = Counter()
    event.listen(db.engine, "before_cursor_execute", counter)
    db.session.expire_all()
    started = time.perf_counter()
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", counter)
    results[name] = (counter.count, time.perf_counter() - started)


def run_size(url: str, export_dir: str, people: int, participations: int) -> dict:
    from program.accounts.models import User
    from program.goals.dashboards import dashboard_context
    from program.reports import jobs
    from program.reports.services import ReportFilters
    from tests.factories.reports_scale import populate

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": url,
            "WTF_CSRF_ENABLED": False,
            "FIXED_NOW": NOW,
            "SERVER_NAME": "bench.test",
            "JOBS_BACKEND": "inline",
            "EXPORT_HEARTBEAT_SECONDS": 3600,  # a heartbeat is a timed write, not a per-row query: keep it out
        }
    )
    results: dict = {}
    with app.app_context():
        db.drop_all()
        db.create_all()
        started = time.perf_counter()
        company = populate(people, participations, NOW)
        print(
            f"  built {company.people:,} people / {company.participations:,} participations "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        if db.engine.dialect.name == "postgresql":  # fresh bulk data has no planner statistics yet
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        hr, manager, staff = (db.session.get(User, i) for i in (company.hr_id, company.manager_id, company.staff_id))
        client = app.test_client()
        with client.session_transaction() as sess:
            sess["_user_id"] = hr.get_id()
            sess["_fresh"] = True

        measure("report page", lambda: client.get("/reports/?period=2026-11").get_data(), results)

        def stream_csv():
            tracemalloc.start()
            size = 0
            response = client.get("/reports/participation.csv?period=2026-Q4")
            for chunk in response.response:
                size += len(chunk)
            response.close()
            results["csv peak MB"] = tracemalloc.get_traced_memory()[1] / 1e6
            tracemalloc.stop()
            results["csv MB"] = size / 1e6

        measure("csv (streamed)", stream_csv, results)
        measure("dashboard hr", lambda: dashboard_context(hr, NOW), results)
        measure("dashboard manager", lambda: dashboard_context(manager, NOW), results)
        measure("dashboard staff", lambda: dashboard_context(staff, NOW), results)
        job = jobs.create_job(hr, "xlsx", ReportFilters(period="2026-11"), "Europe/London", NOW)
        db.session.commit()
        measure("xlsx job", lambda: jobs.run_job(job.id, "bench"), results)
        db.session.remove()
        if db.engine.dialect.name != "sqlite":  # a SQLite file is simply thrown away with the folder
            db.drop_all()
        db.engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", nargs=2, type=int, default=[500, 10_000], metavar=("PEOPLE", "PARTICIPATIONS"))
    parser.add_argument("--large", nargs=2, type=int, default=[5_000, 100_000], metavar=("PEOPLE", "PARTICIPATIONS"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        given = _normalise_db_url(os.environ.get("BENCH_DATABASE_URL", ""))
        print(f"database: {given.split('@')[-1] if given else 'SQLite (temporary files)'}")
        sizes = [tuple(args.small), tuple(args.large)]
        runs = []
        for n, (people, participations) in enumerate(sizes):
            print(f"size {people:,} / {participations:,}:", flush=True)
            url = given or f"sqlite:///{tmp}/bench-{n}.db"
            runs.append(run_size(url, tmp, people, participations))
    small, large = runs
    print()
    print(f"{'':22} {'queries':>15} {'ratio':>6}   {'seconds':>17} {'ratio':>6}")
    for name in small:
        if name.startswith("csv ") and name.endswith("MB"):
            continue
        (q1, t1), (q2, t2) = small[name], large[name]
        print(f"{name:22} {q1:>7} → {q2:<5} {q2 / q1:>6.2f}   {t1:>7.2f} → {t2:<7.2f} {t2 / max(t1, 1e-9):>6.2f}")
    print(f"{'csv size MB':22} {small['csv MB']:>7.2f} → {large['csv MB']:<7.2f}")
    print(
        f"{'csv peak Python MB':22} {small['csv peak MB']:>7.2f} → {large['csv peak MB']:<7.2f}"
        "   (streamed: grows far slower than the file)"
    )
    bounded = all(small[n][0] == large[n][0] for n in small if not n.endswith("MB"))
    print("query counts bounded:", "yes" if bounded else "NO")
    sys.exit(0 if bounded else 1)


if __name__ == "__main__":
    main()
