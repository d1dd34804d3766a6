"""Benchmark: every page people open, at two data sizes, on PostgreSQL behind gunicorn (issue 18; not part of the
test suite — it prints figures and asserts nothing about time).

    .venv/bin/python .ci/bench_pages.py                          # 1,000/20,000 and 5,000/100,000
    .venv/bin/python .ci/bench_pages.py --reuse                  # keep using the databases built last time
    .venv/bin/python .ci/bench_pages.py --quick                  # tiny sizes, few requests: a smoke run
    .venv/bin/python .ci/bench_pages.py --small 2000 40000 --large 20000 400000 --out /tmp/bench.txt

For each size it builds a synthetic company in a PostgreSQL database ``tandem_bench_<people>_<participations>``
(``flask db upgrade``, then tests/factories/reports_scale.py's bulk INSERTs plus what the pages need on top:
submitted debriefs with answers and reason codes, review-meeting details, an admin, a person with a 500-event
calendar feed, an export audit, passwords for the people who sign in), VACUUM ANALYZEs it and keeps it: with
``--reuse`` a database whose build fingerprint still matches is used again (after ``flask db upgrade``, so new
migrations and indexes apply). The server is the database of TEST_DATABASE_URL (default: the Makefile's).

Then it serves the app with gunicorn (2 workers, 127.0.0.1; .ci/bench_app.py adds the bare page, the floors and the
statement counter), signs in through the real /login form as HR, a manager, two members of staff and an admin, and
for each page interleaves requests with the bare page of the same app for the same person: p50, p99, p50 ÷ the
bare page's p50, SQL statements per request. Also: the CSV export against its floor (one SQL statement +
csv.writer), the personal ICS feed against icalendar alone on the same events, the booking POST's statements, the
PDF export run by the worker function in a subprocess (time, peak RSS from wait4), and the slowest statements
(≥ BENCH_SLOW_MS, default 20 ms) with EXPLAIN (ANALYZE, BUFFERS). Growth between the sizes: the ratio of the p50s
and k in time ∝ size^k.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import pickle
import platform
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / ".ci"))

import psycopg  # noqa: E402

from tests.multihost.rig import (  # noqa: E402
    DROPPED_ENV,
    FAST_HASH,
    Client,
    Proc,
    base_database_url,
    libpq,
    percentile,
    wait_until,
)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday; tests/conftest.py's FIXED_NOW
MONTH, QUARTER = "2026-11", "2026-Q4"
PASSWORD = "bench-password"
DB_PREFIX = "tandem_bench"
# Raise when what a build writes changes (the fingerprint also covers tests/factories/reports_scale.py).
BUILD_VERSION = "pages-1"
FEED_TOKEN = "bench-feed-token-0123456789abcdef"
FEED_EVENTS = 500

# Who signs in. The login form's email check refuses the reserved .test domain of reports_scale's addresses, so
# these people get addresses under example.com (add_extras renames them).
SIGN_IN_DOMAIN = "@bench.example.com"
HR, MANAGER, STAFF, RIDER, ADMIN, BOOKER, FEED = (
    "hr" + SIGN_IN_DOMAIN,
    "lead2" + SIGN_IN_DOMAIN,  # leads the newcomer's team (Marketing)
    "newcomer" + SIGN_IN_DOMAIN,  # nothing done yet: their dashboard and goals offer suggestions
    "person00002" + SIGN_IN_DOMAIN,  # a member of Marketing with a history: debriefs, bookings
    "admin" + SIGN_IN_DOMAIN,
    "booker" + SIGN_IN_DOMAIN,
    "feed" + SIGN_IN_DOMAIN,
)
ROLES = {"hr": HR, "manager": MANAGER, "staff": STAFF, "rider": RIDER, "admin": ADMIN}

# (page, who opens it, path); {ride} is an upcoming ride-along with free seats, {funnel} a Funnel Reality Check.
PAGES = [
    ("dashboard (staff)", "staff", "/"),
    ("dashboard (staff, active)", "rider", "/"),
    ("dashboard (manager)", "manager", "/"),
    ("dashboard (HR)", "hr", "/"),
    ("dashboard (admin)", "admin", "/"),
    ("my goals", "staff", "/goals/"),
    ("goals overview (HR)", "hr", "/goals/overview"),
    ("team goals", "manager", "/goals/team"),
    ("HR report (month)", "hr", f"/reports/?period={MONTH}"),
    ("HR report (quarter)", "hr", f"/reports/?period={QUARTER}"),
    ("insight", "hr", "/insight"),
    ("debrief status (HR)", "hr", "/debriefs/status"),
    ("learnings", "rider", "/learnings"),
    ("ride-along browse", "rider", "/ride-alongs/"),
    ("ride-along detail", "rider", "/ride-alongs/{ride}"),
    ("schedule", "rider", "/schedule"),
    ("meetings", "manager", "/meetings/"),
    ("funnel", "manager", "/meetings/funnel/{funnel}"),
    ("people admin", "admin", "/admin/people"),
    ("my debriefs", "rider", "/tasks"),
    ("shadow", "manager", "/shadow-days/"),
    ("audit", "hr", "/reports/exports/audit"),
]

LEARNINGS = [
    "Customers describe the problem as chasing spreadsheets, never as workflow automation.",
    "The buyer cared more about onboarding time than price; we barely mention onboarding.",
    "Security review is the real gate for Enterprise; a one-pager changed the tone of the call.",
    "Prospects from the webinar already knew the pricing model, which made the demo much shorter.",
    "The rep spends ten minutes re-explaining what our last email promised.",
    "Renewal calls are where we hear the best customer stories.",
]
WORDS = ["We just can't justify it this quarter", "Our security team will want to see this", "It saves a day a week"]


# --- output ------------------------------------------------------------------------------------------------------


class Out:
    """print() to stdout and, with --out, to a file as well."""

    def __init__(self, path: str | None) -> None:
        self.file = open(path, "w") if path else None  # noqa: SIM115 — closed in close()

    def __call__(self, *parts: object) -> None:
        line = " ".join(str(p) for p in parts)
        print(line, flush=True)
        if self.file:
            self.file.write(line + "\n")
            self.file.flush()

    def close(self) -> None:
        if self.file:
            self.file.close()


def ms(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    value = seconds * 1000
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "—"
    r = a / b
    return f"{r:,.0f}×" if r >= 100 else f"{r:.1f}×" if r >= 10 else f"{r:.2f}×"


def growth_k(t1: float | None, t2: float | None, n1: int, n2: int) -> str:
    if not t1 or not t2 or n1 == n2:
        return "—"
    return f"{math.log(t2 / t1) / math.log(n2 / n1):.2f}"


# --- the databases -----------------------------------------------------------------------------------------------


def server_url():
    return base_database_url()  # TEST_DATABASE_URL or the Makefile's default, as psycopg 3 SQLAlchemy URL


def admin_conn() -> psycopg.Connection:
    return psycopg.connect(libpq(server_url(), "postgres"), autocommit=True)


def fingerprint(people: int, participations: int) -> str:
    scale = (ROOT / "tests/factories/reports_scale.py").read_bytes()
    return hashlib.sha256(scale + f"{BUILD_VERSION}:{people}:{participations}".encode()).hexdigest()[:16]


def stored_fingerprint(name: str) -> str | None:
    with admin_conn() as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
    return None if row is None else (row[0] or "")


def flask_cli(database: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env.update(DATABASE_URL=libpq(server_url(), database), SECRET_KEY="bench-" + "0" * 20, FLASK_DEBUG="0")
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,  # reported below with its own output
    )
    if result.returncode != 0:
        raise SystemExit(f"`flask {' '.join(args)}` on {database} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def in_process_app(database: str, **extra):
    import bench_app

    url = libpq(server_url(), database).replace("postgresql://", "postgresql+psycopg://", 1)
    return bench_app.make_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench-" + "0" * 20,
            "JOBS_BACKEND": "inline",
            "MAIL_SERVER": "",
            "SERVER_NAME": None,
            **extra,
        }
    )


def add_extras(people: int) -> None:
    """What the pages need beyond reports_scale.populate: debriefs with answers and reason codes for the submitted
    tasks, review-meeting details, an admin, the booker, the feed person (500 events, a known feed token), an export
    audit, and passwords for everyone who signs in."""
    from sqlalchemy import insert, select, text
    from werkzeug.security import generate_password_hash

    from program.accounts.models import Team, User
    from program.activities.models import Activity, Participation
    from program.calendar.models import CalendarFeed, hash_feed_token
    from program.debriefs.defaults import ensure_defaults
    from program.extensions import db
    from program.reports.models import ExportAudit

    ensure_defaults(NOW)
    scale_addresses = [e.replace(SIGN_IN_DOMAIN, "@scale.test") for e in ROLES.values()]
    db.session.execute(
        db.update(User)
        .where(User.email.in_(scale_addresses))
        .values(email=db.func.replace(User.email, "@scale.test", SIGN_IN_DOMAIN))
    )
    marketing_team = db.session.scalar(select(User.team_id).where(User.email == MANAGER))
    team = db.session.get(Team, marketing_team)
    base = {"timezone": "Europe/London", "created_at": datetime(2024, 1, 1, tzinfo=UTC), "password_hash": None}
    new = list(
        db.session.scalars(
            insert(User).returning(User.id, sort_by_parameter_order=True),
            [
                {**base, "email": ADMIN, "name": "Bench Admin", "role": "admin", "department_id": team.department_id},
                {
                    **base,
                    "email": BOOKER,
                    "name": "Bench Booker",
                    "role": "staff",
                    "department_id": team.department_id,
                    "team_id": team.id,
                    "manager_id": team.manager_id,
                },
                {
                    **base,
                    "email": FEED,
                    "name": "Feed Person",
                    "role": "staff",
                    "department_id": team.department_id,
                    "team_id": team.id,
                    "manager_id": team.manager_id,
                },
            ],
        )
    )
    feed_id = new[2]
    password = generate_password_hash(PASSWORD, method=FAST_HASH)
    db.session.execute(
        db.update(User).where(User.email.in_([*ROLES.values(), BOOKER, FEED])).values(password_hash=password)
    )

    # The feed person: a place on FEED_EVENTS activities they don't host (attended if past, booked if not).
    activities = db.session.execute(
        select(Activity.id, Activity.starts_at)
        .where(Activity.host_id != feed_id, Activity.title.not_like("% 0"), Activity.title.not_like("% 1"))
        .order_by(Activity.id)
        .limit(FEED_EVENTS)
    ).all()
    db.session.execute(
        insert(Participation),
        [
            {
                "activity_id": a,
                "user_id": feed_id,
                "state": "attended" if start < NOW else "booked",
                "state_changed_at": min(start, NOW),
                "created_at": start - timedelta(days=5),
            }
            for a, start in activities
        ],
    )
    db.session.add(CalendarFeed(user_id=feed_id, token_hash=hash_feed_token(FEED_TOKEN), rotated_at=NOW))

    # Review meetings get their detail row (formats in turn).
    db.session.execute(
        text(
            "INSERT INTO review_meeting (activity_id, format, agenda, notes) "
            "SELECT id, (ARRAY['funnel_reality_check', 'win_loss_playback', 'lead_definition', 'other'])"
            "[1 + (id % 4)], '', '' FROM activity WHERE kind = 'review_meeting'"
        )
    )
    # A debrief for every submitted task, on its kind's template; answers to every question; reason codes.
    db.session.execute(
        text(
            "INSERT INTO debrief (task_id, template_id, author_id, state, submitted_at, created_at, updated_at, "
            "keep_out_of_feed, share_with_everyone) "
            "SELECT t.id, tpl.id, t.user_id, 'submitted', "
            "GREATEST(LEAST(t.due_at - interval '20 hours', :now), t.created_at), t.created_at, "
            "GREATEST(LEAST(t.due_at - interval '20 hours', :now), t.created_at), t.id % 23 = 0, false "
            "FROM debrief_task t JOIN activity a ON a.id = t.activity_id "
            "JOIN debrief_template tpl ON tpl.kind = a.kind AND tpl.version = 1 "
            "WHERE t.status = 'submitted'"
        ),
        {"now": NOW},
    )
    db.session.execute(
        text(
            "INSERT INTO answer (debrief_id, question_id, text, number, choices_json) "
            "SELECT d.id, q.id, "
            "CASE WHEN q.key = 'learned' THEN (CAST(:learnings AS text[]))[1 + d.id % :n] || ' (' || d.id || ')' "
            "     WHEN q.key = 'tactic' AND d.id % 4 = 0 THEN 'A peer-community programme could scale reference calls.'"
            "     WHEN q.qtype = 'long_text' AND d.id % 2 = 1 THEN 'A customer case study for this segment.' "
            "     ELSE '' END, "
            "CASE WHEN q.qtype = 'rating' THEN 2 + d.id % 4 END, '[]' "
            "FROM debrief d JOIN debrief_question q ON q.template_id = d.template_id"
        ),
        {"learnings": LEARNINGS, "n": len(LEARNINGS)},
    )
    db.session.execute(
        text(
            "INSERT INTO answer_code (answer_id, reason_code_id, other_text, words) "
            "SELECT an.id, rc.id, '', "
            "CASE WHEN q.ask_words THEN (CAST(:words AS text[]))[1 + (an.id + rc.id) % :n] ELSE '' END "
            "FROM answer an JOIN debrief_question q ON q.id = an.question_id AND q.qtype = 'reason_codes' "
            "CROSS JOIN LATERAL (SELECT r.id FROM reason_code r WHERE r.category = q.code_category "
            "  ORDER BY md5(an.id::text || '-' || r.id::text) LIMIT 1 + an.id % 2 + (an.id % 5 = 0)::int) rc"
        ),
        {"words": WORDS, "n": len(WORDS)},
    )
    hr_id = db.session.scalar(select(User.id).where(User.email == HR))
    db.session.execute(
        insert(ExportAudit),
        [
            {
                "user_id": hr_id,
                "at": NOW - timedelta(hours=n),
                "kind": ("csv", "xlsx", "pdf")[n % 3],
                "filters_json": json.dumps({"period": MONTH}),
                "ip": "127.0.0.1",
            }
            for n in range(max(people // 2, 50))
        ],
    )


def build_database(people: int, participations: int, reuse: bool, out: Out) -> tuple[str, str]:
    """The database for this size, built or reused; (name, "built in N s" | "reused")."""
    name = f"{DB_PREFIX}_{people}_{participations}"
    wanted = fingerprint(people, participations)
    if reuse and stored_fingerprint(name) == wanted:
        flask_cli(name, "db", "upgrade")  # new migrations (indexes, columns) apply to the kept data
        vacuum_analyze(name)
        return name, "reused"
    started = time.perf_counter()
    with admin_conn() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    flask_cli(name, "db", "upgrade")
    from program.extensions import db
    from tests.factories.reports_scale import populate

    app = in_process_app(name)
    with app.app_context():
        company = populate(people, participations, NOW)
        add_extras(people)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    vacuum_analyze(name)
    with admin_conn() as conn:
        conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{wanted}'")
    seconds = time.perf_counter() - started
    out(f"  built {name}: {company.people:,} people, {company.participations:,} participations in {seconds:.0f} s")
    return name, f"built in {seconds:.0f} s"


def vacuum_analyze(name: str) -> None:
    with psycopg.connect(libpq(server_url(), name), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def db_query(name: str, sql: str, params=None) -> list[tuple]:
    with psycopg.connect(libpq(server_url(), name), autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def counts(name: str) -> dict[str, int]:
    tables = ["user", "activity", "participation", "debrief_task", "debrief", "answer", "answer_code"]
    with psycopg.connect(libpq(server_url(), name), autocommit=True) as conn:
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


# --- the server --------------------------------------------------------------------------------------------------


def free_port() -> int:
    from tests.conftest import free_port as _free_port

    return _free_port()


def start_server(database: str, workdir: Path) -> Proc:
    port = free_port()
    host = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env.update(
        DATABASE_URL=libpq(server_url(), database),
        SECRET_KEY="bench-" + "0" * 20,
        PASSWORD_HASH_METHOD=FAST_HASH,
        LOGIN_MAX_FAILURES="1000",
        FLASK_DEBUG="0",
        MAIL_SERVER="",
        BASE_URL=host,
        BENCH_SERVE="1",
        BENCH_DIR=str(workdir),
        BENCH_NOW=NOW.isoformat(),
        PYTHONUNBUFFERED="1",
    )
    log_path = workdir / "gunicorn.log"
    argv = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--pythonpath", ".ci"]
    with open(log_path, "ab") as log:
        popen = subprocess.Popen(
            [*argv, "bench_app:app"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    proc = Proc("gunicorn", popen, log_path, "host", host)

    def healthy() -> bool:
        if not proc.alive():
            raise SystemExit(f"gunicorn exited with {popen.returncode}:\n{proc.log()[-5000:]}")
        try:
            return Client(host, timeout=5).get("/healthz").status == 200
        except OSError:
            return False

    wait_until(healthy, 60, "gunicorn /healthz", every=0.2)
    return proc


def stop_server(proc: Proc) -> None:
    proc.signal_group(signal.SIGTERM)
    try:
        proc.popen.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


# --- measuring ---------------------------------------------------------------------------------------------------


@dataclass
class Timing:
    status: int = 0
    size: int = 0
    queries: int | None = None
    sql_ms: float | None = None
    page: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def p50(self) -> float | None:
        return percentile(self.page, 50) if self.page else None

    @property
    def p99(self) -> float | None:
        return percentile(self.page, 99) if self.page else None

    @property
    def floor_p50(self) -> float | None:
        return percentile(self.floor, 50) if self.floor else None


class Counter:
    """Asks the bench app for one request's statement count (written when the body is closed)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir

    def counted(self, client: Client, method: str, path: str, data=None):
        bench_id = secrets.token_hex(6)
        client.opener.addheaders = [("X-Bench-Id", bench_id)]
        try:
            response = client.request(method, path, data=data)
        finally:
            client.opener.addheaders = []

        def found():
            for f in self.workdir.glob("counts-*.txt"):
                for line in f.read_text().splitlines():
                    parts = line.split()
                    if parts and parts[0] == bench_id:
                        return int(parts[1]), float(parts[2])
            return None

        try:
            queries, sql_ms = wait_until(found, 5, f"the statement count of {path}", every=0.01)
        except AssertionError:
            queries, sql_ms = None, None
        return response, queries, sql_ms


