"""People admin: list, search, filter, paginate; create, edit, deactivate; role guards."""

from __future__ import annotations

import pytest

from program.accounts.models import User
from program.extensions import db


@pytest.mark.parametrize("role,status", [("admin", 200), ("hr", 200), ("leader", 404), ("staff", 404)])
def test_people_list_by_role(as_role, role, status):
    c, _ = as_role(role)
    assert c.get("/admin/people").status_code == status


@pytest.mark.parametrize(
    "url,method",
    [
        ("/admin/people/new", "get"),
        ("/admin/departments", "get"),
        ("/admin/teams", "get"),
        ("/admin/people/import", "get"),
        ("/admin/outbox", "get"),
        ("/admin/people/import/sample.csv", "get"),
        ("/admin/people/1/deactivate", "post"),
    ],
)
@pytest.mark.parametrize("role", ["hr", "leader", "staff"])
def test_admin_only_pages_are_404_for_others(as_role, make_user, role, url, method):
    make_user()  # so person 1 exists
    c, _ = as_role(role)
    assert getattr(c, method)(url).status_code == 404


def test_people_search_filter_and_paginate(as_role, make):
    c, admin = as_role("admin")
    for i in range(30):
        make.user(name=f"Sales Person {i:02d}", department="Sales")
    make.user(name="Mona Marketer", department="Marketing", email="mona@example.com")
    make.user(name="Old Timer", active=False)
    db.session.commit()
    page1 = c.get("/admin/people?per_page=10")
    assert b"Page 1 of 4" in page1.data
    assert b"Old Timer" not in c.get("/admin/people?per_page=100").data
    assert b"Old Timer" in c.get("/admin/people?status=inactive").data
    found = c.get("/admin/people?q=MONA")
    assert b"Mona Marketer" in found.data and b"Sales Person" not in found.data
    dept = make.department("Marketing")
    only = c.get(f"/admin/people?department={dept.id}")
    assert b"Mona Marketer" in only.data and b"Sales Person 01" not in only.data
    leaders = c.get("/admin/people?role=admin")
    assert admin.name.encode() in leaders.data and b"Mona" not in leaders.data


def test_people_list_query_count_is_flat(as_role, make, count_queries):
    c, _ = as_role("admin")
    boss = make.user(name="Boss")
    for i in range(5):
        make.user(manager=boss, team=make.team(f"T{i}"))
    db.session.commit()
    with count_queries() as few:
        c.get("/admin/people")
    for i in range(20):
        make.user(manager=boss, team=make.team(f"U{i}"), department="Marketing")
    db.session.commit()
    with count_queries() as many:
        c.get("/admin/people")
    assert many.count == few.count


def test_create_person_with_errors_keeps_input(as_role, make):
    c, _ = as_role("admin")
    make.user(email="taken@example.com")
    db.session.commit()
    resp = c.post(
        "/admin/people/new",
        data={
            "name": "New Person",
            "email": "taken@example.com",
            "role": "staff",
            "timezone": "Not/AZone",
            "department_id": "",
            "team_id": "",
            "manager_id": "",
        },
    )
    assert resp.status_code == 422
    assert b"Someone already has this email address" in resp.data or b"Not a valid choice" in resp.data
    assert b'value="New Person"' in resp.data
    assert db.session.scalar(db.select(db.func.count(User.id)).where(User.name == "New Person")) == 0


def test_create_and_edit_person(as_role, make):
    c, _ = as_role("admin")
    dept = make.department("Marketing")
    team = make.team("Content", "Marketing")
    boss = make.user(name="Boss", department="Marketing")
    db.session.commit()
    resp = c.post(
        "/admin/people/new",
        data={
            "name": "Nia New",
            "email": "Nia@Example.com",
            "role": "staff",
            "timezone": "Europe/Berlin",
            "department_id": dept.id,
            "team_id": team.id,
            "manager_id": boss.id,
            "active": "y",
        },
    )
    assert resp.status_code == 302
    nia = db.session.scalar(db.select(User).where(User.email == "nia@example.com"))
    assert nia.manager_id == boss.id and nia.team_id == team.id and nia.timezone == "Europe/Berlin"
    resp = c.post(
        f"/admin/people/{nia.id}/edit",
        data={
            "name": "Nia Renamed",
            "email": "nia@example.com",
            "role": "leader",
            "timezone": "Europe/Berlin",
            "department_id": dept.id,
            "team_id": team.id,
            "manager_id": "",
            "active": "y",
        },
    )
    assert resp.status_code == 302
    db.session.refresh(nia)
    assert nia.name == "Nia Renamed" and nia.role == "leader" and nia.manager_id is None


def test_team_of_other_department_is_refused(as_role, make):
    c, _ = as_role("admin")
    sales = make.department("Sales")
    team = make.team("Content", "Marketing")
    db.session.commit()
    resp = c.post(
        "/admin/people/new",
        data={
            "name": "X",
            "email": "x@example.com",
            "role": "staff",
            "timezone": "UTC",
            "department_id": sales.id,
            "team_id": team.id,
            "manager_id": "",
            "active": "y",
        },
    )
    assert resp.status_code == 422 and b"belongs to another department" in resp.data


def test_manager_circle_is_refused(as_role, make):
    c, _ = as_role("admin")
    a = make.user(name="A")
    b = make.user(name="B", manager=a)
    db.session.commit()
    resp = c.post(
        f"/admin/people/{a.id}/edit",
        data={
            "name": "A",
            "email": a.email,
            "role": "staff",
            "timezone": "UTC",
            "department_id": "",
            "team_id": "",
            "manager_id": b.id,
            "active": "y",
        },
    )
    assert resp.status_code == 422 and b"circle of managers" in resp.data


def test_deactivate_signs_out_and_blocks_sign_in(as_role, make, login):
    c, admin = as_role("admin")
    person = make.user(email="leaving@example.com")
    their_client = login(person)
    assert their_client.get("/").status_code == 200
    assert c.post(f"/admin/people/{person.id}/deactivate").status_code == 302
    db.session.refresh(person)
    assert person.active is False
    assert their_client.get("/").status_code == 302
    resp = c.application.test_client().post(
        "/login", data={"email": "leaving@example.com", "password": "correct-horse-battery"}
    )
    assert resp.status_code == 422
    assert db.session.get(User, person.id) is not None  # history stays


def test_admin_cannot_deactivate_self(as_role):
    c, admin = as_role("admin")
    c.post(f"/admin/people/{admin.id}/deactivate")
    db.session.refresh(admin)
    assert admin.active is True


def test_departments_and_teams(as_role, make):
    c, _ = as_role("admin")
    assert c.post("/admin/departments", data={"name": "Customer Success", "function": "other"}).status_code == 302
    dup = c.post("/admin/departments", data={"name": "customer success", "function": "other"})
    assert dup.status_code == 422 and b"exists" in dup.data
    dept = make.department("Customer Success")
    assert (
        c.post("/admin/teams", data={"name": "Onboarding", "department_id": dept.id, "manager_id": ""}).status_code
        == 302
    )
    assert b"Onboarding" in c.get("/admin/teams").data
