"""The multi-host rig (issue 12): one PostgreSQL database, two gunicorn app hosts, two ``flask worker`` processes
and an SMTP sink that can be stopped and started again on the same port — the production shape of Tandem on one
machine. Used by tests/multihost/ (through its conftest) and by .ci/bench_jobs.py.

- ``Rig.start()`` creates a database named ``tandem_rig_<random>`` next to TEST_DATABASE_URL's, runs
  ``flask db upgrade`` and ``flask seed-demo`` into it as an operator would, starts the sink, the hosts and the
  workers (each in its own process group) and waits for /healthz and for each worker's procrastinate workers.
- ``Rig.stop()`` kills every process group, closes the in-process app and drops the database.
- ``Client`` is a browser without a browser: urllib with a cookie jar, the CSRF token read from each form page,
  redirects not followed (so a test sees the 302 and where it points).
- ``Rig.app`` is an in-process app on the same database (procrastinate backend: what it defers, the workers run)
  for preparing data and for the transaction-level checks; nothing in it sends mail itself.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import logging
import math
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from sqlalchemy.engine import URL, make_url

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEST_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/tandem_test"
DB_PREFIX = "tandem_rig"
DEMO_PASSWORD = "demo-password"
FAST_HASH = "pbkdf2:sha256:1000"
STARTUP_SECONDS = 60.0

# The rig's settings: every one is an environment variable of the same name (program/config.py). Short cycles so
# that retries, the sweep and stale exports happen within seconds. Cron's sixth field (seconds) comes LAST for
# croniter: "* * * * * */2" is every two seconds ("*/2 * * * * *" would be every second of every even minute).
EVERY_TWO_SECONDS = "* * * * * */2"
RIG_SETTINGS = {
    "SECRET_KEY": "rig-secret-" + "0" * 16,
    "PASSWORD_HASH_METHOD": FAST_HASH,
    "LOGIN_MAX_FAILURES": "1000",
    "MAIL_SERVER": "127.0.0.1",
    "MAIL_RETRY_SECONDS": "1",
    "JOBS_SWEEP_CRON": EVERY_TWO_SECONDS,
    "JOBS_REMINDERS_CRON": EVERY_TWO_SECONDS,
    "JOBS_SWEEP_GRACE_SECONDS": "2",
    "EXPORT_STALE_SECONDS": "4",
    "EXPORT_HEARTBEAT_SECONDS": "1",
    "JOBS_STALLED_SECONDS": "5",
    "FLASK_DEBUG": "0",
    "PYTHONUNBUFFERED": "1",
}
# Inherited variables that would change what the rig runs.
DROPPED_ENV = ("TANDEM_NOW", "JOBS_BACKEND", "DATABASE_URL", "MAIL_PORT", "BASE_URL", "JOBS_HOURLY_CRON")


def base_database_url() -> URL:
    """TEST_DATABASE_URL (or the Makefile's default) as a psycopg 3 SQLAlchemy URL."""
    from program.config import _normalise_db_url

    return make_url(_normalise_db_url(os.environ.get("TEST_DATABASE_URL") or DEFAULT_TEST_DATABASE_URL))


def libpq(url: URL, database: str | None = None) -> str:
    """``postgresql://…`` for psycopg and for DATABASE_URL (the app normalises it)."""
    url = url.set(drivername="postgresql")
    if database is not None:
        url = url.set(database=database)
    return url.render_as_string(hide_password=False)


def wait_until(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something truthy (returned); AssertionError naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


# --- the SMTP sink ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    message_id: str
    to: str
    subject: str
    at: float  # time.monotonic() when the sink answered 250


class SmtpSink:
    """An aiosmtpd server on a fixed 127.0.0.1 port that records each message's Message-ID, To and Subject.

    ``stop()`` and ``start()`` again reuse the same port (a relay that goes down and comes back). ``delay`` (seconds)
    holds each message that long before accepting it (a slow relay); messages on parallel connections wait in
    parallel, as with a real relay.
    """

    def __init__(self, port: int, delay: float = 0.0) -> None:
        self.port = port
        self.delay = delay
        self._received: list[Received] = []
        self._lock = threading.Lock()
        self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        if self._controller is not None:
            return
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                if sink.delay:
                    await asyncio.sleep(sink.delay)
                msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
                item = Received(
                    message_id=str(msg.get("Message-ID", "")).strip(),
                    to=str(msg.get("To", "")),
                    subject=str(msg.get("Subject", "")),
                    at=time.monotonic(),
                )
                with sink._lock:
                    sink._received.append(item)
                return "250 OK"

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
        controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def count(self) -> int:
        with self._lock:
            return len(self._received)

    def with_ids(self, ids: Iterable[str]) -> list[Received]:
        wanted = set(ids)
        return [r for r in self.received() if r.message_id in wanted]


# --- a client for the real server ------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: Any
    body: bytes
    seconds: float

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def location(self) -> str:
        return self.headers.get("Location", "") if self.headers else ""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ARG002 — urllib's signature
        return None  # the 30x comes back as a response: the test sees it and where it points


CSRF_INPUT = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
VALUE = re.compile(r'value="([^"]*)"')


class Client:
    """One person's browser: a cookie jar shared by every host (cookies belong to 127.0.0.1, whatever the port,
    as behind a load balancer) and a default host to talk to."""

    def __init__(self, host: str, timeout: float = 60.0) -> None:
        self.host = host
        self.timeout = timeout
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def request(self, method: str, path: str, data=None, host: str | None = None) -> Response:
        url = (host or self.host) + path
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        req = urllib.request.Request(url, data=body, method=method)
        started = time.perf_counter()
        try:
            with self.opener.open(req, timeout=self.timeout) as resp:
                content = resp.read()
                return Response(resp.status, resp.headers, content, time.perf_counter() - started)
        except urllib.error.HTTPError as exc:
            try:
                content = exc.read()
                return Response(exc.code, exc.headers, content, time.perf_counter() - started)
            finally:
                exc.close()  # an unclosed HTTPError leaks its socket

    def get(self, path: str, host: str | None = None) -> Response:
        return self.request("GET", path, host=host)

    def post(self, path: str, data, host: str | None = None) -> Response:
        return self.request("POST", path, data=data, host=host)

    def csrf(self, path: str, host: str | None = None) -> str:
        """The CSRF token of the form on ``path`` (any form of this session: the token is the session's)."""
        page = self.get(path, host=host)
        assert page.status == 200, f"GET {path} answered {page.status}"
        tag = CSRF_INPUT.search(page.text)
        assert tag, f"no csrf_token input on {path}"
        return VALUE.search(tag.group(0)).group(1)

    def sign_in(self, email: str, password: str = DEMO_PASSWORD, host: str | None = None) -> None:
        """Through the real /login form, as a person would."""
        token = self.csrf("/login", host=host)
        answer = self.post("/login", {"csrf_token": token, "email": email, "password": password}, host=host)
        assert answer.status == 302, f"sign-in of {email} answered {answer.status}: {answer.text[:500]}"


# --- processes -------------------------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path
    kind: str  # "host" | "worker"
    url: str = ""

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.popen.pid, sig)  # its own session: the group is its pid (gunicorn's workers included)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL the whole process group and reap it."""
        self.signal_group(signal.SIGKILL)
        self.popen.wait(timeout=10)


@dataclass
class Rig:
    """See the module docstring. ``workdir`` receives the logs."""

    workdir: Path
    hosts_count: int = 2
    workers_count: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from tests.conftest import free_port

        self.base_url = base_database_url()
        self.database = f"{DB_PREFIX}_{secrets.token_hex(4)}"
        self.database_url = libpq(self.base_url, self.database)
        self.sink = SmtpSink(free_port())
        self.ports = [free_port() for _ in range(self.hosts_count)]
        self.hosts = [f"http://127.0.0.1:{port}" for port in self.ports]
        self.hosts_procs: list[Proc] = []
        self.workers: list[Proc] = []
        self.retired: list[Proc] = []  # killed on purpose; their logs still count
        self.app = None
        self._conn: psycopg.Connection | None = None
        self._conn_lock = threading.Lock()
        self._created = False
        self._worker_seq = 0
        self.env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
        self.env.update(RIG_SETTINGS)
        self.env.update(
            DATABASE_URL=self.database_url,
            MAIL_PORT=str(self.sink.port),
            BASE_URL=self.hosts[0],  # one public address for every host, as behind a load balancer
        )
        self.env.update(self.extra_env)

    # -- life cycle

    def start(self) -> Rig:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with psycopg.connect(libpq(self.base_url, "postgres"), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.database}"')
        self._created = True
        self.sink.start()
        self.flask("db", "upgrade")
        self.flask("seed-demo")
        for n, port in enumerate(self.ports):
            self.start_host(chr(ord("a") + n), port)
        for _ in range(self.workers_count):
            self.start_worker()
        for proc in self.hosts_procs:
            self._wait_healthy(proc)
        for proc in self.workers:
            self.wait_worker_ready(proc)
        self.app = self._make_app()
        return self

    def stop(self) -> None:
        procs = [p for p in self.hosts_procs + self.workers if p.alive()]
        for proc in procs:
            proc.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in procs:
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.app is not None:
            from program.extensions import db
            from program.jobs.runners import EXTENSION

            engine_runner = self.app.extensions.get(EXTENSION)
            papp = getattr(engine_runner, "_papp", None)
            if papp is not None:
                papp.close()
            with self.app.app_context():
                db.engine.dispose()
            self.app = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self.sink.stop()
        if self._created:
            with psycopg.connect(libpq(self.base_url, "postgres"), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            self._created = False

    def __enter__(self) -> Rig:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- processes

    def flask(self, *args: str) -> str:
        """``flask --app app <args>`` the way an operator runs it; RuntimeError with its output if it fails."""
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", *args],
            cwd=ROOT,
            env=self.env,
            check=False,  # reported below with the command's own output
            capture_output=True,
            text=True,
            timeout=180,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"`flask {' '.join(args)}` exited {result.returncode}\n"
                f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
            )
        return result.stdout

    def _spawn(self, name: str, kind: str, argv: list[str], url: str = "") -> Proc:
        log_path = self.workdir / f"{name}.log"
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return Proc(name, popen, log_path, kind, url)

    def start_host(self, letter: str, port: int) -> Proc:
        argv = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--graceful-timeout", "5"]
        proc = self._spawn(f"host-{letter}", "host", [*argv, "app:app"], f"http://127.0.0.1:{port}")
        self.hosts_procs.append(proc)
        return proc

    def start_worker(self) -> Proc:
        self._worker_seq += 1
        proc = self._spawn(
            f"worker-{self._worker_seq}", "worker", [sys.executable, "-m", "flask", "--app", "app", "worker"]
        )
        self.workers.append(proc)
        return proc

    def kill_worker(self, proc: Proc) -> None:
        """SIGKILL a worker (no clean-up of any kind: its jobs stay "doing", its rows "running")."""
        proc.kill()
        self.workers.remove(proc)
        self.retired.append(proc)

    def worker_by_pid(self, pid: int) -> Proc | None:
        return next((p for p in self.workers if p.pid == pid), None)

    def _wait_healthy(self, proc: Proc) -> None:
        def healthy() -> bool:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log()}")
            try:
                with urllib.request.urlopen(proc.url + "/healthz", timeout=2) as resp:
                    return resp.status == 200
            except urllib.error.HTTPError as exc:
                exc.close()
                return False
            except OSError:
                return False

        try:
            wait_until(healthy, STARTUP_SECONDS, f"{proc.name} /healthz", every=0.1)
        except AssertionError as exc:
            raise RuntimeError(f"{exc}\n{proc.log()}") from None

    def wait_worker_ready(self, proc: Proc) -> None:
        """Until both of its procrastinate workers (mail+default, exports) have started."""

        def ready() -> bool:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log()}")
            return proc.log().count("Starting worker on") >= 2

        try:
            wait_until(ready, STARTUP_SECONDS, f"{proc.name} to start", every=0.1)
        except AssertionError as exc:
            raise RuntimeError(f"{exc}\n{proc.log()}") from None

    def logs(self, tail: int = 200) -> str:
        """The last lines of every process's log, for a failure report."""
        parts = []
        for proc in self.hosts_procs + self.workers + self.retired:
            lines = proc.log().splitlines()[-tail:]
            state = "running" if proc.alive() else f"exited {proc.popen.returncode}"
            parts.append(f"===== {proc.name} (pid {proc.pid}, {state}) =====\n" + "\n".join(lines))
        return "\n".join(parts)

    def problems(self) -> list[str]:
        """Tracebacks and errors in the logs (for information: a schedule that failed, a job that raised)."""
        found = []
        for proc in self.hosts_procs + self.workers + self.retired:
            for line in proc.log().splitlines():
                if " ERROR " in line or line.startswith(("psycopg.errors.", "procrastinate.exceptions.")):
                    found.append(f"{proc.name}: {line}")
        return found

    # -- the database

    def query(self, sql: str, params: dict | tuple | None = None) -> list[dict]:
        """Rows as dicts, on a connection of the test's own (autocommit: every call sees the latest commits)."""
        with self._conn_lock:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.database_url, autocommit=True, row_factory=dict_row)
            with self._conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []

    def scalar(self, sql: str, params: dict | tuple | None = None):
        rows = self.query(sql, params)
        return next(iter(rows[0].values())) if rows else None

    def _make_app(self):
        from tests.conftest import make_app

        return make_app(
            self.database_url.replace("postgresql://", "postgresql+psycopg://", 1),
            JOBS_BACKEND="procrastinate",
            FIXED_NOW=None,
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=self.sink.port,
            SERVER_NAME=None,
            BASE_URL=self.hosts[0],
            SECRET_KEY=RIG_SETTINGS["SECRET_KEY"],
        )

    # -- preparing data in-process

    def add_people(
        self, prefix: str, count: int, *, department: str, function: str, role: str = "staff", password: bool = True
    ) -> list[tuple[int, str]]:
        """``count`` active people (``<prefix>0001@rig.example.com`` …) in ``department`` (created if new); (id, email)."""
        from sqlalchemy import insert, select
        from werkzeug.security import generate_password_hash

        from program.accounts.models import Department, User
        from program.extensions import db
        from program.timeutil import utcnow

        with self.app.app_context():
            dept = db.session.scalar(select(Department).where(Department.name == department))
            if dept is None:
                dept = Department(name=department, function=function)
                db.session.add(dept)
                db.session.flush()
            password_hash = generate_password_hash(DEMO_PASSWORD, method=FAST_HASH) if password else None
            now = utcnow()
            rows = [
                {
                    "email": f"{prefix}{n:04d}@rig.example.com",
                    "name": f"{prefix.strip('.').replace('.', ' ').title()} {n:04d}",
                    "role": role,
                    "department_id": dept.id,
                    "timezone": "Europe/London",
                    "password_hash": password_hash,
                    "created_at": now,
                }
                for n in range(1, count + 1)
            ]
            people = [
                (row.id, row.email)
                for row in db.session.execute(
                    insert(User).returning(User.id, User.email, sort_by_parameter_order=True), rows
                )
            ]
            db.session.commit()
            db.session.remove()
        return people

    def department_id(self, name: str) -> int:
        return self.scalar("SELECT id FROM department WHERE name = %s", (name,))

    def offer_ride(self, host_email: str, starts_at: datetime, *, seats: int, title: str, cutoff_hours: int = 0) -> int:
        """A ride-along offered by ``host_email`` (the real service), starting at ``starts_at`` (UTC, on the hour)."""
        from sqlalchemy import select

        from program.accounts.models import User
        from program.extensions import db
        from program.rides.models import CALL_TYPES, FUNNEL_STAGES, SEGMENTS
        from program.rides.services import CallData, offer_call
        from program.timeutil import utcnow

        with self.app.app_context():
            host = db.session.scalar(select(User).where(User.email == host_email))
            data = CallData(
                host_id=host.id,
                account_name=title,
                segment=SEGMENTS[0],
                funnel_stage=FUNNEL_STAGES[0],
                call_type=CALL_TYPES[0][0],
                day=starts_at.date(),
                start=starts_at.time().replace(tzinfo=None),
                end=(starts_at + timedelta(minutes=30)).time().replace(tzinfo=None),
                timezone="UTC",
                video_url="https://meet.example.com/rig",
                seats=seats,
                cutoff_hours=cutoff_hours,
            )
            activity = offer_call(host, data, utcnow())
            db.session.commit()
            activity_id = activity.id
            db.session.remove()
        return activity_id

    def book_quietly(self, activity_id: int, emails: list[str]) -> None:
        """Book seats through the real service with mail suppressed (as the demo seed does)."""
        from sqlalchemy import select

        from program.accounts.models import User
        from program.activities import services as core
        from program.extensions import db
        from program.timeutil import utcnow

        with self.app.app_context():
            db.session.info["suppress_mail"] = True
            try:
                for email in emails:
                    user = db.session.scalar(select(User).where(User.email == email))
                    core.book_seat(activity_id, user, utcnow(), join_waitlist=False)
                db.session.commit()
            finally:
                db.session.info.pop("suppress_mail", None)
                db.session.remove()

    def schedule_meeting(self, leader_email: str, title: str, starts_at: datetime) -> int:
        """A review meeting with nobody invited yet, facilitated by ``leader_email`` (the real service)."""
        from sqlalchemy import select

        from program.accounts.models import User
        from program.extensions import db
        from program.reviews.meetings import MeetingData, schedule_meeting
        from program.reviews.models import MeetingFormat
        from program.timeutil import utcnow

        with self.app.app_context():
            leader = db.session.scalar(select(User).where(User.email == leader_email))
            data = MeetingData(
                title=title,
                format=MeetingFormat.FUNNEL_REALITY_CHECK.value,
                day=starts_at.date(),
                start=starts_at.time().replace(tzinfo=None),
                end=(starts_at + timedelta(minutes=30)).time().replace(tzinfo=None),
                timezone="UTC",
                video_url="https://meet.example.com/rig-review",
            )
            activity = schedule_meeting(leader, data, utcnow())
            db.session.commit()
            activity_id = activity.id
            db.session.remove()
        return activity_id

    # -- mail

    def outbox(self, where: str, params: dict | tuple | None = None) -> list[dict]:
        return self.query(
            'SELECT id, "to", subject, status, attempts, last_error, message_id, created_at, sent_at '
            f"FROM outbox_message WHERE {where} ORDER BY id",
            params,
        )


def on_the_hour(moment: datetime, hours_ahead: int) -> datetime:
    """A start ``hours_ahead`` hours after ``moment``, on the hour (so a 30-minute slot ends the same day)."""
    return (moment + timedelta(hours=hours_ahead)).replace(minute=0, second=0, microsecond=0)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0–100) of a non-empty list."""
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]
