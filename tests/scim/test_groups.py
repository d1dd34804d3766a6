"""SCIM Groups are Tandem's teams: creating, renaming, membership (which moves a person's team), filters,
deletion only of an empty team."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import select

from program.accounts.models import Team, User
from program.extensions import db
from tests.scim.conftest import ENTERPRISE, GROUP, scim_error


def person(user_id: str) -> User:
    db.session.expire_all()
    return db.session.get(User, int(user_id))


def team(group_id: str) -> Team | None:
    db.session.expire_all()
    return db.session.get(Team, int(group_id))


def member_ids(group: dict) -> list[str]:
    return [m["value"] for m in group.get("members", [])]


def test_create_a_team_in_the_default_department(scim, log_entries):
    group = scim.create_group("Enterprise", externalId="grp-1")
    made = team(group["id"])
    assert (made.name, made.external_id, made.department.name) == ("Enterprise", "grp-1", "Unassigned")
    assert group["displayName"] == "Enterprise" and "members" not in group
    assert group["meta"]["resourceType"] == "Group" and group["meta"]["version"].startswith('W/"')
    assert [(e.action, e.resource_type) for e in log_entries()] == [("created", "Department"), ("created", "Group")]


def test_the_default_department_is_configurable(app, scim):
    app.config["SCIM_DEFAULT_DEPARTMENT"] = "Provisioned"
    assert team(scim.create_group("Inside")["id"]).department.name == "Provisioned"


def test_a_team_moves_to_its_first_members_department(scim):
    ann = scim.create_user("ann@example.com", "Ann", **{ENTERPRISE: {"department": "Sales"}})
    bob = scim.create_user("bob@example.com", "Bob", **{ENTERPRISE: {"department": "Marketing"}})
    group = scim.create_group("Hunters", members=[ann["id"], bob["id"]])
    assert team(group["id"]).department.name == "Sales"
    # Joining a team puts the person in its department.
    assert person(bob["id"]).department.name == "Sales" and person(bob["id"]).team.name == "Hunters"
    assert sorted(member_ids(group)) == sorted([ann["id"], bob["id"]])
    user = scim.get(f"/Users/{ann['id']}").get_json()
    assert user["groups"] == [{"value": group["id"], "$ref": group["meta"]["location"], "display": "Hunters"}]


def test_members_add_and_remove_move_people(scim, make, log_entries):
    ann = scim.create_user("ann@example.com", "Ann")
    bob = scim.create_user("bob@example.com", "Bob")
    first = scim.create_group("First", members=[ann["id"]])
    second = scim.create_group("Second")
    url = f"/Groups/{second['id']}"
    added = scim.patch(url, [{"op": "add", "path": "members", "value": [{"value": ann["id"]}, {"value": bob["id"]}]}])
    assert added.status_code == 200, added.get_json()
    assert sorted(member_ids(added.get_json())) == sorted([ann["id"], bob["id"]])
    assert person(ann["id"]).team_id == int(second["id"])  # one team at a time: Ann left First
    assert member_ids(scim.get(f"/Groups/{first['id']}").get_json()) == []

    removed = scim.patch(url, [{"op": "remove", "path": f'members[value eq "{ann["id"]}"]'}])
    assert member_ids(removed.get_json()) == [bob["id"]] and person(ann["id"]).team_id is None
    group_entry = log_entries(resource_type="Group", action="updated")[-1]
    assert group_entry.before["members"] == ["ann@example.com", "bob@example.com"]
    assert group_entry.after["members"] == ["bob@example.com"]
    person_entry = log_entries(resource_type="User", resource_id=ann["id"])[-1]
    assert (person_entry.before["team"], person_entry.after["team"]) == ("Second", None)

    emptied = scim.patch(url, [{"op": "remove", "path": "members"}]).get_json()
    assert "members" not in emptied and person(bob["id"]).team_id is None


def test_entra_style_member_removal(scim):
    ann = scim.create_user("ann@example.com", "Ann")
    group = scim.create_group("Team", members=[ann["id"]])
    response = scim.patch(
        f"/Groups/{group['id']}", [{"op": "Remove", "path": "members", "value": [{"value": ann["id"]}]}]
    )
    assert response.status_code == 200 and person(ann["id"]).team_id is None


def test_members_must_be_people(scim):
    group = scim.create_group("Team")
    url = f"/Groups/{group['id']}"
    scim_error(scim.patch(url, [{"op": "add", "path": "members", "value": [{"value": "4242"}]}]), 400, "invalidValue")
    other = scim.create_group("Other")
    scim_error(
        scim.patch(url, [{"op": "add", "path": "members", "value": [{"value": other["id"], "type": "Group"}]}]), 400
    )


def test_rename_and_put(scim):
    ann = scim.create_user("ann@example.com", "Ann")
    group = scim.create_group("Old", members=[ann["id"]])
    url = f"/Groups/{group['id']}"
    renamed = scim.patch(url, [{"op": "replace", "path": "displayName", "value": "New"}]).get_json()
    assert renamed["displayName"] == "New" and team(group["id"]).name == "New"
    # A PUT that leaves out members keeps them; one that names them sets them.
    kept = scim.put(url, {"schemas": [GROUP], "displayName": "Newer", "externalId": "g-9"}).get_json()
    assert member_ids(kept) == [ann["id"]] and kept["externalId"] == "g-9"
    emptied = scim.put(url, {"schemas": [GROUP], "displayName": "Newer", "members": []}).get_json()
    assert "members" not in emptied and person(ann["id"]).team_id is None


def test_team_names_are_unique_within_a_department(scim):
    scim.create_group("Alpha")
    scim_error(scim.post("/Groups", {"schemas": [GROUP], "displayName": "alpha"}), 409, "uniqueness")
    beta = scim.create_group("Beta")
    scim_error(
        scim.patch(f"/Groups/{beta['id']}", [{"op": "replace", "path": "displayName", "value": "ALPHA"}]),
        409,
        "uniqueness",
    )


def test_filters_and_pagination(scim):
    ann = scim.create_user("ann@example.com", "Ann")
    groups = [scim.create_group(name) for name in ("Alpha", "Beta", "Gamma")]
    scim.patch(f"/Groups/{groups[1]['id']}", [{"op": "add", "path": "members", "value": [{"value": ann["id"]}]}])

    def found(filter_: str) -> list[str]:
        response = scim.get(f"/Groups?filter={quote(filter_)}")
        assert response.status_code == 200, response.get_json()
        return [g["displayName"] for g in response.get_json()["Resources"]]

    assert found('displayName eq "beta"') == ["Beta"]
    assert found(f'members.value eq "{ann["id"]}"') == ["Beta"]
    assert found('displayName sw "a" or displayName ew "a"') == ["Alpha", "Beta", "Gamma"]
    assert found("members pr") == ["Beta"]
    page = scim.get("/Groups?startIndex=2&count=1").get_json()
    assert (page["totalResults"], [g["displayName"] for g in page["Resources"]]) == (3, ["Beta"])
    bad = quote('userName eq "x"')
    scim_error(scim.get(f"/Groups?filter={bad}"), 400, "invalidFilter")


def test_delete_only_an_empty_team(scim, log_entries):
    ann = scim.create_user("ann@example.com", "Ann")
    group = scim.create_group("Busy", members=[ann["id"]])
    url = f"/Groups/{group['id']}"
    body = scim_error(scim.delete(url), 409)
    assert "remove the members first" in body["detail"]
    assert team(group["id"]) is not None and person(ann["id"]).team_id == int(group["id"])
    scim.patch(url, [{"op": "remove", "path": "members"}])
    assert scim.delete(url).status_code == 204
    assert team(group["id"]) is None
    scim_error(scim.get(url), 404)
    assert log_entries(resource_type="Group")[-1].action == "deleted"


def test_a_team_whose_only_members_were_deleted_can_go(scim):
    ann = scim.create_user("ann@example.com", "Ann")
    group = scim.create_group("Gone", members=[ann["id"]])
    scim.delete(f"/Users/{ann['id']}")
    assert member_ids(scim.get(f"/Groups/{group['id']}").get_json()) == []  # deleted people are no members
    assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    assert db.session.scalar(select(User.team_id).where(User.id == int(ann["id"]))) is None


def test_group_etags(scim):
    group = scim.create_group("Tagged")
    url = f"/Groups/{group['id']}"
    tag = scim.get(url).headers["ETag"]
    assert scim.get(url, headers={"If-None-Match": tag}).status_code == 304
    ann = scim.create_user("ann@example.com", "Ann")
    scim.patch(url, [{"op": "add", "path": "members", "value": [{"value": ann["id"]}]}])
    assert scim.get(url).headers["ETag"] != tag  # membership is part of the group
    scim_error(
        scim.patch(url, [{"op": "replace", "path": "displayName", "value": "X"}], headers={"If-Match": tag}), 412
    )
