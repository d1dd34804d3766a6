"""Single sign-on in a real browser: Chromium signs in at a real OpenID provider (tests/oidc_provider, on Node)
through its own sign-in form and comes back signed in to Tandem, signs out of both, and is refused — with a message
on the sign-in page — for a foreign domain, a tampered state and an expired ID token.

Its own live servers (gunicorn over a migrated SQLite file) with the OIDC settings: the shared ``live_server`` stays
as it is.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.conftest import free_port
from tests.e2e.conftest import PROJECT_ROOT, STARTUP_TIMEOUT, _flask_cli, _healthy, _stop
from tests.sso.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider, start_provider, with_query

PROVIDER_NAME = "Test IdP"
PEOPLE = [
    # Riley Patel is in the demo company (staff, Sales); the provider knows her by her sub.
    {"sub": "e2e-riley", "email": "rep@example.com", "email_verified": True, "name": "Riley Patel"},
    {"sub": "e2e-outsider", "email": "visitor@rival-corp.com", "email_verified": True, "name": "Vic Visitor"},
]


@dataclass
class SSOServer:
    url: str
    provider: OidcProvider


def _serve(tmp, provider: OidcProvider, port: int, *, seed: bool, extra_env: dict[str, str]) -> subprocess.Popen:
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "SECRET_KEY": "e2e-sso-secret",
        "DATABASE_URL": f"sqlite:///{tmp / 'sso.db'}",
        "BASE_URL": url,
        "MAIL_SERVER": "",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "FLASK_DEBUG": "0",
        "OIDC_DISCOVERY_URL": provider.discovery_url,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_PROVIDER_NAME": PROVIDER_NAME,
        "OIDC_JIT": "on",
        "OIDC_ALLOWED_DOMAINS": "example.com",
        **extra_env,
    }
    _flask_cli(env, "db", "upgrade")
    if seed:
        _flask_cli(env, "seed-demo")
    log_path = tmp / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{port}",
                "--graceful-timeout",
                "5",
                "app:app",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not _healthy(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc)
            pytest.fail("the SSO live server did not start:\n" + log_path.read_text(errors="replace"), pytrace=False)
        time.sleep(0.1)
    return proc


def _server(tmp_path_factory, name: str, *, seed: bool, extra_env: dict[str, str] | None = None):
    tmp = tmp_path_factory.mktemp(name)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    provider = start_provider(
        tmp, redirect_uris=[f"{url}/sso/callback"], post_logout_redirect_uris=[f"{url}/login"], users=PEOPLE
    )
    try:
        proc = _serve(tmp, provider, port, seed=seed, extra_env=extra_env or {})
        try:
            yield SSOServer(url=url, provider=provider)
        finally:
            _stop(proc)
    finally:
        provider.stop()


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory):
    """Tandem (demo company) configured for the test provider."""
    yield from _server(tmp_path_factory, "e2e-sso", seed=True)


@pytest.fixture(scope="module")
def late_sso_server(tmp_path_factory):
    """The same, but Tandem's clock runs an hour ahead (TANDEM_NOW): every ID token it gets has expired."""
    ahead = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    yield from _server(tmp_path_factory, "e2e-sso-late", seed=False, extra_env={"TANDEM_NOW": ahead})


def _sign_in_at_provider(page, server: SSOServer, sub: str) -> None:
    page.goto(server.url + "/login")
    page.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}").click()
    expect(page).to_have_url(re.compile(re.escape(server.provider.issuer) + r"/interaction/"))
    page.locator("input[name='login']").fill(sub)
    page.locator("input[name='password']").fill("any password will do")
    page.get_by_role("button", name="Sign-in").click()


def test_sign_in_through_the_provider_and_sign_out_of_both(page, sso_server):
    _sign_in_at_provider(page, sso_server, "e2e-riley")

    page.wait_for_url(sso_server.url + "/")
    expect(page.locator(".who")).to_contain_text("Riley Patel · Staff")
    expect(page.locator("nav.main-nav")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    # Tandem's session has ended; the provider asks before ending its own, then sends the browser back.
    expect(page).to_have_url(re.compile(re.escape(sso_server.provider.issuer) + r"/session/end"))
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(re.compile(re.escape(sso_server.url) + r"/login(\?.*)?$"))
    expect(page.locator(".flashes")).to_contain_text("You are signed out.")
    expect(page.locator("nav.main-nav")).to_have_count(0)
    page.goto(sso_server.url + "/")
    expect(page).to_have_url(re.compile(re.escape(sso_server.url) + r"/login(\?.*)?$"))
    # Signed out at the provider too: signing in again asks for its form.
    page.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}").click()
    expect(page.locator("input[name='login']")).to_be_visible()


def test_a_person_from_a_foreign_domain_is_not_created(page, sso_server):
    _sign_in_at_provider(page, sso_server, "e2e-outsider")

    page.wait_for_url(re.compile(re.escape(sso_server.url) + r"/login(\?.*)?$"))
    expect(page.locator(".flashes")).to_contain_text(
        "There is no Tandem account for visitor@rival-corp.com, and people from rival-corp.com are not added "
        "automatically."
    )
    expect(page.locator("nav.main-nav")).to_have_count(0)


def test_a_tampered_state_is_refused(page, sso_server):
    def tamper(route):
        # Tandem's answer to "Sign in with …" goes out as it is, but for the state in the URL to the provider,
        # which the provider hands back at the end: not the one this browser's session holds.
        response = route.fetch(max_redirects=0)
        location = with_query(response.headers["location"], state="forged")
        route.fulfill(response=response, headers={**response.headers, "location": location})

    page.route(re.compile(re.escape(sso_server.url) + r"/sso/login(\?.*)?$"), tamper)
    _sign_in_at_provider(page, sso_server, "e2e-riley")

    page.wait_for_url(re.compile(re.escape(sso_server.url) + r"/login(\?.*)?$"))
    expect(page.locator(".flashes")).to_contain_text("could not be matched to one started in this browser")
    expect(page.locator("nav.main-nav")).to_have_count(0)


def test_an_expired_id_token_is_refused(page, late_sso_server):
    _sign_in_at_provider(page, late_sso_server, "e2e-riley")

    page.wait_for_url(re.compile(re.escape(late_sso_server.url) + r"/login(\?.*)?$"))
    expect(page.locator(".flashes")).to_contain_text("had expired when it reached Tandem")
    expect(page.locator("nav.main-nav")).to_have_count(0)