def interleave(client: Client, path: str, floor: str, args, counter: Counter) -> Timing:
    """Warm up, count once, then alternate floor and page until --requests or the time budget is spent."""
    t = Timing()
    for _ in range(2):
        client.get(floor)
        client.get(path)
    response, t.queries, t.sql_ms = counter.counted(client, "GET", path)
    t.status, t.size = response.status, len(response.body)
    if response.status != 200:
        t.note = f"answered {response.status} {response.location}".strip()
        return t
    started = time.monotonic()
    for n in range(args.requests):
        t.floor.append(client.get(floor).seconds)
        t.page.append(client.get(path).seconds)
        if n + 1 >= args.min_requests and time.monotonic() - started > args.budget:
            break
    return t


def booking(client: Client, ride: int, counter: Counter, cycles: int = 3) -> dict:
    """The booking POST (book, then cancel again, ``cycles`` times): statements and time of each."""
    found: dict = {"book": [], "cancel": [], "book_q": None, "cancel_q": None, "note": ""}
    for _ in range(cycles):
        for action, key in (("book", "book"), ("cancel-booking", "cancel")):
            token = client.csrf(f"/ride-alongs/{ride}")
            response, queries, _ = counter.counted(
                client, "POST", f"/activities/{ride}/{action}", {"csrf_token": token}
            )
            if response.status != 302:
                found["note"] = f"{action} answered {response.status}"
                return found
            found[key].append(response.seconds)
            found[f"{key}_q"] = queries
    return found


