"""Time travel: the first command and the scheduled commands work on any real day, not just FIXED_NOW.

For each instant — 14 consecutive days from a random (logged) start, both DST changes of Europe/London and
America/New_York, a year end, 28 Feb → 1 Mar of a leap year and quarter ends — a fresh database (a copy of one
migrated template) goes through what an operator and the users do:

    TANDEM_NOW=<instant> flask seed-demo; flask send-reminders; flask send-digests
    HR starts CSV, XLSX and PDF exports; flask run-export-jobs
    every demo role signs in and GETs every main page (and the detail pages of what the seed made)

and nothing may raise or answer 500. Reproduce a run with TIME_TRAVEL_START=YYYY-MM-DD (the start is printed).
``TIME_TRAVEL_DAYS`` (default 14) widens or narrows the window of consecutive days.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import time as time_module
from datetime import UTC, date, datetime, time, timedelta

import pytest
from flask_migrate import upgrade

from program.cli import DEMO_LOGINS
from program.extensions import db
from tests.conftest import make_app

pytestmark = pytest.mark.sqlite_only

DEMO_PASSWORD = "demo-password"


def _window_start() -> date:
    chosen = os.environ.get("TIME_TRAVEL_START")
    if chosen:
        return date.fromisoformat(chosen)
    # A random day within two years of today: a different window every run, printed so it can be replayed.
    return date.today() + timedelta(days=random.randrange(-365, 365))


WINDOW_START = _window_start()
WINDOW_DAYS = int(os.environ.get("TIME_TRAVEL_DAYS", "14"))
# Each day at a different hour, so the run also covers early-morning UTC (late evening in New York).
HOURS = [0, 5, 9, 13, 17, 21, 23]

FIXED_INSTANTS = {
    "London spring forward (before)": datetime(2027, 3, 28, 0, 30, tzinfo=UTC),
    "London spring forward (after)": datetime(2027, 3, 28, 1, 30, tzinfo=UTC),
    "London fall back": datetime(2027, 10, 31, 1, 15, tzinfo=UTC),
    "New York spring forward": datetime(2027, 3, 14, 7, 30, tzinfo=UTC),
    "New York fall back": datetime(2027, 11, 7, 5, 30, tzinfo=UTC),
    "31 Dec, late in New York": datetime(2027, 1, 1, 3, 30, tzinfo=UTC),
    "31 Dec → 1 Jan (UTC midnight)": datetime(2026, 12, 31, 23, 59, tzinfo=UTC),
    "28 Feb of a leap year": datetime(2028, 2, 28, 23, 30, tzinfo=UTC),
    "29 Feb → 1 Mar": datetime(2028, 2, 29, 23, 45, tzinfo=UTC),
    "quarter end": datetime(2027, 6, 30, 23, 30, tzinfo=UTC),
}


def _instants() -> list[tuple[str, datetime]]:
    days = [
        (f"day {i + 1}", datetime.combine(WINDOW_START + timedelta(days=i), time(HOURS[i % len(HOURS)], 30), UTC))
        for i in range(WINDOW_DAYS)
    ]
    return days + list(FIXED_INSTANTS.items())


INSTANTS = _instants()


@pytest.fixture(scope="module")
def template_db(tmp_path_factory) -> str:
    """One database migrated with the real migrations; every instant starts from a copy of it."""
    print(
        f"\ntime travel: window starts {WINDOW_START} ({WINDOW_DAYS} days); TIME_TRAVEL_START={WINDOW_START} replays it"
    )
    path = tmp_path_factory.mktemp("time-travel") / "template.db"
    app = make_app(f"sqlite:///{path}")
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return str(path)


# Pages with no arguments that are not pages (or that end the session).
SKIP_ENDPOINTS = {"accounts.logout", "static", "main.healthz", "accounts.reset_password"}


def _plain_pages(app) -> list[str]:
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods or rule.arguments or rule.endpoint in SKIP_ENDPOINTS:
                continue
            urls.append(rule.rule)
    return sorted(urls)


def _object_pages() -> list[str]:
    """Detail pages of what the seed made: ride-alongs, meetings, funnel pages, shadow pairings and days,
    debrief tasks, contest draws. Every role GETs every one (a 404 is a fine answer; a 500 is not)."""
    from program.activities.models import Activity
    from program.debriefs.models import DebriefTask
    from program.shadow.models import ShadowPairing

    pages: list[str] = []
    # Every page type, on a spread of objects: the first, a middle one and the last of each kind.
    activities = db.session.scalars(db.select(Activity).order_by(Activity.starts_at)).all()
    by_kind: dict[str, list] = {}
    for activity in activities:
        by_kind.setdefault(activity.kind, []).append(activity)
    sample = [
        a
        for group in by_kind.values()
        for a in {id(x): x for x in (group[0], group[len(group) // 2], group[-1])}.values()
    ]
    for activity in sample:
        if activity.kind == "ride_along":
            pages += [f"/ride-alongs/{activity.id}", f"/ride-alongs/{activity.id}/edit"]
        elif activity.kind == "review_meeting":
            pages += [
                f"/meetings/{activity.id}",
                f"/meetings/{activity.id}/edit",
                f"/meetings/funnel/{activity.id}",
                f"/meetings/funnel/{activity.id}/sensitivity",
                f"/meetings/funnel/{activity.id}/deals/summary",
                f"/meetings/funnel/{activity.id}/ideas",
                f"/meetings/funnel/{activity.id}/teams",
            ]
        elif activity.kind == "shadow_day":
            pages.append(f"/shadow-days/day/{activity.id}")
    pages += [f"/shadow-days/{pid}" for pid in db.session.scalars(db.select(ShadowPairing.id))]
    task_ids = db.session.scalars(db.select(DebriefTask.id).order_by(DebriefTask.due_at)).all()
    pages += [f"/tasks/{tid}" for tid in sorted({task_ids[0], task_ids[len(task_ids) // 2], task_ids[-1]})]
    return pages


def _quarter_key(instant: datetime) -> str:
    from program.periods import Period

    return Period.containing("quarter", instant.date()).key


def _cli(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, f"flask {' '.join(args)} exited {result.exit_code}: {result.output}"
    return result.output


def _sign_in(app, email: str):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": DEMO_PASSWORD})
    assert response.status_code == 302, f"{email} could not sign in ({response.status_code})"
    return client


@pytest.mark.parametrize(("label", "instant"), INSTANTS, ids=[f"{i:%Y-%m-%dT%H:%MZ}" for _, i in INSTANTS])
def test_the_demo_works_at_this_instant(template_db, tmp_path, label, instant, record_property):
    path = tmp_path / "tandem.db"
    shutil.copy(template_db, path)
    # TANDEM_NOW is the documented switch (read by Config, like the environment variable of the same name).
    app = make_app(
        f"sqlite:///{path}",
        FIXED_NOW=None,
        TANDEM_NOW=instant.isoformat(),
        SERVER_NAME=None,
    )
    from program.jobs.runners import EXTENSION
    from tests.conftest import HeldRunner

    app.extensions[EXTENSION] = HeldRunner()  # what the pages queue (mail, exports) is not the point here
    started = time_module.monotonic()
    with app.app_context():
        try:
            from program.timeutil import utcnow

            assert abs(utcnow() - instant) < timedelta(minutes=5), "TANDEM_NOW did not move the clock"
            assert "Demo data ready" in _cli(app, "seed-demo", "--if-empty")
            _cli(app, "send-reminders")
            _cli(app, "send-digests")
            hr = _sign_in(app, "hr@example.com")
            # WeasyPrint takes seconds: a PDF on every third instant, XLSX (same rows, same dates) on the others.
            fmt = "pdf" if INSTANTS.index((label, instant)) % 3 == 0 else "xlsx"
            for period in ("", _quarter_key(instant)):
                response = hr.post("/reports/exports", data={"format": fmt, "period": period})
                assert response.status_code == 302, f"export {fmt}: {response.status_code}"
            csv = hr.get("/reports/participation.csv")
            assert csv.status_code == 200 and csv.get_data(as_text=True).count("\n") > 30
            assert "export jobs run: 2" in _cli(app, "run-export-jobs")
            from program.reports.models import ExportJob

            states = {job.kind: job.state for job in db.session.scalars(db.select(ExportJob))}
            assert set(states.values()) == {"done"}, states
            db.session.remove()

            print(f"\n  {label}: seed, reminders, digests, exports {time_module.monotonic() - started:.1f} s", end="")
            pages = _plain_pages(app) + _object_pages()
            failures: list[str] = []
            checked = 0
            for email in DEMO_LOGINS:
                client = _sign_in(app, email)
                for url in pages:
                    response = client.get(url)
                    checked += 1
                    if response.status_code >= 500:
                        failures.append(f"{email} GET {url} → {response.status_code}")
                    if response.status_code == 200 and response.mimetype == "text/html":
                        # A value that rendered as Python's None, or a date that rendered as nothing ("until .").
                        text = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
                        blank = re.search(r"\bNone\b(?!\s+[a-z])|\b(until|on|at|by|from)\s+[.,]", text)
                        if blank:
                            failures.append(f"{email} GET {url} shows {text[blank.start() - 40 : blank.end() + 10]!r}")
                db.session.remove()
            record_property("time_travel_page_views", checked)
            assert failures == [], f"{label} ({instant:%Y-%m-%d %H:%M} UTC): " + "; ".join(failures[:20])
            print(f"; {checked} page views, no errors; {time_module.monotonic() - started:.1f} s in all")
        finally:
            db.session.remove()
            db.engine.dispose()


def test_tandem_now_is_refused_on_postgresql_without_debug():
    from program.config import clock_offset

    with pytest.raises(RuntimeError, match="development and tests only"):
        clock_offset("2027-01-01T00:00:00Z", "postgresql+psycopg://db/tandem", debug=False)
    assert clock_offset("2027-01-01T00:00:00Z", "sqlite:///x.db", debug=False) is not None
    with pytest.raises(RuntimeError, match="ISO 8601"):
        clock_offset("next tuesday", "sqlite:///x.db", debug=False)
