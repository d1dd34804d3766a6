"""Issue 10 hardening of accounts: reset requests throttled and answered in the same time for any address;
sign-in throttled per address (a growing wait, lifted by a reset) and per client (a lock), counted
atomically; the error page survives a database error; a session ends after SESSION_MAX_DAYS however active."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

import pytest
from flask_login import current_user
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from program.accounts import signin
from program.accounts.models import Department, LoginAttempt
from program.extensions import db
from tests.conftest import body_text, free_port, make_app

PASSWORD = "correct-horse-battery"


def _forgot(client, email: str, ip: str = "192.0.2.1"):
    return client.post("/forgot", data={"email": email}, environ_base={"REMOTE_ADDR": ip})


def _sign_in(client, email: str, password: str, ip: str = "192.0.2.1"):
    return client.post("/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": ip})


def _reset_link(mail_message) -> str:
    import re

    return re.search(r"http://tandem\.test(/reset/\S+)", body_text(mail_message)).group(1)


# --- 5. /forgot: throttled per address and per client, same answer and time for any address -------------


def test_reset_requests_for_one_address_are_throttled(client, make_user, mail, app):
    make_user(email="ann@example.com")
    db.session.commit()
    limit = app.config["PASSWORD_RESET_MAX_PER_ADDRESS"]
    answers = [_forgot(client, "ann@example.com", ip=f"10.0.0.{i}") for i in range(limit + 4)]
    assert [a.status_code for a in answers[:limit]] == [302] * limit
    for refused in answers[limit:]:
        assert refused.status_code == 429
        assert b"Too many reset requests for this address" in refused.data
        assert b"try again in 60 minutes" in refused.data
    assert len(mail.wait_for("ann@example.com", limit)) == limit
    assert len(mail.to("ann@example.com")) == limit  # not one more than the limit

    # An address without an account gets exactly the same answers: the throttle tells nothing.
    other = app.test_client()
    ghost = [_forgot(other, "ghost@example.com", ip=f"10.0.1.{i}") for i in range(limit + 1)]
    assert [g.status_code for g in ghost] == [302] * limit + [429]
    assert ghost[-1].data == answers[limit].data.replace(b"ann@example.com", b"ghost@example.com")
    # An hour later the address may ask again.
    app.config["FIXED_NOW"] = app.config["FIXED_NOW"] + timedelta(minutes=61)
    assert _forgot(client, "ann@example.com", ip="10.0.2.1").status_code == 302


def test_reset_requests_from_one_client_are_throttled(client, make_user, mail, app):
    make_user(email="ann@example.com")
    db.session.commit()
    limit = app.config["PASSWORD_RESET_MAX_PER_CLIENT"]
    answers = [_forgot(client, f"someone{i}@example.com", ip="203.0.113.7") for i in range(limit)]
    assert all(a.status_code == 302 for a in answers)
    refused = _forgot(client, "ann@example.com", ip="203.0.113.7")
    assert refused.status_code == 429
    assert b"Too many reset requests from your connection" in refused.data
    assert b'value="ann@example.com"' in refused.data  # what was typed stays in the field
    assert mail.to("ann@example.com") == []
    # Another client is not affected.
    assert _forgot(client, "ann@example.com", ip="198.51.100.2").status_code == 302
    assert len(mail.wait_for("ann@example.com", 1)) == 1


class _SlowSmtp:
    """An SMTP server that takes `delay` seconds to accept each message, like a slow relay."""

    def __init__(self, delay: float) -> None:
        from aiosmtpd.controller import Controller

        self.received: list[str] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                await asyncio.sleep(delay)
                outer.received.extend(envelope.rcpt_tos)
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()


def test_forgot_answers_as_fast_for_a_known_address_as_for_an_unknown_one(client, make_user, app, thread_jobs):
    """On the embedded job runner (as `make run` serves): the lookup and the mail are tasks."""
    make_user(email="ann@example.com")
    db.session.commit()
    smtp = _SlowSmtp(delay=3.0)
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port)
    try:
        timings = {}
        answers = {}
        for email in ("ghost@example.com", "ann@example.com"):
            started = time.perf_counter()
            answers[email] = _forgot(client, email)
            timings[email] = time.perf_counter() - started
        assert answers["ann@example.com"].status_code == answers["ghost@example.com"].status_code == 302
        assert answers["ann@example.com"].location == answers["ghost@example.com"].location
        # The mail server takes 3 s; the reply for a real account must not wait for it.
        assert timings["ann@example.com"] < 1.5, timings
        assert timings["ghost@example.com"] < 1.5, timings
        deadline = time.monotonic() + 15
        while not smtp.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert thread_jobs.drain()
        assert smtp.received == ["ann@example.com"]  # the link still goes out, off the request path
    finally:
        smtp.controller.stop()


# --- 7. sign-in: a growing wait per address (lifted by a reset), a lock per client, counted atomically ----


def test_an_attacker_cannot_keep_an_account_locked(client, make_user, app, now):
    make_user(email="ann@example.com")
    db.session.commit()
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert _sign_in(client, "ann@example.com", "guess-guess", ip="203.0.113.9").status_code == 422
    # Ann, on her own connection a minute later, signs in with her password.
    app.config["FIXED_NOW"] = now + timedelta(minutes=1)
    victim = app.test_client()
    assert _sign_in(victim, "ann@example.com", PASSWORD, ip="198.51.100.7").status_code == 302


def test_failures_for_an_address_make_each_further_attempt_wait_longer(app, make_user, now):
    make_user(email="ann@example.com")
    limit = app.config["LOGIN_MAX_FAILURES"]
    for i in range(limit):  # from many clients, so no client lock plays a part
        with pytest.raises(signin.InvalidCredentials):
            signin.authenticate("ann@example.com", "guess", f"10.1.0.{i}", now)
    cap = app.config["LOGIN_LOCK_MINUTES"] * 60
    at = now
    for i, wait in enumerate([30, 60, 120, 240, 480, cap, cap]):  # doubling, up to LOGIN_LOCK_MINUTES
        with pytest.raises(signin.LoginThrottled) as refused:
            signin.authenticate("ann@example.com", PASSWORD, f"10.1.1.{i}", at)  # even the right password waits
        assert "for this address" in refused.value.message and "reset your password" in refused.value.message
        with pytest.raises(signin.LoginThrottled):
            signin.authenticate("ann@example.com", "guess", f"10.1.2.{i}", at + timedelta(seconds=wait - 1))
        at += timedelta(seconds=wait)
        with pytest.raises(signin.InvalidCredentials):  # allowed again, and wrong again
            signin.authenticate("ann@example.com", "guess", f"10.1.3.{i}", at)
    with pytest.raises(signin.LoginThrottled) as refused:
        signin.authenticate("ann@example.com", PASSWORD, "10.1.3.1", at + timedelta(seconds=cap - 60))
    assert "Try again in 1 minute," in refused.value.message
    assert (
        signin.authenticate("ann@example.com", PASSWORD, "10.1.3.1", at + timedelta(seconds=cap)).email
        == "ann@example.com"
    )


def test_the_first_wait_is_named_in_seconds(client, make_user, app):
    make_user(email="ann@example.com")
    db.session.commit()
    for i in range(app.config["LOGIN_MAX_FAILURES"]):
        _sign_in(client, "ann@example.com", "guess-guess", ip=f"10.3.0.{i}")
    refused = _sign_in(client, "ann@example.com", PASSWORD, ip="10.3.1.1")
    assert refused.status_code == 429
    assert b"Too many failed sign-in attempts for this address. Try again in 30 seconds" in refused.data


def test_a_password_reset_lifts_the_wait_for_the_address(client, make_user, app, now, mail):
    make_user(email="ann@example.com")
    db.session.commit()
    for i in range(app.config["LOGIN_MAX_FAILURES"] + 5):  # many clients drive the wait up to its longest
        app.config["FIXED_NOW"] = now + timedelta(minutes=20 * i)
        _sign_in(client, "ann@example.com", "guess-guess", ip=f"10.4.0.{i}")
    refused = _sign_in(client, "ann@example.com", PASSWORD, ip="198.51.100.7")
    assert b"reset your password" in refused.data

    assert _forgot(client, "ann@example.com", ip="198.51.100.7").status_code == 302
    link = _reset_link(mail.wait_for("ann@example.com")[0])
    done = client.post(
        link,
        data={"new_password": "brand-new-pass-1", "confirm": "brand-new-pass-1"},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert done.status_code == 302
    assert _sign_in(client, "ann@example.com", "brand-new-pass-1", ip="198.51.100.7").status_code == 302
    assert refused.status_code == 429


def test_a_client_is_locked_after_failures_across_addresses(client, make_user, app, now):
    make_user(email="ann@example.com")
    db.session.commit()
    limit = app.config["LOGIN_MAX_FAILURES"]
    for i in range(limit):
        assert _sign_in(client, f"target{i}@example.com", "guess-guess", ip="203.0.113.50").status_code == 422
    refused = _sign_in(client, "ann@example.com", PASSWORD, ip="203.0.113.50")
    assert refused.status_code == 429
    assert b"Too many failed sign-in attempts from your connection. Try again in 15 minutes" in refused.data
    # Other clients are not affected, and the lock ends after LOGIN_LOCK_MINUTES.
    assert _sign_in(app.test_client(), "ann@example.com", PASSWORD, ip="198.51.100.7").status_code == 302
    app.config["FIXED_NOW"] = now + timedelta(minutes=app.config["LOGIN_LOCK_MINUTES"])
    assert _sign_in(app.test_client(), "ann@example.com", PASSWORD, ip="203.0.113.50").status_code == 302


def test_signing_in_to_ones_own_account_does_not_forgive_guesses_at_others(app, make_user, now):
    make_user(email="mallory@example.com")
    make_user(email="victim@example.com")
    ip = "203.0.113.66"
    for i in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        with pytest.raises(signin.InvalidCredentials):
            signin.authenticate("victim@example.com", f"guess-{i}", ip, now + timedelta(seconds=i))
    signin.authenticate("mallory@example.com", PASSWORD, ip, now + timedelta(seconds=10))
    with pytest.raises(signin.InvalidCredentials):
        signin.authenticate("other@example.com", "guess", ip, now + timedelta(seconds=11))
    with pytest.raises(signin.LoginThrottled):
        signin.authenticate("third@example.com", "guess", ip, now + timedelta(seconds=12))


def test_a_reset_lifts_the_lock_of_the_client_that_mistyped(client, make_user, app, mail):
    make_user(email="ann@example.com")
    db.session.commit()
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        _sign_in(client, "ann@example.com", "what-was-it", ip="198.51.100.8")
    assert _sign_in(client, "ann@example.com", PASSWORD, ip="198.51.100.8").status_code == 429
    _forgot(client, "ann@example.com", ip="198.51.100.8")
    link = _reset_link(mail.wait_for("ann@example.com")[0])
    client.post(
        link,
        data={"new_password": "brand-new-pass-1", "confirm": "brand-new-pass-1"},
        environ_base={"REMOTE_ADDR": "198.51.100.8"},
    )
    assert _sign_in(client, "ann@example.com", "brand-new-pass-1", ip="198.51.100.8").status_code == 302
    kinds = db.session.scalars(db.select(LoginAttempt.kind).where(LoginAttempt.success.is_(True))).all()
    assert sorted(kinds) == ["reset", "sign_in"]


def _burst(database_url: str, attempts: list[tuple[str, str]], now) -> tuple[list[str], list[str]]:
    """Fire sign-in attempts at the same moment, each in its own thread, app context and connection."""
    app = make_app(database_url, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": len(attempts) + 2, "max_overflow": 0})
    barrier = threading.Barrier(len(attempts))
    outcomes: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker(email: str, ip: str) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                try:
                    signin.authenticate(email, "wrong-password", ip, now)
                    outcome = "signed in"
                except signin.InvalidCredentials:
                    outcome = "checked"
                except signin.LoginThrottled:
                    outcome = "throttled"
                db.session.commit()
                with lock:
                    outcomes.append(outcome)
            except Exception as exc:  # noqa: BLE001 — every failure is a finding
                db.session.rollback()
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=a) for a in attempts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    with app.app_context():
        db.engine.dispose()
    return outcomes, errors


@pytest.fixture
def slow_hash(monkeypatch):
    """Checking a password takes 0.2 s (scrypt in production is slow too), so a race has room to show."""
    real = signin.check_password_hash

    def slow(pwhash: str, password: str) -> bool:
        time.sleep(0.2)
        return real(pwhash, password)

    monkeypatch.setattr(signin, "check_password_hash", slow)


@pytest.mark.postgres_only
def test_a_parallel_burst_checks_no_more_passwords_than_the_limit(make, app, now, database_url, pg_required, slow_hash):
    make.user(email="ann@example.com")
    db.session.commit()
    limit = app.config["LOGIN_MAX_FAILURES"]
    # One address from eight clients, then eight addresses from one client.
    outcomes, errors = _burst(database_url, [("ann@example.com", f"10.5.0.{i}") for i in range(8)], now)
    assert errors == []
    print(f"8 parallel attempts at one address: {outcomes.count('checked')} checked")
    assert sorted(outcomes) == ["checked"] * limit + ["throttled"] * (8 - limit)
    outcomes, errors = _burst(database_url, [(f"t{i}@example.com", "203.0.113.77") for i in range(8)], now)
    assert errors == []
    print(f"8 parallel attempts from one client: {outcomes.count('checked')} checked")
    assert sorted(outcomes) == ["checked"] * limit + ["throttled"] * (8 - limit)
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count(LoginAttempt.id))) == 2 * limit


@pytest.mark.postgres_only
def test_the_burst_test_catches_an_unlocked_counter(make, app, now, database_url, pg_required, slow_hash, monkeypatch):
    make.user(email="ann@example.com")
    db.session.commit()
    monkeypatch.setattr(signin, "_lock_throttle_keys", lambda *keys, now: None)  # count without the row lock
    outcomes, errors = _burst(database_url, [("ann@example.com", f"10.6.0.{i}") for i in range(8)], now)
    assert errors == []
    print(f"unlocked counter: {outcomes.count('checked')} of 8 checked")
    assert outcomes.count("checked") > app.config["LOGIN_MAX_FAILURES"]


# --- 9. the error page after a database error ------------------------------------------------------


@pytest.fixture
def fragile_app(database_url, _schema, app):
    """A fresh app (routes can only be added before its first request) with routes that break the database,
    and with exceptions handled as in production (no propagation to the test)."""
    fresh = make_app(database_url, PROPAGATE_EXCEPTIONS=False)
    state = {"down": False}

    @fresh.route("/_test/failed-flush")
    def failed_flush():
        db.session.add(Department(name="Twin"))
        db.session.add(Department(name="Twin"))
        db.session.flush()  # IntegrityError: the session now needs a rollback
        return "unreachable"

    @fresh.route("/_test/broken-query")
    def broken_query():
        db.session.execute(text("SELECT no_such_column FROM no_such_table"))
        return "unreachable"

    @fresh.before_request
    def database_up():
        state["down"] = False
        db.session.expire_all()  # as in production, where each request starts with a new session

    @fresh.route("/_test/database-down-early")
    def database_down_early():
        state["down"] = True  # before anything read the signed-in user
        db.session.execute(text("SELECT 1"))
        return "unreachable"

    @fresh.route("/_test/database-down")
    def database_down():
        assert current_user.is_authenticated in (True, False)  # the signed-in user is read before the outage
        state["down"] = True
        db.session.execute(text("SELECT 1"))
        return "unreachable"

    with fresh.app_context():

        def refuse(conn, cursor, statement, parameters, context, executemany):
            if state["down"]:
                raise OperationalError(statement, parameters, Exception("the database server went away"))

        event.listen(db.engine, "before_cursor_execute", refuse)
        try:
            yield fresh
        finally:
            state["down"] = False
            event.remove(db.engine, "before_cursor_execute", refuse)
            db.session.remove()
            db.engine.dispose()


def _signed_in_client(app_, user):
    c = app_.test_client()
    with c.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
        sess["_fresh"] = True
    return c


@pytest.mark.parametrize(
    "path", ["/_test/failed-flush", "/_test/broken-query", "/_test/database-down-early", "/_test/database-down"]
)
def test_a_database_error_gets_the_apps_own_error_page(fragile_app, make_user, path):
    user = make_user(email="ann@example.com", name="Ann Example")
    db.session.commit()
    for c in (fragile_app.test_client(), _signed_in_client(fragile_app, user)):
        resp = c.get(path)
        assert resp.status_code == 500
        assert b"Something went wrong" in resp.data and b"Error 500" in resp.data
        assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
        assert resp.headers["X-Frame-Options"] == "DENY"


def test_the_error_page_keeps_the_signed_in_layout_when_the_database_answers(fragile_app, make_user):
    user = make_user(email="ann@example.com", name="Ann Example")
    db.session.commit()
    resp = _signed_in_client(fragile_app, user).get("/_test/failed-flush")
    assert resp.status_code == 500
    assert b"Ann Example" in resp.data  # the user was read again after the rollback


# --- 12. an absolute session lifetime on top of the idle timeout ---------------------------------------


def test_an_active_session_ends_after_seven_days(client, make_user, app, now):
    make_user(email="ann@example.com")
    db.session.commit()
    assert _sign_in(client, "ann@example.com", PASSWORD).status_code == 302
    ended_at = None
    for hour in range(1, 8 * 24 + 1):  # busy every hour, day and night
        app.config["FIXED_NOW"] = now + timedelta(hours=hour)
        resp = client.get("/account/password")
        if resp.status_code != 200:
            ended_at = hour
            break
    assert ended_at == 7 * 24  # the first hour of day 8
    assert resp.status_code == 302 and "/login" in resp.location
    page = client.get(resp.location)
    assert b"You have been signed in for 7 days" in page.data and b"Please sign in again" in page.data
    assert client.get("/account/password").status_code == 302  # still signed out
    assert _sign_in(client, "ann@example.com", PASSWORD).status_code == 302
    assert client.get("/account/password").status_code == 200  # a new sign-in starts a new week
    assert app.config["SESSION_MAX_DAYS"] == 7  # the default


def test_a_copied_cookie_dies_with_its_session(client, make_user, app, now):
    make_user(email="ann@example.com")
    db.session.commit()
    app.config["SESSION_MAX_DAYS"] = 1
    _sign_in(client, "ann@example.com", PASSWORD)
    cookie = client.get_cookie("tandem_session", domain="tandem.test").value
    app.config["FIXED_NOW"] = now + timedelta(hours=25)
    thief = app.test_client()
    thief.set_cookie("tandem_session", cookie, domain="tandem.test")
    assert thief.get("/account/password").status_code == 302


def test_sign_in_records_are_purged_after_a_week(app, make, now):
    from datetime import timedelta

    from program import jobs
    from program.accounts.models import LoginAttempt, PasswordResetRequest, ThrottleKey
    from program.extensions import db

    for age in (timedelta(days=8), timedelta(hours=1)):
        db.session.add(LoginAttempt(email="x@example.com", ip="10.0.0.1", success=False, at=now - age))
        db.session.add(PasswordResetRequest(email="x@example.com", ip="10.0.0.1", at=now - age))
        db.session.add(ThrottleKey(scope="address", key=f"x{age.days}@example.com", touched_at=now - age))
    db.session.commit()
    results = dict(jobs.run_all(now))
    assert results["sign-in records purged (older than a week)"] == 3
    for model in (LoginAttempt, PasswordResetRequest, ThrottleKey):
        assert db.session.scalar(db.select(db.func.count()).select_from(model)) == 1  # the recent one stays
    assert dict(jobs.run_all(now))["sign-in records purged (older than a week)"] == 0