# --- the PDF export, in a worker-like subprocess -----------------------------------------------------------------


class _Held:
    """A job runner that runs nothing (the export is run by hand, timed)."""

    name = "held"

    def start(self) -> None:
        pass

    def defer(self, items) -> None:
        pass


def pdf_child(database: str, pdf_path: str) -> None:
    """Runs in its own process: create a PDF export job for HR (everyone, this month) and run the worker's job
    function; prints a JSON line with the phases' times."""
    from sqlalchemy import delete, select

    from program.accounts.models import User
    from program.extensions import db
    from program.jobs.runners import EXTENSION
    from program.reports import exporters, jobs, worker
    from program.reports.models import ExportFile, ExportJob
    from program.reports.services import ReportFilters

    app = in_process_app(database, EXPORT_HEARTBEAT_SECONDS=3600, ORG_NAME="Example Corp")
    app.extensions[EXTENSION] = _Held()
    phases: dict[str, float] = {}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - started

        return wrapper

    worker.build_report = timed("report", worker.build_report)
    exporters.report_html = timed("html", exporters.report_html)
    exporters.render_pdf = timed("render", exporters.render_pdf)
    with app.app_context():
        hr = db.session.scalar(select(User).where(User.email == HR))
        job = jobs.create_job(hr, "pdf", ReportFilters(period=MONTH), "Europe/London", NOW)
        db.session.commit()
        started = time.perf_counter()
        ok = worker.run_job(job.id, "bench")
        total = time.perf_counter() - started
        db.session.expire_all()
        job = db.session.get(ExportJob, job.id)
        content = db.session.get(ExportFile, job.id)
        if content is not None:
            Path(pdf_path).write_bytes(content.content)
        result = {"ok": ok, "state": job.state, "error": job.error, "rows": job.rows, "size": job.size, "total": total}
        db.session.execute(delete(ExportFile).where(ExportFile.job_id == job.id))
        db.session.execute(delete(ExportJob).where(ExportJob.id == job.id))
        db.session.commit()
    print("BENCH-PDF " + json.dumps({**result, **phases}), flush=True)


