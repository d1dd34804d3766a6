"""Single sign-on against a real OpenID provider (tests/oidc_provider: oidc-provider on Node, its own signing key,
its own sign-in form): no mocked token endpoint. Tandem's side is the Flask test client; the provider's side is
``requests`` following its redirects and filling its form."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import requests
from sqlalchemy import select

from program.accounts.models import User
from program.accounts.provisioning import ProvisioningEvent
from program.extensions import db
from tests.conftest import free_port
from tests.sso.conftest import PROVIDER_NAME, TANDEM
from tests.sso.oidc_provider import CLIENT_ID, with_query


def _flashes(client) -> str:
    """The text of the sign-in page the browser lands on (with its flashed messages)."""
    page = client.get("/login")
    return page.get_data(as_text=True)


def _signed_in_as(client) -> str | None:
    """The name on the dashboard's greeting, or None when the dashboard sends the browser to sign in."""
    response = client.get("/")
    if response.status_code != 200:
        return None
    match = re.search(r"Hello, ([^<!]+)", response.get_data(as_text=True))
    return match.group(1).strip() if match else ""


def _events(action: str | None = None) -> list[ProvisioningEvent]:
    stmt = select(ProvisioningEvent).order_by(ProvisioningEvent.id)
    if action:
        stmt = stmt.where(ProvisioningEvent.action == action)
    return list(db.session.scalars(stmt))


# --- matching people ----------------------------------------------------------------------------


def test_first_sign_in_by_verified_email_stores_the_sub(sso, client, make, oidc_provider):
    user = make.user(email="ann@example.com", name="Ann Example")
    db.session.commit()
    sub = oidc_provider.add_user(email="Ann@Example.com")

    response = sso.sign_in(client, sub)

    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] == "/"
    assert _signed_in_as(client) == "Ann"
    db.session.refresh(user)
    assert user.oidc_sub == sub
    # The same session as the password form: the cookie carries the session token, the sign-in time is kept.
    with client.session_transaction() as sess:
        assert sess["_user_id"] == f"{user.id}:{user.session_token}"
        assert abs(sess["signed_in_at"] - datetime.now(UTC).timestamp()) < 60
    [linked] = _events("linked")
    assert linked.actor == f"sso:{oidc_provider.issuer}"
    assert (linked.before["oidc_sub"], linked.after["oidc_sub"]) == (None, sub)


def test_second_sign_in_matches_by_sub_even_after_the_email_changed(sso, client, make, oidc_provider, app):
    user = make.user(email="ann@example.com", name="Ann Example")
    db.session.commit()
    sub = oidc_provider.add_user(email="ann@example.com")
    assert sso.sign_in(client, sub).status_code == 302

    # Ann marries and her address changes at the provider; Tandem has no one with the new address.
    oidc_provider.add_user(sub=sub, email="ann.smith@example.com", name="Ann Smith")
    other = app.test_client()
    response = sso.sign_in(other, sub, path="/sso/login?next=/account/password")

    assert response.status_code == 302
    assert response.headers["Location"] == "/account/password"
    assert _signed_in_as(other) == "Ann"
    assert db.session.scalar(select(User).where(User.email == "ann.smith@example.com")) is None
    db.session.refresh(user)
    assert user.email == "ann@example.com"


def test_an_unverified_email_is_never_used_to_match(sso, client, make, oidc_provider):
    user = make.user(email="ann@example.com")
    db.session.commit()
    sub = oidc_provider.add_user(email="ann@example.com", email_verified=False)

    response = sso.sign_in(client, sub)

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert "has not verified your email address ann@example.com" in _flashes(client)
    assert _signed_in_as(client) is None
    db.session.refresh(user)
    assert user.oidc_sub is None


def test_a_deactivated_person_is_refused_by_sub_and_by_email(sso, client, make, oidc_provider, app):
    linked = make.user(email="gone@example.com", active=False)
    linked_sub = oidc_provider.add_user(email="gone@example.com")
    linked.oidc_sub = linked_sub
    make.user(email="left@example.com", active=False)
    db.session.commit()
    left_sub = oidc_provider.add_user(email="left@example.com")

    for sub in (linked_sub, left_sub):
        browser_client = app.test_client()
        response = sso.sign_in(browser_client, sub)
        assert urlsplit(response.headers["Location"]).path == "/login"
        assert "Your Tandem account is deactivated" in _flashes(browser_client)
        assert _signed_in_as(browser_client) is None
    assert db.session.scalar(select(User.oidc_sub).where(User.email == "left@example.com")) is None


def test_an_unknown_person_is_refused_without_just_in_time_creation(sso, client, oidc_provider):
    sub = oidc_provider.add_user(email="new.joiner@example.com")

    response = sso.sign_in(client, sub)

    assert urlsplit(response.headers["Location"]).path == "/login"
    assert "There is no Tandem account for new.joiner@example.com" in _flashes(client)
    assert db.session.scalar(select(User).where(User.email == "new.joiner@example.com")) is None
    assert _events() == []


