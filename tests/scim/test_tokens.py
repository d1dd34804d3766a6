"""SCIM tokens: made on the command line or the admin page, shown once, kept only as a hash, revocable, with
the time of their last use; the API refuses anything else with 401 and WWW-Authenticate."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from sqlalchemy import select

from program.extensions import db
from program.scim import tokens
from program.scim.models import ScimToken
from tests.scim.conftest import ScimClient, scim_error


def test_cli_create_prints_the_token_once_and_keeps_its_hash(app, client):
    result = app.test_cli_runner().invoke(args=["scim-token", "create", "Entra ID"])
    assert result.exit_code == 0, result.output
    raw = result.stdout.strip()
    assert re.fullmatch(r"tdm_scim_[A-Za-z0-9_-]{40,}", raw)
    assert "can't be shown again" in result.stderr
    row = db.session.scalar(select(ScimToken))
    assert row.name == "Entra ID" and row.created_by_id is None
    assert row.token_hash == hashlib.sha256(raw.encode()).hexdigest() and raw not in row.token_hash
    assert row.prefix == raw[:12]
    listed = app.test_cli_runner().invoke(args=["scim-token", "list"])
    assert "Entra ID" in listed.output and row.prefix in listed.output and raw not in listed.output
    assert ScimClient(client, raw).get("/ServiceProviderConfig").status_code == 200


def test_cli_refuses_a_name_in_use(app, scim_token):
    result = app.test_cli_runner().invoke(args=["scim-token", "create", "okta"])
    assert result.exit_code != 0 and "in use" in result.output
    assert db.session.scalar(select(db.func.count()).select_from(ScimToken)) == 1


def test_cli_revoke(app, client, scim_token):
    prefix = db.session.scalar(select(ScimToken.prefix))
    result = app.test_cli_runner().invoke(args=["scim-token", "revoke", prefix])
    assert result.exit_code == 0, result.output
    scim_error(ScimClient(client, scim_token).get("/Users"), 401)


def test_missing_unknown_and_revoked_tokens_get_401(app, client, scim_token, now):
    for token in (None, "tdm_scim_unknown", scim_token.upper(), "not-even-ours"):
        response = ScimClient(client, token).get("/Users")
        scim_error(response, 401)
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="Tandem SCIM"')
    basic = client.get("/scim/v2/Users", headers={"Authorization": f"Basic {scim_token}"})
    scim_error(basic, 401)

    assert ScimClient(client, scim_token).get("/Users").status_code == 200
    tokens.revoke_token(None, db.session.scalar(select(ScimToken)), now)
    db.session.commit()
    revoked = ScimClient(client, scim_token).get("/Users")
    scim_error(revoked, 401)
    assert 'error="invalid_token"' in revoked.headers["WWW-Authenticate"]
    # Every endpoint is behind the token, discovery and unknown paths included.
    for path in ("/ServiceProviderConfig", "/Schemas", "/Nope"):
        scim_error(ScimClient(client, None).get(path), 401)


def test_last_used_is_written_at_most_once_a_minute(app, client, scim_token, now):
    scim = ScimClient(client, scim_token)

    def last_used():
        db.session.expire_all()
        return db.session.scalar(select(ScimToken.last_used_at))

    assert last_used() is None
    scim.get("/Users")
    assert last_used() == now
    app.config["FIXED_NOW"] = now + timedelta(seconds=59)
    scim.get("/Users")
    assert last_used() == now
    app.config["FIXED_NOW"] = now + timedelta(seconds=61)
    scim.get("/Users")
    assert last_used() == now + timedelta(seconds=61)


def test_tokens_of_other_clients_keep_working(client, now):
    _a, raw_a = tokens.create_token(None, "Okta", now)
    b, raw_b = tokens.create_token(None, "Entra", now)
    tokens.revoke_token(None, b, now)
    db.session.commit()
    assert ScimClient(client, raw_a).get("/Users").status_code == 200
    scim_error(ScimClient(client, raw_b).get("/Users"), 401)


# --- the admin page -------------------------------------------------------------------------------------


def test_admin_creates_a_token_and_sees_it_once(as_role, client):
    admin_client, admin = as_role("admin")
    page = admin_client.get("/admin/scim/tokens")
    assert page.status_code == 200 and "No tokens yet" in page.get_data(as_text=True)
    created = admin_client.post("/admin/scim/tokens", data={"name": "Okta"})
    html = created.get_data(as_text=True)
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    raw = re.search(r'value="(tdm_scim_[^"]+)"', html).group(1)
    assert "shown this once" in html
    row = db.session.scalar(select(ScimToken))
    assert (row.name, row.created_by_id) == ("Okta", admin.id)
    assert row.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    again = admin_client.get("/admin/scim/tokens").get_data(as_text=True)
    assert raw not in again and row.prefix in again and "Okta" in again
    assert ScimClient(client, raw).get("/Users").status_code == 200


def test_admin_form_errors_keep_the_input(as_role):
    admin_client, _ = as_role("admin")
    response = admin_client.post("/admin/scim/tokens", data={"name": "x" * 81})
    assert response.status_code == 422 and "x" * 81 in response.get_data(as_text=True)
    assert response.headers.get("Cache-Control") != "no-store"
    assert db.session.scalar(select(ScimToken)) is None
    assert admin_client.post("/admin/scim/tokens", data={"name": "  "}).status_code == 422


def test_admin_revokes_a_token(as_role, client, scim_token):
    admin_client, _ = as_role("admin")
    token = db.session.scalar(select(ScimToken))
    response = admin_client.post(f"/admin/scim/tokens/{token.id}/revoke", follow_redirects=True)
    assert response.status_code == 200 and "is revoked" in response.get_data(as_text=True)
    db.session.refresh(token)
    assert token.revoked_at is not None
    scim_error(ScimClient(client, scim_token).get("/Users"), 401)
    assert admin_client.post("/admin/scim/tokens/999/revoke").status_code == 404


def test_only_admins_see_the_token_pages(as_role, client, scim_token):
    token_id = db.session.scalar(select(ScimToken.id))
    for role in ("staff", "leader", "hr"):
        other, _ = as_role(role)
        assert other.get("/admin/scim/tokens").status_code == 404
        assert other.post("/admin/scim/tokens", data={"name": "Mine"}).status_code == 404
        assert other.post(f"/admin/scim/tokens/{token_id}/revoke").status_code == 404
    assert client.get("/admin/scim/tokens").status_code == 302  # signed out: to the sign-in page
    assert db.session.scalar(select(db.func.count()).select_from(ScimToken)) == 1
    assert db.session.scalar(select(ScimToken.revoked_at)) is None


def test_the_scim_api_ignores_the_session_cookie(as_role):
    """An admin's browser session is no SCIM credential (and the API is exempt from CSRF for its tokens only)."""
    admin_client, _ = as_role("admin")
    scim_error(admin_client.get("/scim/v2/Users"), 401)


def test_csrf_guards_the_admin_pages_not_the_api(app, as_role, scim):
    app.config["WTF_CSRF_ENABLED"] = True
    admin_client, _ = as_role("admin")
    assert admin_client.post("/admin/scim/tokens", data={"name": "Forged"}).status_code == 400
    assert db.session.scalar(select(ScimToken).where(ScimToken.name == "Forged")) is None
    scim.create_user("csrf@example.com", "No Cookie")  # 201: a bearer token needs no CSRF token