def run_pdf(database: str, workdir: Path) -> dict:
    """The PDF child's figures, with its peak RSS from wait4 (that child only, not the gunicorn processes)."""
    pdf_path = workdir / "report.pdf"
    log_path = workdir / "pdf-child.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--pdf-child", database, str(pdf_path)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    output = log_path.read_text(errors="replace")
    line = next((x for x in output.splitlines() if x.startswith("BENCH-PDF ")), None)
    if line is None:
        return {"error": f"the PDF child exited {proc.returncode}: {output[-3000:]}"}
    result = json.loads(line.removeprefix("BENCH-PDF "))
    result["max_rss_mb"] = usage.ru_maxrss / 1024  # Linux: kilobytes
    result["cpu"] = usage.ru_utime + usage.ru_stime
    if pdf_path.exists():
        from pypdf import PdfReader

        result["pages"] = len(PdfReader(str(pdf_path)).pages)
    return result


# --- slow statements ---------------------------------------------------------------------------------------------


def slow_statements(workdir: Path) -> list[dict]:
    groups: dict[str, dict] = {}
    for f in sorted(workdir.glob("slow-*.pkl")):
        with open(f, "rb") as data:
            while True:
                try:
                    record = pickle.load(data)
                except EOFError:
                    break
                key = re.sub(r"\s+", " ", record["sql"]).strip()
                key = re.sub(r"__\[POSTCOMPILE_\w+\]|\(%\(\w+?_\d+\)s(?:, %\(\w+?_\d+\)s)*\)", "(…)", key)
                g = groups.setdefault(key, {"count": 0, "max": 0.0, "total": 0.0, "paths": set(), "worst": None})
                g["count"] += 1
                g["total"] += record["ms"]
                g["paths"].add(record["path"].split("?")[0] if "/bench/" not in record["path"] else record["path"])
                if record["ms"] > g["max"]:
                    g["max"], g["worst"] = record["ms"], record
    return sorted(groups.values(), key=lambda g: -g["max"])