# --- just-in-time creation ----------------------------------------------------------------------


def _jit(app) -> None:
    app.config.update(
        OIDC_JIT=True,
        OIDC_ALLOWED_DOMAINS="example.com, example.org",
        OIDC_GROUPS_CLAIM="groups",
        OIDC_ROLE_MAP="tandem-admins=admin,tandem-hr=hr",
        OIDC_DEPARTMENT_CLAIM="department",
    )


def test_just_in_time_creation_maps_role_and_department_and_is_logged(sso, client, make, oidc_provider, sso_app):
    _jit(sso_app)
    make.department("Marketing")
    db.session.commit()
    sub = oidc_provider.add_user(
        email="Hana.Ito@example.org", name="Hana Ito", groups=["everyone", "tandem-hr"], department="marketing"
    )

    response = sso.sign_in(client, sub)

    assert response.headers["Location"] == "/"
    assert _signed_in_as(client) == "Hana"
    person = db.session.scalar(select(User).where(User.email == "hana.ito@example.org"))
    assert (person.name, person.role, person.department.name) == ("Hana Ito", "hr", "Marketing")
    assert person.oidc_sub == sub and person.active and person.password_hash is None
    [event] = _events()
    assert (event.actor, event.action, event.resource_type, event.resource_id) == (
        f"sso:{oidc_provider.issuer}",
        "created",
        "User",
        str(person.id),
    )
    assert event.before == {}
    assert event.after["email"] == "hana.ito@example.org" and event.after["role"] == "hr"
    assert event.after["department"] == "Marketing"


def test_just_in_time_creation_is_refused_for_a_foreign_domain(sso, client, oidc_provider, sso_app):
    _jit(sso_app)
    sub = oidc_provider.add_user(email="mallory@rival-corp.com", groups=["tandem-admins"])

    response = sso.sign_in(client, sub)

    assert urlsplit(response.headers["Location"]).path == "/login"
    page = _flashes(client)
    assert "people from rival-corp.com are not added automatically" in page
    assert db.session.scalar(select(User).where(User.email == "mallory@rival-corp.com")) is None
    assert _events() == []
    assert _signed_in_as(client) is None


# --- the flow's protections ---------------------------------------------------------------------


def test_the_authorization_request_carries_pkce_state_and_nonce(sso, client):
    query = parse_qs(urlsplit(sso.start(client)).query)

    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43  # base64url of a SHA-256
    assert len(query["state"][0]) >= 20 and len(query["nonce"][0]) >= 20
    assert query["redirect_uri"] == [f"{TANDEM}/sso/callback"]
    assert query["scope"] == ["openid email profile groups"]
    # What the callback checks against stays in this browser's session, never in the URL.
    with client.session_transaction() as sess:
        data = sess[f"_state_oidc_{query['state'][0]}"]["data"]
    assert data["nonce"] == query["nonce"][0]
    assert data["code_verifier"] not in str(query)


def test_a_tampered_state_is_refused(sso, client, make, oidc_provider):
    user = make.user(email="ann@example.com")
    db.session.commit()
    sub = oidc_provider.add_user(email="ann@example.com")
    callback = sso.at_provider(sso.start(client), sub)

    response = client.get(with_query(callback, state="forged-" + parse_qs(urlsplit(callback).query)["state"][0]))

    assert urlsplit(response.headers["Location"]).path == "/login"
    assert "could not be matched to one started in this browser" in _flashes(client)
    assert _signed_in_as(client) is None
    db.session.refresh(user)
    assert user.oidc_sub is None


def test_a_callback_from_another_browser_is_refused(sso, client, make, oidc_provider, app):
    """Login CSRF: a callback (with a valid code and state) sent to someone else's browser signs nobody in."""
    make.user(email="ann@example.com")
    db.session.commit()
    sub = oidc_provider.add_user(email="ann@example.com")
    callback = sso.at_provider(sso.start(client), sub)

    victim = app.test_client()
    response = victim.get(callback)

    assert urlsplit(response.headers["Location"]).path == "/login"
    assert _signed_in_as(victim) is None


def test_a_wrong_nonce_in_the_id_token_is_refused(sso, client, make, oidc_provider):
    make.user(email="ann@example.com")
    db.session.commit()
    sub = oidc_provider.add_user(email="ann@example.com")
    callback = sso.at_provider(sso.start(client), sub)
    # The ID token carries the nonce Tandem sent; make Tandem expect another one.
    with client.session_transaction() as sess:
        [key] = [k for k in sess if k.startswith("_state_oidc_")]
        entry = dict(sess[key])
        entry["data"] = {**entry["data"], "nonce": "not-the-nonce-that-was-sent"}
        sess[key] = entry

    response = client.get(callback)

    assert urlsplit(response.headers["Location"]).path == "/login"
    assert "could not be verified, so it was refused" in _flashes(client)
    assert _signed_in_as(client) is None


