"""The admin page "Single sign-on": admins only, settings read-only with the secret hidden, the discovery document
on demand, and a test sign-in through the real provider that signs nobody in."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from program.accounts.models import User
from program.accounts.provisioning import ProvisioningEvent
from program.extensions import db
from tests.conftest import free_port
from tests.sso.conftest import PROVIDER_NAME, TANDEM
from tests.sso.oidc_provider import CLIENT_SECRET


@pytest.mark.parametrize("role", ["staff", "leader", "hr"])
def test_only_admins_see_the_page(sso_app, as_role, role):
    client, _ = as_role(role)
    assert client.get("/admin/sso").status_code == 404
    assert client.get("/admin/sso/test").status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(sso_app, client):
    assert client.get("/admin/sso").headers["Location"].startswith("/login")


def test_the_settings_are_shown_read_only_with_the_secret_hidden(sso_app, as_role, oidc_provider):
    sso_app.config.update(OIDC_ROLE_MAP="tandem-admins=admin", BREAK_GLASS_EMAILS="root@example.com")
    client, _ = as_role("admin")

    page = client.get("/admin/sso").get_data(as_text=True)

    assert CLIENT_SECRET not in page
    assert "set (hidden)" in page
    assert oidc_provider.discovery_url in page
    assert PROVIDER_NAME in page
    assert "tandem-admins=admin" in page and "root@example.com" in page
    assert f"{TANDEM}/sso/callback" in page and f"{TANDEM}/login" in page
    assert page.count('method="post"') == 1  # read-only: the only form that changes anything is "Sign out"


def test_the_discovery_document_is_fetched_on_demand(sso_app, as_role, oidc_provider):
    client, _ = as_role("admin")
    assert "end_session_endpoint" not in client.get("/admin/sso").get_data(as_text=True)

    page = client.get("/admin/sso?discovery=1").get_data(as_text=True)

    assert f"<code>{oidc_provider.issuer}</code>" in page
    assert f"<code>{oidc_provider.issuer}/session/end</code>" in page
    assert "PKCE (S256)</dt><dd>yes" in page


def test_a_provider_that_cannot_be_reached_is_reported_on_the_page(sso_app, as_role):
    sso_app.config.update(
        OIDC_DISCOVERY_URL=f"http://127.0.0.1:{free_port()}/.well-known/openid-configuration", OIDC_TIMEOUT_SECONDS=2
    )
    client, _ = as_role("admin")

    response = client.get("/admin/sso?discovery=1")

    assert response.status_code == 200
    assert f"{PROVIDER_NAME} could not be reached" in response.get_data(as_text=True)


def test_without_single_sign_on_the_page_says_so(app, as_role):
    client, _ = as_role("admin")
    page = client.get("/admin/sso").get_data(as_text=True)
    assert "Single sign-on is not configured" in page
    assert client.get("/admin/sso/test").status_code == 404


def test_test_sign_in_shows_the_claims_and_signs_nobody_in(sso, sso_app, as_role, make, oidc_provider):
    client, admin = as_role("admin")
    ann = make.user(email="ann@example.com", name="Ann Example")
    db.session.commit()
    sub = oidc_provider.add_user(email="ann@example.com", name="Ann Example", groups=["sales"])
    with client.session_transaction() as sess:
        before = sess["_user_id"]

    response = sso.sign_in(client, sub, path="/admin/sso/test")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Test sign-in" in page
    assert "Ann Example (ann@example.com), found by\ntheir verified email" in page
    assert f"<code>{oidc_provider.issuer}</code>" in page
    assert '<code>"ann@example.com"</code>' in page and '<code>["sales"]</code>' in page
    with client.session_transaction() as sess:
        assert sess["_user_id"] == before == admin.get_id()
    assert admin.name in client.get("/").get_data(as_text=True)
    db.session.refresh(ann)
    assert ann.oidc_sub is None
    assert db.session.scalars(select(ProvisioningEvent)).all() == []


def test_test_sign_in_shows_a_refusal_and_creates_nobody(sso, sso_app, as_role, oidc_provider):
    sso_app.config.update(OIDC_JIT=True, OIDC_ALLOWED_DOMAINS="example.com")
    client, _ = as_role("admin")
    sub = oidc_provider.add_user(email="newbie@example.com", email_verified=False)

    page = sso.sign_in(client, sub, path="/admin/sso/test").get_data(as_text=True)
    assert "Refused: Test IdP has not verified your email address newbie@example.com" in page

    sub = oidc_provider.add_user(email="joiner@example.com", name="Jo Iner")
    page = sso.sign_in(client, sub, path="/admin/sso/test").get_data(as_text=True)
    assert "A new person would be created: Jo Iner (joiner@example.com), role\nstaff" in page
    assert db.session.scalar(select(User).where(User.email == "joiner@example.com")) is None


def test_a_failed_test_sign_in_returns_to_the_page_with_the_reason(sso, sso_app, as_role, oidc_provider):
    client, _ = as_role("admin")
    sub = oidc_provider.add_user(email="ann@example.com")
    callback = sso.at_provider(sso.start(client, "/admin/sso/test"), sub)
    sso_app.config["OIDC_CLIENT_SECRET"] = "not-the-secret"  # the provider refuses the code exchange

    response = client.get(callback)

    assert response.headers["Location"] == "/admin/sso"
    assert "Test sign-in: Test IdP refused the sign-in (" in client.get("/admin/sso").get_data(as_text=True)