def explain(database: str, record: dict) -> list[str]:
    with psycopg.connect(libpq(server_url(), database)) as conn:
        try:
            analyze = "ANALYZE, BUFFERS, " if record["params"] is not None else ""
            rows = conn.execute(f"EXPLAIN ({analyze}COSTS) " + record["sql"], record["params"]).fetchall()
            return [r[0] for r in rows]
        except psycopg.Error as exc:
            return [f"(EXPLAIN failed: {type(exc).__name__}: {str(exc).splitlines()[0]})"]
        finally:
            conn.rollback()  # EXPLAIN ANALYZE runs the statement: nothing it wrote is kept


# --- one size ----------------------------------------------------------------------------------------------------


@dataclass
class SizeResult:
    people: int
    participations: int
    database: str = ""
    origin: str = ""
    tables: dict = field(default_factory=dict)
    pages: dict[str, Timing] = field(default_factory=dict)
    csv: Timing | None = None
    ics: Timing | None = None
    ics_events: tuple[int, int] = (0, 0)
    csv_rows: tuple[int, int] = (0, 0)
    book: dict = field(default_factory=dict)
    pdf: dict = field(default_factory=dict)
    slow: list[dict] = field(default_factory=list)


def run_size(people: int, participations: int, args, out: Out) -> SizeResult:
    res = SizeResult(people, participations)
    out(f"size {people:,} / {participations:,}:")
    res.database, res.origin = build_database(people, participations, args.reuse, out)
    res.tables = counts(res.database)
    if args.pdf_only:
        with tempfile.TemporaryDirectory(prefix="bench_pages_") as tmp:
            out("  PDF export (worker function, in a subprocess) …")
            res.pdf = run_pdf(res.database, Path(tmp))
        return res
    ride = db_query(res.database, "SELECT id FROM activity WHERE title = 'ride_along 1'")[0][0]
    funnel = db_query(
        res.database,
        "SELECT m.activity_id FROM review_meeting m JOIN activity a ON a.id = m.activity_id "
        "WHERE m.format = 'funnel_reality_check' ORDER BY abs(extract(epoch FROM a.starts_at - %s)) LIMIT 1",
        (NOW,),
    )[0][0]
    with tempfile.TemporaryDirectory(prefix="bench_pages_") as tmp:
        workdir = Path(tmp)
        server = start_server(res.database, workdir)
        try:
            counter = Counter(workdir)
            clients = {}
            for role, email in {**ROLES, "booker": BOOKER}.items():
                clients[role] = Client(server.url, timeout=120)
                clients[role].sign_in(email, PASSWORD)
            for name, role, path in PAGES:
                timing = interleave(clients[role], path.format(ride=ride, funnel=funnel), "/bench/bare", args, counter)
                res.pages[name] = timing
                out(
                    f"  {name:28} p50 {ms(timing.p50):>7} ms  ×bare {ratio(timing.p50, timing.floor_p50):>7}  "
                    f"queries {timing.queries if timing.queries is not None else '?':>3}  n={len(timing.page)} "
                    f"{timing.note}"
                )
            hr = clients["hr"]
            res.csv = interleave(
                hr, f"/reports/participation.csv?period={QUARTER}", f"/bench/floor/participation.csv?period={QUARTER}",
                args, counter,
            )  # fmt: skip
            res.csv_rows = (
                hr.get(f"/reports/participation.csv?period={QUARTER}").body.count(b"\n"),
                hr.get(f"/bench/floor/participation.csv?period={QUARTER}").body.count(b"\n"),
            )
            feed = Client(server.url, timeout=120)
            res.ics = interleave(
                feed, f"/calendar/feed/{FEED_TOKEN}.ics", f"/bench/floor/feed/{FEED_TOKEN}.ics", args, counter
            )
            res.ics_events = (
                feed.get(f"/calendar/feed/{FEED_TOKEN}.ics").body.count(b"BEGIN:VEVENT"),
                feed.get(f"/bench/floor/feed/{FEED_TOKEN}.ics").body.count(b"BEGIN:VEVENT"),
            )
            res.book = booking(clients["booker"], ride, counter)
            out(
                f"  CSV {ms(res.csv.p50)} ms vs floor {ms(res.csv.floor_p50)} ms; "
                f"ICS {ms(res.ics.p50)} ms vs floor {ms(res.ics.floor_p50)} ms; "
                f"booking POST {res.book.get('book_q')} queries"
            )
        finally:
            stop_server(server)
        if not args.no_pdf:
            out("  PDF export (worker function, in a subprocess) …")
            res.pdf = run_pdf(res.database, workdir)
        res.slow = slow_statements(workdir)
        for g in res.slow[: args.explain]:
            g["plan"] = explain(res.database, g["worst"])
    return res