def test_an_expired_id_token_is_refused(sso, client, make, oidc_provider, sso_app):
    make.user(email="ann@example.com")
    db.session.commit()
    sub = oidc_provider.add_user(email="ann@example.com")
    callback = sso.at_provider(sso.start(client), sub)
    # Tandem's clock reaches the callback 61 s after the ID token expired: more than the 30 s allowed for clock
    # skew (Authlib's own default, 120 s, would still have accepted it).
    issued_by = datetime.now(UTC)
    sso_app.config["FIXED_NOW"] = issued_by + timedelta(seconds=oidc_provider.id_token_ttl + 61)

    response = client.get(callback)

    assert urlsplit(response.headers["Location"]).path == "/login"
    assert "had expired when it reached Tandem" in _flashes(client)
    assert _signed_in_as(client) is None


def test_an_id_token_within_the_allowed_clock_skew_is_accepted(sso, client, make, oidc_provider, sso_app):
    make.user(email="ann@example.com", name="Ann Example")
    db.session.commit()
    sub = oidc_provider.add_user(email="ann@example.com")
    started = datetime.now(UTC)
    callback = sso.at_provider(sso.start(client), sub)
    # 25 s past the token's expiry at most (it was issued after ``started``): inside the 30 s allowed.
    sso_app.config["FIXED_NOW"] = started + timedelta(seconds=oidc_provider.id_token_ttl + 25)

    response = client.get(callback)

    assert response.headers["Location"] == "/"
    sso_app.config["FIXED_NOW"] = None
    assert _signed_in_as(client) == "Ann"


def test_the_person_cancelling_at_the_provider_is_told_so(sso, client, oidc_provider):
    browser = sso.browser()
    page = browser.open(sso.start(client))
    callback = browser.follow(browser.session.get(page.url + "/abort", allow_redirects=False, timeout=10))
    assert isinstance(callback, str) and "error=access_denied" in callback

    response = client.get(callback)

    assert urlsplit(response.headers["Location"]).path == "/login"
    assert f"{PROVIDER_NAME} did not sign you in: End-User aborted interaction" in _flashes(client)


def test_a_provider_that_cannot_be_reached_gives_a_message_not_an_error(sso_app, client):
    sso_app.config.update(
        OIDC_DISCOVERY_URL=f"http://127.0.0.1:{free_port()}/.well-known/openid-configuration",
        OIDC_TIMEOUT_SECONDS=2,
    )

    response = client.get("/sso/login")

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert f"{PROVIDER_NAME} could not be reached" in _flashes(client)


def test_a_provider_gone_at_the_callback_gives_a_message_not_an_error(sso, sso_app, client, make, oidc_provider):
    make.user(email="ann@example.com")
    db.session.commit()
    sub = oidc_provider.add_user(email="ann@example.com")
    callback = sso.at_provider(sso.start(client), sub)
    # Tandem now finds nothing where the provider was (its discovery document and token endpoint are gone).
    sso_app.config.update(
        OIDC_DISCOVERY_URL=f"http://127.0.0.1:{free_port()}/.well-known/openid-configuration",
        OIDC_TIMEOUT_SECONDS=2,
    )

    response = client.get(callback)

    assert urlsplit(response.headers["Location"]).path == "/login"
    assert f"{PROVIDER_NAME} could not be reached" in _flashes(client)
    assert _signed_in_as(client) is None


# --- the sign-in page and password sign-in ------------------------------------------------------


def test_the_sign_in_page_offers_the_provider_only_when_configured(app, client, sso_app):
    page = client.get("/login?next=/account/password").get_data(as_text=True)
    assert f"Sign in with {PROVIDER_NAME}" in page
    assert 'href="/sso/login?next=/account/password"' in page
    assert 'name="password"' in page

    sso_app.config["OIDC_DISCOVERY_URL"] = ""
    page = client.get("/login").get_data(as_text=True)
    assert "Sign in with" not in page
    assert 'name="password"' in page
    assert client.get("/sso/login").status_code == 404


