"""Shared test infrastructure: per-test app on SQLite or PostgreSQL, the ``make`` factory (its builders live in
tests/factories/<domain>.py), a fixed clock, signed-in clients per role, an SMTP sink, query counting, and the
CI rule that a skip is a failure.

Run on PostgreSQL by setting TEST_DATABASE_URL (``make test`` does both runs).
"""

from __future__ import annotations

import functools
import os
import threading
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from flask import g
from flask.testing import FlaskClient
from sqlalchemy import event, text

from program import create_app
from program.config import _normalise_db_url
from program.extensions import db

FIXED_NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
TEST_DATABASE_URL = _normalise_db_url(os.environ.get("TEST_DATABASE_URL", "")) or None
IN_CI = os.environ.get("CI", "").lower() == "true"
FAST_HASH = "pbkdf2:sha256:1000"


def pytest_configure(config):
    if not hasattr(config, "workerinput") and not os.environ.get("TIME_TRAVEL_START"):
        # The time-travel run starts on a random day; chosen once here so that every xdist worker agrees.
        import random
        from datetime import date, timedelta

        os.environ["TIME_TRAVEL_START"] = (date.today() + timedelta(days=random.randrange(-365, 365))).isoformat()
    config.addinivalue_line("markers", "postgres_only: needs PostgreSQL (runs in the TEST_DATABASE_URL pass)")
    config.addinivalue_line("markers", "e2e: drives Debian's Chromium against the real server")
    config.addinivalue_line("markers", "sqlite_only: runs in the SQLite pass only (e.g. the time-travel run)")
    config.addinivalue_line("filterwarnings", "error")
    # aiosmtpd's own thread start-up warns on current Python; not our code.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:aiosmtpd.*")


_skipped: list[str] = []


_time_travel: list[int] = []


def pytest_report_header(config):
    return f"time-travel window starts {os.environ.get('TIME_TRAVEL_START')} (replay: TIME_TRAVEL_START=that date)"


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)
    if report.when == "call" and report.passed:
        _time_travel.extend(value for name, value in report.user_properties if name == "time_travel_page_views")


def pytest_sessionfinish(session, exitstatus):
    """Under CI=true a skipped test (PostgreSQL, browser, anything) fails the run."""
    if IN_CI and _skipped and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _time_travel:
        terminalreporter.write_line(
            f"time travel: {len(_time_travel)} instants from {os.environ.get('TIME_TRAVEL_START')}, "
            f"{sum(_time_travel):,} page views, no exception and no 500"
        )
    if IN_CI and _skipped:
        terminalreporter.write_line(
            f"CI=true: {len(_skipped)} skipped test(s) count as failures: " + ", ".join(_skipped[:10]), red=True
        )


# --- database and app ------------------------------------------------------------------------