# --- the report --------------------------------------------------------------------------------------------------


def git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.rstrip()
    except OSError:
        return "?"


def source_description(args) -> str:
    if args.source:
        return args.source
    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return f"{ROOT} (not a git checkout)"
    dirty = [line[3:] for line in git("status", "--porcelain").splitlines() if line.strip()]
    listed = ", ".join(dirty[:10]) + (", …" if len(dirty) > 10 else "")
    return f"git {head} in {ROOT}" + (f" plus {len(dirty)} changed/untracked path(s): {listed}" if dirty else "")


def print_pages(results: list[SizeResult], out: Out) -> None:
    a, b = results[0], results[-1]
    two = len(results) > 1
    sa, sb = f"{a.people:,}/{a.participations:,}", f"{b.people:,}/{b.participations:,}"
    head = f"{'page':28} {'as':7} | {sa + ': p50':>19} {'p99':>7} {'×bare':>7} {'q':>3}"
    if two:
        head += f" | {sb + ': p50':>20} {'p99':>7} {'×bare':>7} {'q':>3} | {'growth':>7} {'k':>5}"
    out(head + f" | {'KB':>6}")
    out("-" * len(head + " | KB    "))
    for name, role, _ in PAGES:
        x = a.pages[name]
        queries = x.queries if x.queries is not None else "?"
        line = f"{name:28} {role:7} | {ms(x.p50):>16} ms {ms(x.p99):>7} {ratio(x.p50, x.floor_p50):>7} {queries:>3}"
        size = x.size
        if two:
            y = b.pages[name]
            line += (
                f" | {ms(y.p50):>17} ms {ms(y.p99):>7} {ratio(y.p50, y.floor_p50):>7} "
                f"{y.queries if y.queries is not None else '?':>3} | {ratio(y.p50, x.p50):>7} "
                f"{growth_k(x.p50, y.p50, a.participations, b.participations):>5}"
            )
            size = y.size
        notes = "; ".join(n for n in (x.note, b.pages[name].note if two else "") if n)
        out(line + f" | {size / 1024:>6.0f}" + (f"  {notes}" if notes else ""))
    floors = ", ".join(
        f"{r.people:,}: {ms(percentile([s for t in r.pages.values() for s in t.floor], 50))} ms" for r in results
    )
    out(f"bare page p50 (all its interleaved requests): {floors}")
    out()


