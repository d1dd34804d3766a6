"""Single sign-on fixtures: one real OpenID provider per test session (per xdist worker), the app configured for
it, and ``sso`` — a helper that runs the whole sign-in through the provider with the Flask test client."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient

from tests.sso.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider, ProviderBrowser, start_provider

TANDEM = "http://tandem.test"  # the tests' BASE_URL (tests/conftest.py)
PROVIDER_NAME = "Test IdP"


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory):
    provider = start_provider(
        tmp_path_factory.mktemp("oidc"),
        redirect_uris=[f"{TANDEM}/sso/callback"],
        post_logout_redirect_uris=[f"{TANDEM}/login"],
    )
    yield provider
    provider.stop()


@pytest.fixture
def sso_app(app, oidc_provider):
    """The app pointed at the test provider, on the real clock (the provider's tokens carry real times; a test
    that needs another instant sets FIXED_NOW itself). The ``app`` fixture restores the config afterwards."""
    app.config.update(
        FIXED_NOW=None,
        OIDC_DISCOVERY_URL=oidc_provider.discovery_url,
        OIDC_CLIENT_ID=CLIENT_ID,
        OIDC_CLIENT_SECRET=CLIENT_SECRET,
        OIDC_PROVIDER_NAME=PROVIDER_NAME,
        OIDC_SCOPES="openid email profile groups",
        OIDC_JIT=False,
        OIDC_ALLOWED_DOMAINS="",
        OIDC_ROLE_CLAIM="",
        OIDC_GROUPS_CLAIM="",
        OIDC_ROLE_MAP="",
        OIDC_DEPARTMENT_CLAIM="",
        OIDC_LOGOUT=True,
        OIDC_CLOCK_SKEW_SECONDS=30,
        PASSWORD_LOGIN=True,
        BREAK_GLASS_EMAILS="",
    )
    return app


@dataclass
class SSODriver:
    provider: OidcProvider

    def start(self, client: FlaskClient, path: str = "/sso/login") -> str:
        """Start a flow at Tandem; the provider's authorization URL it redirects to."""
        response = client.get(path)
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        location = response.headers["Location"]
        assert location.startswith(self.provider.issuer + "/"), location
        return location

    def browser(self) -> ProviderBrowser:
        """A browser's provider side (its own provider cookies)."""
        return ProviderBrowser(self.provider)

    def at_provider(self, authorize_url: str, sub: str, browser: ProviderBrowser | None = None) -> str:
        """Sign in at the provider as ``sub``; the callback URL it sends the browser back to."""
        callback = (browser or self.browser()).sign_in(authorize_url, sub)
        assert callback.startswith(f"{TANDEM}/sso/callback?"), callback
        return callback

    def sign_in(self, client: FlaskClient, sub: str, path: str = "/sso/login", browser: ProviderBrowser | None = None):
        """The whole round: Tandem → provider (its form) → Tandem's callback; the callback's response."""
        return client.get(self.at_provider(self.start(client, path), sub, browser))


@pytest.fixture
def sso(sso_app, oidc_provider) -> SSODriver:
    return SSODriver(oidc_provider)
