"""Sign-in, throttling, sign-out, password change and reset, session hardening."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from program.accounts import signin
from program.accounts.models import PasswordResetToken, User
from program.extensions import db
from tests.conftest import body_text


def _login(client, email, password):
    return client.post("/login", data={"email": email, "password": password})


def test_login_success_redirects_to_dashboard(client, make_user):
    user = make_user(email="ann@example.com", name="Ann Example")
    db.session.commit()
    resp = _login(client, "ANN@example.com ", "correct-horse-battery")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/")
    page = client.get("/")
    assert page.status_code == 200
    assert b"Hello, Ann" in page.data
    assert user.email == "ann@example.com"


def test_login_wrong_password_keeps_email_and_says_why(client, make_user):
    make_user(email="ann@example.com")
    db.session.commit()
    resp = _login(client, "ann@example.com", "nope")
    assert resp.status_code == 422
    assert b"don&#39;t match an active account" in resp.data
    assert b'value="ann@example.com"' in resp.data


def test_unknown_email_gets_same_message(client):
    resp = _login(client, "ghost@example.com", "whatever-it-is")
    assert b"don&#39;t match an active account" in resp.data


def test_deactivated_user_cannot_sign_in(client, make_user):
    make_user(email="gone@example.com", active=False)
    db.session.commit()
    resp = _login(client, "gone@example.com", "correct-horse-battery")
    assert resp.status_code == 422
    assert client.get("/").status_code == 302


def test_throttle_after_repeated_failures(client, make_user, app, now):
    make_user(email="ann@example.com")
    db.session.commit()
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        _login(client, "ann@example.com", "wrong-password")
    resp = _login(client, "ann@example.com", "correct-horse-battery")
    assert b"Too many failed sign-in attempts" in resp.data
    assert b"Try again in 15 minutes" in resp.data
    # After the window the right password works again.
    app.config["FIXED_NOW"] = now + timedelta(minutes=16)
    resp = _login(client, "ann@example.com", "correct-horse-battery")
    assert resp.status_code == 302


def test_successful_login_resets_failure_count(app, make_user, now):
    make_user(email="ann@example.com")
    for i in range(4):
        with pytest.raises(signin.InvalidCredentials):
            signin.authenticate("ann@example.com", "bad", "1.2.3.4", now + timedelta(seconds=i))
    signin.authenticate("ann@example.com", "correct-horse-battery", "1.2.3.4", now + timedelta(seconds=10))
    for i in range(4):
        with pytest.raises(signin.InvalidCredentials):
            signin.authenticate("ann@example.com", "bad", "1.2.3.4", now + timedelta(seconds=20 + i))


def test_pages_need_sign_in(client):
    resp = client.get("/admin/people")
    assert resp.status_code == 302
    assert "/login" in resp.headers["Location"]


def test_open_redirect_is_refused(client, make_user):
    make_user(email="ann@example.com")
    db.session.commit()
    resp = client.post(
        "/login?next=https://evil.example/", data={"email": "ann@example.com", "password": "correct-horse-battery"}
    )
    assert resp.headers["Location"] == "/"


def test_logout_kills_copied_cookie(client, make_user):
    make_user(email="ann@example.com")
    db.session.commit()
    _login(client, "ann@example.com", "correct-horse-battery")
    cookie = client.get_cookie("tandem_session", domain="tandem.test").value
    assert client.post("/logout").status_code == 302
    thief = client.application.test_client()
    thief.set_cookie("tandem_session", cookie, domain="tandem.test")
    assert thief.get("/").status_code == 302  # sent to sign-in: the old cookie is dead


def test_session_cookie_flags(client, make_user):
    make_user(email="ann@example.com")
    db.session.commit()
    resp = _login(client, "ann@example.com", "correct-horse-battery")
    header = resp.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header
    assert "Secure" not in header
    https = client.application.test_client()
    resp = https.post(
        "/login", data={"email": "ann@example.com", "password": "correct-horse-battery"}, base_url="https://tandem.test"
    )
    assert "Secure" in resp.headers["Set-Cookie"]


def test_change_password(login, make_user):
    user = make_user(email="ann@example.com")
    c = login(user)
    bad = c.post(
        "/account/password",
        data={"current_password": "wrong", "new_password": "a-new-password-1", "confirm": "a-new-password-1"},
    )
    assert bad.status_code == 422 and b"current password is not correct" in bad.data
    short = c.post(
        "/account/password",
        data={"current_password": "correct-horse-battery", "new_password": "short", "confirm": "short"},
    )
    assert short.status_code == 422 and b"At least 10 characters" in short.data
    ok = c.post(
        "/account/password",
        data={
            "current_password": "correct-horse-battery",
            "new_password": "a-new-password-1",
            "confirm": "a-new-password-1",
        },
    )
    assert ok.status_code == 302
    assert c.get("/").status_code == 200  # this session lives on
    fresh = c.application.test_client()
    assert _login(fresh, "ann@example.com", "a-new-password-1").status_code == 302


def test_password_reset_flow_by_email(client, make_user, mail):
    make_user(email="ann@example.com", name="Ann")
    db.session.commit()
    resp = client.post("/forgot", data={"email": "ann@example.com"}, follow_redirects=True)
    assert resp.request.path == "/login"
    unknown = client.post("/forgot", data={"email": "nobody@example.com"}, follow_redirects=True)
    known = client.post("/forgot", data={"email": "ann@example.com"}, follow_redirects=True)
    assert unknown.data.count(b"If that address belongs") == known.data.count(b"If that address belongs") == 1
    msgs = mail.wait_for("ann@example.com", 2)
    assert mail.to("nobody@example.com") == []
    text_part = body_text(msgs[0])
    assert msgs[0].get_body(preferencelist=("html",)) is not None
    link = re.search(r"http://tandem.test(/reset/\S+)", text_part).group(1)
    form = client.get(link)
    assert form.status_code == 200
    mismatch = client.post(link, data={"new_password": "brand-new-pass-1", "confirm": "other-thing-22"})
    assert b"The two passwords differ" in mismatch.data
    done = client.post(link, data={"new_password": "brand-new-pass-1", "confirm": "brand-new-pass-1"})
    assert done.status_code == 302
    assert client.get(link).status_code == 404  # single use
    # The other link sent earlier is spent too.
    other = re.search(r"http://tandem.test(/reset/\S+)", body_text(msgs[1])).group(1)
    assert client.get(other).status_code == 404
    assert _login(client, "ann@example.com", "brand-new-pass-1").status_code == 302


def test_reset_link_expires(app, make_user, now):
    user = make_user(email="ann@example.com")
    _, raw = signin.request_password_reset("ann@example.com", now)
    db.session.commit()
    assert signin.find_reset_token(raw, now + timedelta(hours=1)).user_id == user.id
    with pytest.raises(signin.InvalidResetLink):
        signin.find_reset_token(raw, now + timedelta(hours=3))
    stored = db.session.scalar(db.select(PasswordResetToken))
    assert raw not in stored.token_hash  # only a digest is stored


def test_passwords_are_hashed(app, make_user):
    user = make_user(password="plain-text-secret")
    assert "plain-text-secret" not in user.password_hash
    assert db.session.get(User, user.id).password_hash.startswith("pbkdf2:")


def test_csrf_is_enforced(database_url, _schema, make_user):
    from tests.conftest import make_app

    app = make_app(database_url, WTF_CSRF_ENABLED=True)
    with app.app_context():
        c = app.test_client()
        resp = c.post("/login", data={"email": "a@example.com", "password": "x"})
        assert resp.status_code == 400
        assert b"security token" in resp.data
        page = c.get("/login")
        token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data).group(1).decode()
        resp = c.post("/login", data={"email": "a@example.com", "password": "x", "csrf_token": token})
        assert resp.status_code == 422  # accepted, then refused for the credentials
        db.session.remove()
        db.engine.dispose()
