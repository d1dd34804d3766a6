"""Discovery (RFC 7644 §4): what the server declares is what it does."""

from __future__ import annotations

from tests.scim.conftest import ENTERPRISE, GROUP, USER, scim_error


def test_service_provider_config_declares_exactly_what_is_supported(scim):
    response = scim.get("/ServiceProviderConfig")
    assert response.status_code == 200 and response.mimetype == "application/scim+json"
    config = response.get_json()
    assert config["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
    assert config["patch"] == {"supported": True}
    assert config["bulk"] == {"supported": False, "maxOperations": 0, "maxPayloadSize": 0}
    assert config["filter"] == {"supported": True, "maxResults": 200}
    assert config["changePassword"] == {"supported": False}
    assert config["sort"] == {"supported": False}
    assert config["etag"] == {"supported": True}
    assert [s["type"] for s in config["authenticationSchemes"]] == ["oauthbearertoken"]


def test_resource_types(scim):
    listing = scim.get("/ResourceTypes").get_json()
    assert listing["totalResults"] == 2
    by_name = {rt["name"]: rt for rt in listing["Resources"]}
    assert by_name["User"]["endpoint"] == "/Users" and by_name["User"]["schema"] == USER
    assert by_name["User"]["schemaExtensions"] == [{"schema": ENTERPRISE, "required": False}]
    assert by_name["Group"]["endpoint"] == "/Groups" and by_name["Group"]["schema"] == GROUP
    assert scim.get("/ResourceTypes/User").get_json()["meta"]["location"].endswith("/scim/v2/ResourceTypes/User")
    scim_error(scim.get("/ResourceTypes/Pet"), 404)


def test_schemas_publish_only_the_attributes_tandem_keeps(scim):
    listing = scim.get("/Schemas").get_json()
    ids = [s["id"] for s in listing["Resources"]]
    assert ids == [
        USER,
        ENTERPRISE,
        GROUP,
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig",
        "urn:ietf:params:scim:schemas:core:2.0:ResourceType",
        "urn:ietf:params:scim:schemas:core:2.0:Schema",
    ]
    user = scim.get(f"/Schemas/{USER}").get_json()
    attributes = {a["name"]: a for a in user["attributes"]}
    assert list(attributes) == ["userName", "displayName", "active", "emails", "roles", "groups"]
    assert attributes["userName"]["uniqueness"] == "server" and attributes["userName"]["caseExact"] is False
    assert attributes["emails"]["mutability"] == "readOnly" and attributes["groups"]["mutability"] == "readOnly"
    role_value = attributes["roles"]["subAttributes"][0]
    assert role_value["canonicalValues"] == ["leader", "hr"]
    enterprise = scim.get(f"/Schemas/{ENTERPRISE}").get_json()
    assert [a["name"] for a in enterprise["attributes"]] == ["department", "manager"]
    group = scim.get(f"/Schemas/{GROUP}").get_json()
    assert [a["name"] for a in group["attributes"]] == ["displayName", "members"]
    scim_error(scim.get("/Schemas/urn:nope"), 404)


def test_discovery_endpoints_are_read_only(scim):
    for path in ("/ServiceProviderConfig", "/ResourceTypes", "/Schemas"):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            scim_error(scim.request(method, path, {}), 405)
