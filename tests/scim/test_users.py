"""SCIM Users: create, read, list and filter, paginate, replace, patch, delete — and the rules Tandem adds
(userName is the email, one role, departments by name, deletion that keeps the person)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import select

from program.accounts.models import Department, User
from program.extensions import db
from tests.scim.conftest import ENTERPRISE, USER, scim_error


def person(email: str) -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.email == email))


def find(scim, filter_: str, **params) -> dict:
    query = "&".join([f"filter={quote(filter_)}"] + [f"{k}={v}" for k, v in params.items()])
    response = scim.get(f"/Users?{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ids(listing: dict) -> list[str]:
    return [r["id"] for r in listing["Resources"]]


# --- create and read --------------------------------------------------------------------------------


def test_create_maps_the_user_onto_a_tandem_person(scim, log_entries):
    created = scim.create_user(
        "Ada.Lovelace@Example.com",
        "Ada Lovelace",
        externalId="okta-123",
        roles=[{"value": "leader"}],
        **{ENTERPRISE: {"department": "Sales"}},
    )
    ada = person("ada.lovelace@example.com")
    assert (ada.name, ada.role, ada.external_id, ada.active) == ("Ada Lovelace", "leader", "okta-123", True)
    assert ada.department.name == "Sales" and ada.password_hash is None
    assert created["id"] == str(ada.id)
    assert created["userName"] == "ada.lovelace@example.com"
    assert created["emails"] == [{"value": "ada.lovelace@example.com", "type": "work", "primary": True}]
    assert created["roles"] == [{"value": "leader"}]
    assert created[ENTERPRISE] == {"department": "Sales"}
    assert created["meta"]["location"] == f"http://tandem.test/scim/v2/Users/{ada.id}"
    assert created["meta"]["version"].startswith('W/"')
    assert [(e.action, e.resource_type, e.actor) for e in log_entries()] == [
        ("created", "Department", "scim:Okta"),
        ("created", "User", "scim:Okta"),
    ]
    assert log_entries(resource_type="User")[0].after["email"] == "ada.lovelace@example.com"


def test_create_answers_201_with_location_etag_and_media_type(scim):
    body = {"schemas": [USER], "userName": "bo@example.com", "displayName": "Bo"}
    response = scim.post("/Users", body)
    assert response.status_code == 201
    assert response.mimetype == "application/scim+json"
    assert response.headers["Location"] == response.get_json()["meta"]["location"]
    assert response.headers["ETag"] == response.get_json()["meta"]["version"]
    assert response.get_json()["active"] is True  # active left out: a new person is active


def test_display_name_is_built_from_name_when_missing(scim):
    body = {"schemas": [USER], "userName": "cy@example.com", "name": {"givenName": "Cy", "familyName": "Young"}}
    assert scim.post("/Users", body).get_json()["displayName"] == "Cy Young"
    assert person("cy@example.com").name == "Cy Young"


def test_unknown_attributes_are_ignored(scim):
    created = scim.create_user("di@example.com", "Di", title="VP", phoneNumbers=[{"value": "123"}])
    assert "title" not in created and "phoneNumbers" not in created


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        ({"schemas": [USER], "displayName": "No Name"}, "invalidValue"),  # userName is required
        ({"schemas": [USER], "userName": "not an email", "displayName": "X"}, "invalidValue"),
        ({"schemas": [USER], "userName": "x@example.com"}, "invalidValue"),  # no displayName, no name
        (
            {"schemas": [USER], "userName": "x@example.com", "displayName": "X", "roles": [{"value": "admin"}]},
            "invalidValue",
        ),
        (
            {"schemas": [USER], "userName": "x@example.com", "displayName": "X", "roles": [{"value": "boss"}]},
            "invalidValue",
        ),
        ({"schemas": [USER], "userName": "x@example.com", "displayName": "Nul\x00"}, "invalidValue"),
        ({"schemas": [USER], "userName": "x@example.com", "displayName": "X" * 121}, "invalidValue"),
        (
            {
                "schemas": [USER],
                "userName": "x@example.com",
                "displayName": "X",
                ENTERPRISE: {"manager": {"value": "999"}},
            },
            "invalidValue",
        ),
    ],
)
def test_create_refuses_what_tandem_cant_take(scim, body, scim_type):
    scim_error(scim.post("/Users", body), 400, scim_type)
    assert db.session.scalar(select(User).where(User.email == "x@example.com")) is None


def test_a_body_that_is_not_json_is_invalid_syntax(scim):
    response = scim.client.post(
        "/scim/v2/Users",
        data="{nope",
        content_type="application/scim+json",
        headers={"Authorization": f"Bearer {scim.token}"},
    )
    scim_error(response, 400, "invalidSyntax")


def test_username_is_unique_whatever_its_case(scim, make):
    make.user(email="taken@example.com")
    db.session.commit()
    scim_error(
        scim.post("/Users", {"schemas": [USER], "userName": "TAKEN@example.com", "displayName": "T"}), 409, "uniqueness"
    )
    other = scim.create_user("free@example.com", "Free")
    response = scim.patch(
        f"/Users/{other['id']}", [{"op": "replace", "path": "userName", "value": "Taken@Example.com"}]
    )
    scim_error(response, 409, "uniqueness")
    assert person("free@example.com") is not None


def test_get_one_and_404s(scim, make):
    ada = make.user(email="ada@example.com", name="Ada", department="Marketing")
    db.session.commit()
    got = scim.get(f"/Users/{ada.id}")
    assert got.status_code == 200
    body = got.get_json()
    assert (body["userName"], body["displayName"], body["active"]) == ("ada@example.com", "Ada", True)
    assert body[ENTERPRISE] == {"department": "Marketing"}
    assert "roles" not in body  # staff has no role
    scim_error(scim.get("/Users/99999"), 404)
    scim_error(scim.get("/Users/abc"), 404)


def test_attributes_and_excluded_attributes(scim):
    created = scim.create_user("eve@example.com", "Eve", externalId="e-1")
    only = scim.get(f"/Users/{created['id']}?attributes=userName").get_json()
    assert set(only) == {"schemas", "id", "userName"}
    without = scim.get(f"/Users/{created['id']}?excludedAttributes=emails,meta").get_json()
    assert "emails" not in without and "meta" not in without and without["externalId"] == "e-1"
    listed = scim.get("/Users?attributes=externalId").get_json()["Resources"]
    assert listed == [{"schemas": [USER], "id": created["id"], "externalId": "e-1"}]


# --- list, filter, paginate ---------------------------------------------------------------------------


@pytest.fixture
def crowd(scim, make):
    """Five people: three active in Sales (one leader), one inactive in Marketing, one with an externalId."""
    made = [
        scim.create_user("ann@example.com", "Ann", **{ENTERPRISE: {"department": "Sales"}}),
        scim.create_user(
            "bob@example.com", "Bob", roles=[{"value": "leader"}], **{ENTERPRISE: {"department": "Sales"}}
        ),
        scim.create_user("cat@example.com", "Cat", externalId="X-9", **{ENTERPRISE: {"department": "Sales"}}),
        scim.create_user("dan@example.com", "Dan", active=False, **{ENTERPRISE: {"department": "Marketing"}}),
        scim.create_user("eva@sub.example.org", "Eva"),
    ]
    return {r["userName"].split("@")[0]: r["id"] for r in made}


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ('userName eq "BOB@example.com"', ["bob"]),
        ('username EQ "bob@example.com"', ["bob"]),
        ('externalId eq "X-9"', ["cat"]),
        ('externalId eq "x-9"', []),  # case-exact
        ('emails.value eq "cat@example.com"', ["cat"]),
        ('emails eq "cat@example.com"', ["cat"]),
        ('emails[type eq "work" and value eq "ann@example.com"]', ["ann"]),
        ("active eq false", ["dan"]),
        ('active eq true and roles.value eq "leader"', ["bob"]),
        ('userName eq "ann@example.com" or userName eq "dan@example.com"', ["ann", "dan"]),
        ('userName sw "a" or userName ew "example.org"', ["ann", "eva"]),
        ('displayName co "A"', ["ann", "cat", "dan", "eva"]),
        ("not (active eq true)", ["dan"]),
        (f'{ENTERPRISE}:department eq "sales"', ["ann", "bob", "cat"]),
        ("externalId pr", ["cat"]),
        ('userName eq "nobody@example.com"', []),
        ('displayName eq "100%_"', []),
        ('meta.created ge "2026-11-23T10:00:00Z"', ["ann", "bob", "cat", "dan", "eva"]),
        ('meta.lastModified lt "2026-01-01T00:00:00Z"', []),
        ("groups pr", []),
    ],
)
def test_filters(scim, crowd, filter_, expected):
    assert ids(find(scim, filter_)) == [crowd[name] for name in expected]


def test_filter_on_id_and_manager(scim, crowd):
    boss = crowd["bob"]
    scim.patch(f"/Users/{crowd['ann']}", [{"op": "add", "path": f"{ENTERPRISE}:manager", "value": {"value": boss}}])
    assert ids(find(scim, f'{ENTERPRISE}:manager.value eq "{boss}"')) == [crowd["ann"]]
    assert ids(find(scim, f'id eq "{crowd["cat"]}"')) == [crowd["cat"]]


@pytest.mark.parametrize(
    "filter_",
    ["userName eq", 'nickName eq "x"', 'meta.location eq "x"', "active gt true", '(userName eq "a"'],
)
def test_a_bad_filter_is_invalid_filter(scim, crowd, filter_):
    scim_error(scim.get(f"/Users?filter={quote(filter_)}"), 400, "invalidFilter")


def test_pagination(scim, crowd):
    everyone = sorted(crowd.values(), key=int)
    first = scim.get("/Users?startIndex=1&count=2").get_json()
    assert (first["totalResults"], first["startIndex"], first["itemsPerPage"]) == (5, 1, 2)
    assert ids(first) == everyone[:2]
    assert ids(scim.get("/Users?startIndex=3&count=2").get_json()) == everyone[2:4]
    assert ids(scim.get("/Users?startIndex=5&count=2").get_json()) == everyone[4:]
    assert scim.get("/Users?startIndex=9").get_json()["Resources"] == []
    counted = scim.get("/Users?count=0").get_json()
    assert counted["totalResults"] == 5 and counted["Resources"] == []
    assert ids(scim.get("/Users?startIndex=0&count=1").get_json()) == everyone[:1]  # < 1 reads as 1
    filtered = find(scim, 'userName sw "a" or userName sw "b" or userName sw "c"', count=2, startIndex=2)
    assert filtered["totalResults"] == 3 and ids(filtered) == [crowd["bob"], crowd["cat"]]


def test_count_is_capped_at_max_results(scim, make):
    for _ in range(205):
        make.user(department=None)
    db.session.commit()
    listing = scim.get("/Users?count=500").get_json()
    assert listing["totalResults"] == 205 and listing["itemsPerPage"] == 200


def test_search_by_post(scim, crowd):
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "active eq false"}
    response = scim.post("/Users/.search", body)
    assert response.status_code == 200 and ids(response.get_json()) == [crowd["dan"]]
    both = scim.post("/.search", {**body, "filter": 'displayName sw "a"'}).get_json()
    assert [r["meta"]["resourceType"] for r in both["Resources"]] == ["User"]


# --- replace (PUT) ------------------------------------------------------------------------------------


def test_put_replaces_and_keeps_what_it_leaves_out(scim, log_entries):
    made = scim.create_user(
        "fay@example.com", "Fay", externalId="f-1", roles=[{"value": "hr"}], **{ENTERPRISE: {"department": "Sales"}}
    )
    body = {"schemas": [USER], "userName": "fay.new@example.com", "displayName": "Fay New"}
    response = scim.put(f"/Users/{made['id']}", body)
    assert response.status_code == 200
    fay = person("fay.new@example.com")
    assert (fay.name, fay.external_id, fay.active) == ("Fay New", None, True)  # externalId is replaced
    assert fay.role == "hr" and fay.department.name == "Sales"  # roles and the extension were left out
    entry = log_entries(action="updated")[-1]
    assert entry.before["email"] == "fay@example.com" and entry.after["email"] == "fay.new@example.com"
    cleared = {**body, "roles": [], ENTERPRISE: {}}
    scim.put(f"/Users/{made['id']}", cleared)
    fay = person("fay.new@example.com")
    assert fay.role == "staff" and fay.department is None


def test_put_active_false_deactivates(scim):
    made = scim.create_user("gus@example.com", "Gus")
    response = scim.put(
        f"/Users/{made['id']}",
        {"schemas": [USER], "userName": "gus@example.com", "displayName": "Gus", "active": False},
    )
    assert response.get_json()["active"] is False and person("gus@example.com").active is False
    renamed = scim.put(
        f"/Users/{made['id']}", {"schemas": [USER], "userName": "gus@example.com", "displayName": "Gus B"}
    )
    assert renamed.get_json()["active"] is False  # a PUT that leaves active out doesn't bring anyone back


def test_put_on_a_missing_user_is_404(scim):
    scim_error(scim.put("/Users/4242", {"schemas": [USER], "userName": "a@example.com", "displayName": "A"}), 404)


# --- patch --------------------------------------------------------------------------------------------


def test_patch_replace_add_remove(scim, make):
    made = scim.create_user("hal@example.com", "Hal")
    boss = scim.create_user("boss@example.com", "Boss")
    url = f"/Users/{made['id']}"
    response = scim.patch(
        url,
        [
            {"op": "replace", "path": "displayName", "value": "Hal Jordan"},
            {"op": "add", "path": "externalId", "value": "h-7"},
            {"op": "add", "path": "roles", "value": [{"value": "leader"}]},
            {"op": "add", "path": f"{ENTERPRISE}:department", "value": "Marketing"},
            {"op": "add", "path": f"{ENTERPRISE}:manager", "value": {"value": boss["id"]}},
        ],
    )
    assert response.status_code == 200, response.get_json()
    hal = person("hal@example.com")
    assert (hal.name, hal.external_id, hal.role, hal.department.name) == ("Hal Jordan", "h-7", "leader", "Marketing")
    assert hal.manager.email == "boss@example.com"
    assert response.get_json()[ENTERPRISE]["manager"]["value"] == boss["id"]
    # A replace without a path sets each attribute it names; a remove unassigns.
    scim.patch(url, [{"op": "replace", "value": {"displayName": "Hal J", "roles": [{"value": "hr"}]}}])
    assert (person("hal@example.com").name, person("hal@example.com").role) == ("Hal J", "hr")
    removed = scim.patch(
        url,
        [
            {"op": "remove", "path": "externalId"},
            {"op": "remove", "path": "roles"},
            {"op": "remove", "path": ENTERPRISE},
        ],
    ).get_json()
    assert "externalId" not in removed and "roles" not in removed and ENTERPRISE not in removed
    hal = person("hal@example.com")
    assert (hal.external_id, hal.role, hal.department, hal.manager) == (None, "staff", None, None)


def test_patch_username_changes_the_address(scim):
    made = scim.create_user("ivy@example.com", "Ivy")
    body = scim.patch(
        f"/Users/{made['id']}", [{"op": "replace", "path": "userName", "value": "Ivy.B@Example.com"}]
    ).get_json()
    assert body["userName"] == "ivy.b@example.com" and body["emails"][0]["value"] == "ivy.b@example.com"


def test_patch_on_emails_may_only_repeat_the_address(scim):
    made = scim.create_user("jo@example.com", "Jo")
    url = f"/Users/{made['id']}"
    same = scim.patch(
        url,
        [
            {"op": "replace", "path": 'emails[type eq "work"].value', "value": "JO@example.com"},
            {"op": "replace", "path": "displayName", "value": "Jo B"},
        ],
    )
    assert same.status_code == 200 and same.get_json()["displayName"] == "Jo B"
    assert (
        scim.patch(
            url, [{"op": "add", "path": "emails", "value": [{"value": "jo@example.com", "primary": True}]}]
        ).status_code
        == 200
    )
    scim_error(
        scim.patch(url, [{"op": "replace", "path": "emails", "value": [{"value": "other@example.com"}]}]),
        400,
        "mutability",
    )
    scim_error(scim.patch(url, [{"op": "remove", "path": "emails"}]), 400, "mutability")
    assert person("jo@example.com").name == "Jo B"


def test_patch_errors(scim):
    made = scim.create_user("kim@example.com", "Kim")
    url = f"/Users/{made['id']}"
    scim_error(scim.patch(url, [{"op": "remove", "path": "userName"}]), 400)  # required
    scim_error(scim.patch(url, [{"op": "replace", "path": "userName", "value": "nope"}]), 400, "invalidValue")
    scim_error(
        scim.patch(url, [{"op": "replace", "path": f"{ENTERPRISE}:manager", "value": {"value": made["id"]}}]),
        400,
        "invalidValue",
    )
    scim_error(scim.patch(url, [{"op": "jump", "path": "displayName", "value": "x"}]), 400)
    scim_error(scim.request("PATCH", url, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}), 400)
    assert person("kim@example.com").name == "Kim"


def test_an_admin_keeps_their_role(scim, make):
    admin = make.user(role="admin", email="root@example.com")
    db.session.commit()
    body = scim.patch(
        f"/Users/{admin.id}", [{"op": "replace", "path": "roles", "value": [{"value": "leader"}]}]
    ).get_json()
    assert body["roles"] == [{"value": "admin"}] and person("root@example.com").role == "admin"
    renamed = scim.patch(f"/Users/{admin.id}", [{"op": "replace", "path": "displayName", "value": "Root"}])
    assert renamed.status_code == 200 and person("root@example.com").name == "Root"


def test_a_new_department_is_created_once_whatever_its_case(scim):
    scim.create_user("a1@example.com", "A1", **{ENTERPRISE: {"department": "Field Sales"}})
    scim.create_user("a2@example.com", "A2", **{ENTERPRISE: {"department": "field sales"}})
    assert db.session.scalars(select(Department.name)).all() == ["Field Sales"]


# --- ETags --------------------------------------------------------------------------------------------


def test_etags(scim):
    made = scim.create_user("lea@example.com", "Lea")
    url = f"/Users/{made['id']}"
    first = scim.get(url)
    tag = first.headers["ETag"]
    assert tag == first.get_json()["meta"]["version"] == made["meta"]["version"]
    assert tag.startswith('W/"')
    assert scim.get(url).headers["ETag"] == tag  # stable while nothing changes
    not_modified = scim.get(url, headers={"If-None-Match": tag})
    assert not_modified.status_code == 304 and not_modified.get_data() == b"" and not_modified.headers["ETag"] == tag
    assert scim.get(url, headers={"If-None-Match": 'W/"other"'}).status_code == 200

    changed = scim.patch(url, [{"op": "replace", "path": "displayName", "value": "Lea B"}], headers={"If-Match": tag})
    assert changed.status_code == 200
    new_tag = changed.headers["ETag"]
    assert new_tag != tag
    stale = scim.patch(url, [{"op": "replace", "path": "displayName", "value": "Lost"}], headers={"If-Match": tag})
    scim_error(stale, 412)
    scim_error(
        scim.put(
            url, {"schemas": [USER], "userName": "lea@example.com", "displayName": "Lost"}, headers={"If-Match": tag}
        ),
        412,
    )
    scim_error(scim.delete(url, headers={"If-Match": tag}), 412)
    assert person("lea@example.com").name == "Lea B" and person("lea@example.com").active
    assert scim.delete(url, headers={"If-Match": "*"}).status_code == 204


# --- delete -------------------------------------------------------------------------------------------


def test_delete_deactivates_hides_and_logs(scim, log_entries):
    made = scim.create_user("max@example.com", "Max")
    response = scim.delete(f"/Users/{made['id']}")
    assert response.status_code == 204 and response.get_data() == b""
    max_ = person("max@example.com")
    assert max_ is not None and max_.active is False  # Tandem never deletes a person
    scim_error(scim.get(f"/Users/{made['id']}"), 404)
    scim_error(scim.delete(f"/Users/{made['id']}"), 404)
    assert find(scim, 'userName eq "max@example.com"')["totalResults"] == 0
    entry = log_entries(action="deleted")[0]
    assert (entry.resource_id, entry.before["active"], entry.after["active"]) == (made["id"], True, False)


def test_a_deleted_person_comes_back_when_created_again(scim, log_entries):
    made = scim.create_user("ned@example.com", "Ned")
    scim.delete(f"/Users/{made['id']}")
    again = scim.create_user("Ned@example.com", "Ned Again")
    assert again["id"] == made["id"] and again["active"] is True
    assert scim.get(f"/Users/{made['id']}").status_code == 200
    assert [e.action for e in log_entries(resource_type="User")] == ["created", "deleted", "restored", "reactivated"]


def test_deactivated_people_stay_visible(scim):
    made = scim.create_user("ola@example.com", "Ola")
    scim.patch(f"/Users/{made['id']}", [{"op": "replace", "path": "active", "value": False}])
    body = scim.get(f"/Users/{made['id']}").get_json()
    assert body["active"] is False
    scim_error(
        scim.post("/Users", {"schemas": [USER], "userName": "ola@example.com", "displayName": "Ola"}), 409, "uniqueness"
    )


# --- the protocol's edges -----------------------------------------------------------------------------


def test_unknown_paths_and_methods_answer_scim_errors(scim):
    scim_error(scim.get("/Pets"), 404)
    scim_error(scim.get("/"), 404)
    response = scim.put("/Users", {})
    scim_error(response, 405)
    assert "POST" in response.headers["Allow"]
    scim_error(scim.delete("/ServiceProviderConfig"), 405)
    made = scim.create_user("pia@example.com", "Pia")
    scim_error(scim.post(f"/Users/{made['id']}", {}), 405)
    head = scim.request("HEAD", f"/Users/{made['id']}")
    assert head.status_code == 200 and head.headers["ETag"] == made["meta"]["version"]
    scim_error(scim.get("/Users?filter=%00"), 400)