def print_exports(r: SizeResult, out: Out) -> None:
    c, i, bk, p = r.csv, r.ics, r.book, r.pdf
    out(f"  {r.people:,}/{r.participations:,}:")
    if c is not None:
        out(
            f"    CSV {QUARTER} (HR): p50 {ms(c.p50)} ms, floor {ms(c.floor_p50)} ms (one SQL statement + csv.writer) "
            f"→ {ratio(c.p50, c.floor_p50)}; lines {r.csv_rows[0]:,} vs floor {r.csv_rows[1]:,}; "
            f"{c.size / 1e6:.2f} MB; {c.queries} queries"
        )
    if i is not None:
        out(
            f"    ICS feed: p50 {ms(i.p50)} ms, floor {ms(i.floor_p50)} ms (one SQL statement + icalendar) "
            f"→ {ratio(i.p50, i.floor_p50)}; events {r.ics_events[0]} vs floor {r.ics_events[1]}; {i.queries} queries"
        )
    if bk:
        book = ms(percentile(bk["book"], 50) if bk["book"] else None)
        cancel = ms(percentile(bk["cancel"], 50) if bk["cancel"] else None)
        out(
            f"    booking POST: {bk['book_q']} queries, p50 {book} ms; "
            f"cancelling it: {bk['cancel_q']} queries, p50 {cancel} ms {bk['note']}"
        )
    if p and "total" in p:
        out(
            f"    PDF export (worker function): {p.get('rows') or 0:,} rows, {p.get('pages', '?')} pages, "
            f"{(p.get('size') or 0) / 1e6:.1f} MB in {p['total']:.1f} s (report rows {p.get('report', 0):.1f} s, "
            f"HTML {p.get('html', 0):.1f} s, WeasyPrint {p.get('render', 0):.1f} s); "
            f"CPU {p.get('cpu', 0):.1f} s; peak RSS {p.get('max_rss_mb') or 0:,.0f} MB; job {p.get('state')} "
            f"{p.get('error') or ''}"
        )
    elif p:
        out(f"    PDF export: {p.get('error')}")