def _worker_database(url: str, worker: str) -> str:
    """Under xdist each worker gets its own PostgreSQL database (``<name>_<worker>``), created if missing."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory, worker_id) -> str:
    if TEST_DATABASE_URL:
        return TEST_DATABASE_URL if worker_id == "master" else _worker_database(TEST_DATABASE_URL, worker_id)
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")


class FreshUserClient(FlaskClient):
    """Tests keep an app context pushed, which requests would share (and with it ``g``, where
    Flask-Login caches the user). Forget that cache before each request, as a real server would."""

    def open(self, *args, **kwargs):
        g.pop("_login_user", None)
        try:
            return super().open(*args, **kwargs)
        finally:
            g.pop("_login_user", None)


def make_app(database_url: str, **extra):
    overrides = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "PASSWORD_HASH_METHOD": FAST_HASH,
        "FIXED_NOW": FIXED_NOW,
        "MAIL_SERVER": "",
        "SERVER_NAME": "tandem.test",
        "BASE_URL": "http://tandem.test",
        "JOBS_BACKEND": "inline",
    }
    overrides.update(extra)
    app = create_app(overrides)
    app.test_client_class = FreshUserClient
    return app


@pytest.fixture(scope="session")
def _schema(database_url):
    app = make_app(database_url)
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield
    with app.app_context():
        db.drop_all()
        db.engine.dispose()


def _empty_all_tables() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        # DELETE in dependency order is ~6x faster than TRUNCATE of every table for these tiny test tables.
        # team.manager_id → user and user.team_id → team form a cycle: break it first.
        db.session.execute(text("UPDATE team SET manager_id = NULL WHERE manager_id IS NOT NULL"))
        for table in tables:
            db.session.execute(table.delete())
        sequences = db.session.scalars(
            text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()")
        ).all()
        if sequences:
            db.session.execute(text("; ".join(f'ALTER SEQUENCE "{name}" RESTART' for name in sequences)))
    else:
        # The pragma only takes effect outside a transaction: off, delete, commit, then on again — all on one
        # connection (through the session, a commit may hand back a different pooled connection, and one left
        # with foreign keys off would make a later test's cascade silently do nothing).
        db.session.commit()
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            for table in tables:
                conn.execute(table.delete())
            conn.commit()
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.session.commit()


@pytest.fixture(scope="session")
def _session_app(_schema, database_url):
    """One app for the whole run (building one compiles every route: ~0.2 s); each test gets its config back."""
    app = make_app(database_url)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(_session_app):
    app = _session_app
    saved = dict(app.config)
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            _empty_all_tables()
            db.session.remove()
            app.config.clear()
            app.config.update(saved)


@pytest.fixture
def is_postgres(app) -> bool:
    return db.engine.dialect.name == "postgresql"


@pytest.fixture
def pg_required(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL")


@pytest.fixture
def now():
    return FIXED_NOW


# --- factories -------------------------------------------------------------------------------


# The builders and helpers of each domain live in tests/factories/<domain>.py. Loaded as plugins (after this
# file), they get pytest's assertion rewriting and may define fixtures (make_user and as_role are in accounts).
pytest_plugins = [
    "tests.factories.accounts",
    "tests.factories.rides",
    "tests.factories.debriefs",
    "tests.factories.goals",
    "tests.factories.reviews",
    "tests.factories.reports",
]


@functools.cache
def factory_class() -> type:
    """The class of ``make``: every domain's builder mixin in one object. Imported here, not at the top of
    this file: the plugins above must be imported by pytest first (or they would not be rewritten)."""
    from tests.factories.accounts import AccountBuilders
    from tests.factories.debriefs import DebriefBuilders
    from tests.factories.rides import RideBuilders

    class Factory(DebriefBuilders, RideBuilders, AccountBuilders):
        """Builders for test data, with sensible defaults; every object is flushed, not committed."""

    return Factory


@pytest.fixture
def make(app):
    """make.user(...), make.marketer(...), make.department/team(...), make.ride_along(...),
    make.attended_task(...), make.submit_debrief(...) — see tests/factories/."""
    return factory_class()()


# --- jobs ------------------------------------------------------------------------------------


@pytest.fixture
def thread_jobs(app):
    """The embedded job runner (threads, as `make run` uses) instead of the tests' inline one, without its
    schedules; ``thread_jobs.drain()`` waits until everything queued has run."""
    from program.jobs import ThreadRunner
    from program.jobs.runners import EXTENSION

    saved = app.extensions[EXTENSION]
    runner = ThreadRunner(app, schedules=False)
    app.extensions[EXTENSION] = runner
    try:
        yield runner
    finally:
        runner.drain(timeout=30)
        runner.stop()
        app.extensions[EXTENSION] = saved


class HeldRunner:
    """A job runner that runs nothing: it keeps what was deferred in ``items`` (a queue nobody works on)."""

    name = "held"

    def __init__(self) -> None:
        self.items: list = []

    def start(self) -> None:
        pass

    def defer(self, items) -> None:
        self.items.extend(items)

    def tasks(self, name: str) -> list[dict]:
        return [item.kwargs for item in self.items if item.task == name]


@pytest.fixture
def held_jobs(app):
    """Deferred tasks are kept, not run: ``held_jobs.items`` (or ``.tasks(name)``) shows what was queued."""
    from program.jobs.runners import EXTENSION

    saved = app.extensions[EXTENSION]
    app.extensions[EXTENSION] = runner = HeldRunner()
    try:
        yield runner
    finally:
        app.extensions[EXTENSION] = saved


# --- clients ---------------------------------------------------------------------------------


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def login(app):
    """login(user) -> a test client signed in as that user (without going through the form)."""

    def _login(user):
        db.session.commit()
        c = app.test_client()
        with c.session_transaction() as sess:
            sess["_user_id"] = user.get_id()
            sess["_fresh"] = True
        return c

    return _login


# --- query counting --------------------------------------------------------------------------


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    """with count_queries() as q: ...; q.count — every SQL statement the engine ran."""
    from contextlib import contextmanager

    @contextmanager
    def _counter():
        counter = QueryCounter()
        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)

    return _counter


# --- SMTP sink -------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MailSink:
    """An aiosmtpd server on a free 127.0.0.1 port that keeps every message it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []  # the bytes as received, parallel to ``messages``
        self._lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                raw = envelope.original_content or envelope.content
                msg = message_from_bytes(raw, policy=policy.default)
                with sink._lock:
                    sink.messages.append(msg)
                    sink.raw.append(raw)
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.raw.clear()

    def raw_to(self, address: str) -> list[bytes]:
        """The bytes received for each message to ``address`` (to check what was really sent)."""
        with self._lock:
            return [raw for m, raw in zip(self.messages, self.raw, strict=True) if address in m["To"]]

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if address in m["To"]]

    def wait_for(self, address: str, count: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(address)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"expected {count} mail(s) to {address}, got {len(self.to(address))}")

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture(scope="session")
def smtp_sink():
    sink = MailSink()
    yield sink
    sink.stop()


@pytest.fixture
def mail(app, smtp_sink):
    """Point the app's mail at the SMTP sink for this test; returns the sink (emptied)."""
    smtp_sink.clear()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_sink.port)
    yield smtp_sink
    app.config.update(MAIL_SERVER="")


def body_text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part else ""


def calendar_part(msg: EmailMessage):
    """The text/calendar alternative of a mail (or None)."""
    for part in msg.walk():
        if part.get_content_type() == "text/calendar":
            return part
    return None


def parse_ics(data: bytes | str):
    """Read an ICS with vobject — an independent parser, not the library that wrote it."""
    import vobject

    return vobject.readOne(data.decode() if isinstance(data, bytes) else data)
