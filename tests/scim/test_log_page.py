"""The provisioning log page: who changed what and when, each field before → after, filterable, paginated,
for admins only."""

from __future__ import annotations

import re

from tests.scim.conftest import ENTERPRISE


def rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in body.split("</tr>") if "<td" in row]


def test_the_log_shows_each_change_as_before_and_after(scim, as_role):
    ada = scim.create_user("ada@example.com", "Ada", **{ENTERPRISE: {"department": "Sales"}})
    scim.patch(f"/Users/{ada['id']}", [{"op": "replace", "path": "displayName", "value": "Ada L"}])
    scim.patch(f"/Users/{ada['id']}", [{"op": "replace", "path": "active", "value": False}])
    admin, _ = as_role("admin")
    page = admin.get("/admin/scim/log")
    assert page.status_code == 200
    shown = rows(page.get_data(as_text=True))
    assert len(shown) == 4  # newest first
    assert shown[0].startswith("Mon 23 Nov 2026") and "scim:Okta" in shown[0]
    assert f"User {ada['id']} deactivated" in shown[0] and "active : True → False" in shown[0]
    assert f"User {ada['id']} updated" in shown[1] and "name : Ada → Ada L" in shown[1]
    assert "email" not in shown[1]  # only what changed
    assert f"User {ada['id']} created" in shown[2] and "email : — → ada@example.com" in shown[2]
    assert "department : — → Sales" in shown[2]
    assert "Department" in shown[3] and "created" in shown[3]


def test_the_log_filters_and_paginates(scim, as_role):
    made = [scim.create_user(f"p{i}@example.com", f"P{i}") for i in range(7)]
    admin, _ = as_role("admin")
    only = rows(admin.get(f"/admin/scim/log?resource_id={made[3]['id']}").get_data(as_text=True))
    assert len(only) == 1 and "p3@example.com" in only[0]
    assert "Nothing matches" in admin.get("/admin/scim/log?actor=scim:Nobody").get_data(as_text=True)
    by_actor = admin.get("/admin/scim/log?actor=scim:Okta").get_data(as_text=True)
    assert len(rows(by_actor)) == 7 and '<option value="scim:Okta" selected>' in by_actor
    first = admin.get("/admin/scim/log?per_page=5").get_data(as_text=True)
    assert len(rows(first)) == 5 and "Page 1 of 2" in first
    second = admin.get("/admin/scim/log?per_page=5&page=2").get_data(as_text=True)
    assert len(rows(second)) == 2 and "p0@example.com" in rows(second)[-1]


def test_only_admins_see_the_log(as_role, client):
    for role in ("staff", "leader", "hr"):
        other, _ = as_role(role)
        assert other.get("/admin/scim/log").status_code == 404
    assert client.get("/admin/scim/log").status_code == 302
    admin, _ = as_role("admin")
    assert "has been provisioned yet" in admin.get("/admin/scim/log").get_data(as_text=True)