def test_with_password_sign_in_off_only_break_glass_admins_use_a_password(sso_app, app, make):
    sso_app.config.update(PASSWORD_LOGIN=False, BREAK_GLASS_EMAILS="root@example.com, other@example.com")
    make.user(email="rep@example.com")
    make.user(role="admin", email="root@example.com", name="Root Admin")
    db.session.commit()
    client = app.test_client()

    page = client.get("/login").get_data(as_text=True)
    assert f"Sign in with {PROVIDER_NAME}" in page
    assert 'name="password"' not in page and "Forgot your password?" not in page
    assert 'name="password"' in client.get("/login?break_glass=1").get_data(as_text=True)

    refused = client.post("/login", data={"email": "rep@example.com", "password": "correct-horse-battery"})
    assert refused.status_code == 422
    assert f"Password sign-in is turned off: use “Sign in with {PROVIDER_NAME}”." in refused.get_data(as_text=True)
    assert _signed_in_as(client) is None

    forgot = client.post("/forgot", data={"email": "rep@example.com"})
    assert forgot.status_code == 422
    assert "There is no password to reset." in forgot.get_data(as_text=True)

    allowed = client.post("/login", data={"email": "ROOT@example.com", "password": "correct-horse-battery"})
    assert allowed.status_code == 302
    assert _signed_in_as(client) == "Root"
    assert app.test_client().post("/forgot", data={"email": "root@example.com"}).status_code == 302


# --- sign-out -----------------------------------------------------------------------------------


def test_sign_out_ends_the_session_and_signs_out_at_the_provider(sso, client, make, oidc_provider, app):
    user = make.user(email="ann@example.com", name="Ann Example")
    db.session.commit()
    sub = oidc_provider.add_user(email="ann@example.com")
    browser = sso.browser()
    assert sso.sign_in(client, sub, browser=browser).headers["Location"] == "/"
    old_cookie = client.get_cookie("tandem_session", domain="tandem.test").value
    old_token = user.session_token

    response = client.post("/logout")

    # Tandem's session is over: the token in the old cookie is rotated, so a copy of it opens nothing.
    db.session.refresh(user)
    assert user.session_token != old_token
    copy = app.test_client()
    copy.set_cookie("tandem_session", old_cookie, domain="tandem.test")
    assert copy.get("/").status_code == 302
    assert _signed_in_as(client) is None
    # …and the browser goes on to the provider's end-session endpoint, with the ID token as the hint (through a page
    # that moves on by itself: the form-action policy would block a redirect straight from the sign-out form).
    assert response.headers["Location"] == "/sso/signed-out"
    leaving = client.get("/sso/signed-out")
    assert leaving.status_code == 200
    assert "You are signed out." in leaving.get_data(as_text=True)
    end_session = requests.get(oidc_provider.discovery_url, timeout=5).json()["end_session_endpoint"]
    refresh, _, location = leaving.headers["Refresh"].partition("; url=")
    assert refresh == "0"
    assert location.startswith(end_session + "?")
    assert f'href="{location.replace("&", "&amp;")}"' in leaving.get_data(as_text=True)
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert query["post_logout_redirect_uri"] == f"{TANDEM}/login"
    assert query["client_id"] == CLIENT_ID
    assert query["id_token_hint"].count(".") == 2
    assert client.get("/sso/signed-out").headers["Location"] == "/login"  # once only
    # The provider accepts it, asks, signs out and sends the browser back to Tandem's sign-in page.
    page = browser.open(location)
    assert page.status_code == 200 and "Sign out of the test provider?" in page.text
    back = browser.submit(page, logout="yes")
    assert isinstance(back, str) and back.startswith(f"{TANDEM}/login")
    assert "You are signed out." in client.get(back).get_data(as_text=True)
    # Signed out there too: the next sign-in asks for the provider's form again.
    assert 'name="login"' in browser.open(sso.start(app.test_client())).text


def test_sign_out_stays_in_tandem_when_provider_logout_is_off(sso, client, make, oidc_provider, sso_app):
    sso_app.config["OIDC_LOGOUT"] = False
    make.user(email="ann@example.com")
    db.session.commit()
    sub = oidc_provider.add_user(email="ann@example.com")
    assert sso.sign_in(client, sub).headers["Location"] == "/"

    response = client.post("/logout")

    assert response.headers["Location"] == "/login"
    assert _signed_in_as(client) is None


def test_a_password_sign_in_does_not_inherit_an_earlier_single_sign_on_sign_out(sso, client, make, oidc_provider):
    make.user(email="ann@example.com")
    make.user(email="ben@example.com")
    db.session.commit()
    sub = oidc_provider.add_user(email="ann@example.com")
    assert sso.sign_in(client, sub).headers["Location"] == "/"
    assert client.post("/logout").headers["Location"] == "/sso/signed-out"
    assert sso.sign_in(client, sub).headers["Location"] == "/"
    with client.session_transaction() as sess:  # Ann's session lapses, as after SESSION_MAX_DAYS
        sess.pop("_user_id")

    assert (
        client.post("/login", data={"email": "ben@example.com", "password": "correct-horse-battery"}).status_code == 302
    )
    assert client.post("/logout").headers["Location"] == "/login"
