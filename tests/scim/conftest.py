"""SCIM test helpers: a live token and a client that speaks SCIM (``scim.get("/Users")``) to the Flask app."""

from __future__ import annotations

import json
from typing import Any

import pytest

from program.extensions import db

SCIM = "/scim/v2"
MEDIA_TYPE = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimClient:
    """The Flask test client with the bearer token and the SCIM media type on every request."""

    def __init__(self, client, token: str | None) -> None:
        self.client = client
        self.token = token

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, **kw):
        sent = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        sent.update(headers or {})
        if body is not None:
            kw["data"] = json.dumps(body)
            kw["content_type"] = MEDIA_TYPE
        return self.client.open(SCIM + path, method=method, headers=sent, **kw)

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path: str, operations: list[dict[str, Any]], **kw):
        return self.request("PATCH", path, {"schemas": [PATCH_OP], "Operations": operations}, **kw)

    def delete(self, path: str, **kw):
        return self.request("DELETE", path, **kw)

    # shortcuts for the tests' data

    def create_user(self, email: str, name: str = "Pat Doe", **attributes: Any) -> dict[str, Any]:
        body = {"schemas": [USER], "userName": email, "displayName": name, "active": True, **attributes}
        response = self.post("/Users", body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def create_group(self, name: str, members: list[str] = (), **attributes: Any) -> dict[str, Any]:
        body = {"schemas": [GROUP], "displayName": name, "members": [{"value": m} for m in members], **attributes}
        response = self.post("/Groups", body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()


def scim_error(response, status: int, scim_type: str | None = None) -> dict[str, Any]:
    """Assert a SCIM Error document with this status (and scimType); returns it."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == MEDIA_TYPE
    body = response.get_json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body
    return body


@pytest.fixture
def scim_token(app, now) -> str:
    from program.scim import tokens

    _token, raw = tokens.create_token(None, "Okta", now)
    db.session.commit()
    return raw


@pytest.fixture
def scim(client, scim_token) -> ScimClient:
    return ScimClient(client, scim_token)


@pytest.fixture
def log_entries(app):
    """log_entries(**filters) -> the provisioning log's entries, oldest first."""
    from sqlalchemy import select

    from program.accounts.provisioning import ProvisioningEvent

    def _entries(**filters: Any) -> list[ProvisioningEvent]:
        stmt = select(ProvisioningEvent).order_by(ProvisioningEvent.id)
        for name, value in filters.items():
            stmt = stmt.where(getattr(ProvisioningEvent, name) == value)
        return list(db.session.scalars(stmt))

    return _entries
