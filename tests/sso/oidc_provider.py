"""The real OpenID provider of the single sign-on tests (tests/oidc_provider: panva's oidc-provider on Node), started
on a free 127.0.0.1 port with a fresh signing key, and a driver that goes through its sign-in form with ``requests``
the way a browser would.

``make test`` installs the Node package (``npm ci --prefix tests/oidc_provider``). Without Node or the package the
tests are skipped locally and fail under CI=true.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import pytest
import requests

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROVIDER_DIR = PROJECT_ROOT / "tests" / "oidc_provider"
STARTUP_TIMEOUT = 30.0
CLIENT_ID = "tandem-test"
CLIENT_SECRET = "tandem-test-secret-" + uuid.uuid4().hex
IN_CI = os.environ.get("CI", "").lower() == "true"


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"the test OpenID provider cannot start: {reason}", pytrace=False)
    pytest.skip(f"the test OpenID provider cannot start: {reason}")


@dataclass
class OidcProvider:
    issuer: str
    process: subprocess.Popen
    log_path: Path
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    id_token_ttl: int = 600
    users: dict[str, dict] = field(default_factory=dict)

    @property
    def discovery_url(self) -> str:
        return self.issuer + "/.well-known/openid-configuration"

    def add_user(self, *, email: str, email_verified: bool = True, name: str = "", sub: str | None = None, **claims):
        """Add (or replace, by sub) a person at the provider; returns their sub."""
        person = {"sub": sub or f"sub-{uuid.uuid4().hex[:12]}", "email": email, "email_verified": email_verified}
        person["name"] = name or email.split("@")[0].title()
        person.update(claims)
        response = requests.post(self.issuer + "/_test/users", json=person, timeout=5)
        assert response.status_code == 204, response.text
        self.users[person["sub"]] = person
        return person["sub"]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_provider(
    tmp_dir: Path,
    *,
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str],
    users: list[dict] | None = None,
    id_token_ttl: int = 600,
) -> OidcProvider:
    """Start tests/oidc_provider/provider.js and wait until its discovery document answers."""
    node = shutil.which("node")
    if node is None:
        _unavailable("`node` is not on the PATH (install Node.js 20 or later)")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        _unavailable("its Node package is not installed (run `npm ci --prefix tests/oidc_provider`)")
    stdout_path = tmp_dir / "oidc-provider.json"
    log_path = tmp_dir / "oidc-provider.log"
    env = {
        **os.environ,
        "OIDC_TEST_CLIENT_ID": CLIENT_ID,
        "OIDC_TEST_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_TEST_REDIRECT_URIS": ",".join(redirect_uris),
        "OIDC_TEST_POST_LOGOUT_REDIRECT_URIS": ",".join(post_logout_redirect_uris),
        "OIDC_TEST_USERS": json.dumps(users or []),
        "OIDC_TEST_ID_TOKEN_TTL": str(id_token_ttl),
    }
    with open(stdout_path, "wb") as out, open(log_path, "wb") as err:
        process = subprocess.Popen(
            [node, str(PROVIDER_DIR / "provider.js"), "0"],
            cwd=PROVIDER_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    deadline = time.monotonic() + STARTUP_TIMEOUT
    issuer = None
    while True:
        if process.poll() is not None:
            pytest.fail(
                f"the test OpenID provider exited with {process.returncode}:\n{log_path.read_text(errors='replace')}",
                pytrace=False,
            )
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(
                f"the test OpenID provider did not answer within {STARTUP_TIMEOUT:.0f} s:\n"
                + log_path.read_text(errors="replace"),
                pytrace=False,
            )
        if issuer is None:
            line = stdout_path.read_text().strip()
            if line:
                issuer = json.loads(line.splitlines()[0])["issuer"]
        if issuer is not None:
            try:
                response = requests.get(issuer + "/.well-known/openid-configuration", timeout=2)
                if response.status_code == 200 and response.json().get("issuer") == issuer:
                    break
            except requests.RequestException:
                pass
        time.sleep(0.05)
    provider = OidcProvider(issuer=issuer, process=process, log_path=log_path, id_token_ttl=id_token_ttl)
    for person in users or []:
        provider.users[person["sub"]] = person
    return provider


# --- driving the provider's pages like a browser --------------------------------------------------


class _FormParser(HTMLParser):
    """The first form of a page: its action and its named inputs (and the value of a named submit button)."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.buttons: dict[str, str] = {}
        self._in_form = False
        self._done = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and not self._done and self.action is None:
            self.action = a.get("action") or ""
            self._in_form = True
        elif tag == "input" and self._in_form and a.get("name"):
            self.fields[a["name"]] = a.get("value") or ""
        elif tag == "button" and a.get("name"):
            self.buttons[a["name"]] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form" and self._in_form:
            self._in_form = False
            self._done = True


def parse_form(html: str) -> _FormParser:
    parser = _FormParser()
    parser.feed(html)
    assert parser.action is not None, f"no form on the page:\n{html[:2000]}"
    return parser


def with_query(url: str, **changes: str) -> str:
    """The URL with some query parameters replaced."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


class ProviderBrowser:
    """The provider's side of a browser: follows its redirects and fills its forms with ``requests`` (its own
    cookies), and hands back the first URL that leaves the provider (the redirect to Tandem)."""

    def __init__(self, provider: OidcProvider) -> None:
        self.provider = provider
        self.session = requests.Session()

    def _on_provider(self, url: str) -> bool:
        return url.startswith(self.provider.issuer + "/")

    def follow(self, response: requests.Response, limit: int = 10) -> requests.Response | str:
        """Follow the provider's redirects: a page of the provider (a response) or the URL leaving it (str)."""
        for _ in range(limit):
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            target = urljoin(response.url, response.headers["Location"])
            if not self._on_provider(target):
                return target
            response = self.session.get(target, allow_redirects=False, timeout=10)
        raise AssertionError("too many redirects at the provider")

    def open(self, url: str) -> requests.Response | str:
        assert self._on_provider(url), f"not the provider: {url}"
        return self.follow(self.session.get(url, allow_redirects=False, timeout=10))

    def submit(self, page: requests.Response, **values: str) -> requests.Response | str:
        form = parse_form(page.text)
        data = {**form.fields, **values}
        response = self.session.post(urljoin(page.url, form.action), data=data, allow_redirects=False, timeout=10)
        return self.follow(response)

    def sign_in(self, authorize_url: str, login: str) -> str:
        """Open the authorization URL, sign in as ``login`` (the person's sub) on the provider's form, and return
        the redirect back to Tandem (with the code and the state)."""
        page = self.open(authorize_url)
        if isinstance(page, str):  # already signed in at the provider
            return page
        assert page.status_code == 200, page.text[:2000]
        assert 'name="login"' in page.text, page.text[:2000]
        result = self.submit(page, login=login, password="any password will do")
        assert isinstance(result, str), f"the provider did not send the browser back:\n{result.text[:2000]}"
        return result