def print_slow(r: SizeResult, args, out: Out) -> None:
    out(
        f"Slowest statements at {r.people:,}/{r.participations:,} (≥ {args.slow_ms:.0f} ms; the worst run of each, "
        "with EXPLAIN (ANALYZE, BUFFERS))"
    )
    if not r.slow:
        out("  none")
    for n, g in enumerate(r.slow[: args.explain], 1):
        paths = ", ".join(sorted(g["paths"]))[:150]
        sql = re.sub(r"\s+", " ", g["worst"]["sql"]).strip()
        out(f"  #{n}: max {g['max']:,.0f} ms, seen {g['count']}× (total {g['total'] / 1000:,.1f} s) on {paths}")
        out(f"      {sql[:500]}{' …' if len(sql) > 500 else ''}")
        plan = g.get("plan", [])
        keep = plan[:30] + [line for line in plan[30:] if "JIT" in line or "Time" in line or "Timing" in line]
        for line in keep:
            out("      | " + line)
        if len(plan) > len(keep):
            out(f"      | … {len(plan) - len(keep)} more plan lines")
    out()


def print_report(results: list[SizeResult], started: datetime, args, out: Out) -> None:
    out()
    out("=" * 150)
    out(f"Tandem page benchmark — started {started:%Y-%m-%d %H:%M} UTC; code measured: {source_description(args)}")
    out(
        f"machine: {os.cpu_count()} CPU, Python {platform.python_version()}; "
        f"PostgreSQL {db_query(results[0].database, 'SHOW server_version')[0][0]}; gunicorn 2 workers; "
        f"requests per page ≤ {args.requests} (≥ {args.min_requests}, budget {args.budget:.0f} s), "
        "each interleaved with the bare page"
    )
    for r in results:
        t = r.tables
        out(
            f"data {r.people:,}/{r.participations:,}: {r.database} ({r.origin}); {t['user']:,} users, "
            f"{t['activity']:,} activities, {t['participation']:,} participations, {t['debrief_task']:,} debrief tasks, "
            f"{t['debrief']:,} debriefs, {t['answer']:,} answers, {t['answer_code']:,} reason codes"
        )
    out()
    if all(r.pages for r in results):
        print_pages(results, out)
    out("Exports against their floors" if not args.pdf_only else "PDF export")
    for r in results:
        print_exports(r, out)
    out()
    for r in reversed(results):
        if r.pages:
            print_slow(r, args, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", nargs=2, type=int, default=[1_000, 20_000], metavar=("PEOPLE", "PARTICIPATIONS"))
    parser.add_argument("--large", nargs=2, type=int, default=[5_000, 100_000], metavar=("PEOPLE", "PARTICIPATIONS"))
    parser.add_argument("--only", choices=["small", "large"], help="measure one size only")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (100/2,000 and 300/6,000), few requests")
    parser.add_argument("--reuse", action="store_true", help="use the databases built last time if still valid")
    parser.add_argument("--drop", action="store_true", help="drop the databases at the end (default: keep)")
    parser.add_argument("--requests", type=int, default=30, help="most timed requests per page (default 30)")
    parser.add_argument("--min-requests", type=int, default=5, help="fewest timed requests per page (default 5)")
    parser.add_argument("--budget", type=float, default=10.0, help="seconds per page before stopping early")
    parser.add_argument("--explain", type=int, default=8, help="slow statements to EXPLAIN per size (default 8)")
    parser.add_argument("--slow-ms", type=float, default=20.0, help="log statements at least this slow")
    parser.add_argument("--no-pdf", action="store_true", help="skip the PDF export")
    parser.add_argument("--pdf-only", action="store_true", help="only the PDF export (no server, no pages)")
    parser.add_argument("--out", help="also write the printed report to this file")
    parser.add_argument("--source", help="what code is measured, for the header (default: git HEAD and changes)")
    parser.add_argument("--pdf-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pdf_child:
        pdf_child(*args.pdf_child)
        return
    if args.quick:
        args.small, args.large = [100, 2_000], [300, 6_000]
        args.requests, args.min_requests, args.budget = min(args.requests, 8), 3, 3.0
    os.environ["BENCH_SLOW_MS"] = str(args.slow_ms)
    out = Out(args.out)
    started = datetime.now(UTC)
    sizes = [tuple(args.small), tuple(args.large)]
    if args.only:
        sizes = [sizes[0] if args.only == "small" else sizes[1]]
    out(f"database server: {server_url().render_as_string(hide_password=True).rsplit('/', 1)[0]}")
    results = [run_size(people, parts, args, out) for people, parts in sizes]
    print_report(results, started, args, out)
    if args.drop:
        with admin_conn() as conn:
            for r in results:
                conn.execute(f'DROP DATABASE IF EXISTS "{r.database}" WITH (FORCE)')
    out.close()


if __name__ == "__main__":
    main()
