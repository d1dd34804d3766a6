"""Goal pages: who may open what, setting goals and leave through the forms, the dashboard pieces."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import render_template

from program.extensions import db
from program.goals.dashboards import dashboard_context
from program.goals.models import Goal, Leave
from tests.factories.goals import goal, veteran

MANAGE_URLS = ["/goals/manage", "/goals/leave", "/goals/overview"]


@pytest.mark.parametrize("role", ["staff", "leader"])
@pytest.mark.parametrize("url", MANAGE_URLS)
def test_hr_pages_are_not_there_for_others(as_role, role, url):
    client, _ = as_role(role)
    assert client.get(url).status_code == 404
    assert client.post(url, data={}).status_code in (404, 405)


@pytest.mark.parametrize("role", ["hr", "admin"])
@pytest.mark.parametrize("url", MANAGE_URLS)
def test_hr_and_admins_open_them(as_role, role, url):
    client, _ = as_role(role)
    assert client.get(url).status_code == 200


def test_signed_out_is_sent_to_sign_in(client):
    for url in ["/goals/", "/goals/team", *MANAGE_URLS]:
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_my_goals_page(make, login, now):
    m = veteran(make.marketer())
    goal(target=2, department=m.department)
    make.submit_debrief(make.attended_task(rider=m))
    make.ride_along(starts_in=timedelta(days=2), account="Northwind")
    html = login(m).get("/goals/").get_data(as_text=True)
    assert "Ride-along" in html and "1 of 2 done" in html and "8 days left" in html
    assert "Northwind" in html  # a suggestion that would count
    assert 'data-status="at_risk"' in html  # 1 + 1/22 × 8 days projects 1.4 < 2


def test_my_goals_without_a_goal(make, login):
    html = login(make.marketer()).get("/goals/").get_data(as_text=True)
    assert "No participation goal applies to you" in html


def test_hr_sets_a_goal_through_the_form(make, login):
    hr = make.user(role="hr")
    marketing = make.department("Marketing")
    client = login(hr)
    response = client.post(
        "/goals/manage",
        data={
            "kind": "ride_along",
            "target": "3",
            "period": "quarter",
            "scope": "department",
            "department_id": str(marketing.id),
            "requires_debrief": "y",
            "note": "Q4 push",
        },
    )
    assert response.status_code == 302
    g = db.session.scalar(db.select(Goal))
    assert (g.kind, g.target, g.period, g.scope_key, g.requires_debrief) == (
        "ride_along",
        3,
        "quarter",
        f"department:{marketing.id}",
        True,
    )
    listing = client.get("/goals/manage").get_data(as_text=True)
    assert "3 ride-alongs per quarter" in listing and "Department Marketing" in listing

    # The same again is refused next to the field, with what was typed kept.
    again = client.post(
        "/goals/manage",
        data={
            "kind": "ride_along",
            "target": "5",
            "period": "month",
            "scope": "department",
            "department_id": str(marketing.id),
        },
    )
    html = again.get_data(as_text=True)
    assert again.status_code == 422
    assert "already a goal" in html and 'value="5"' in html


def test_goal_form_errors(make, login):
    client = login(make.user(role="admin"))
    response = client.post(
        "/goals/manage",
        data={
            "kind": "ride_along",
            "target": "0",
            "period": "month",
            "scope": "person",
            "person_email": "ghost@example.com",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "from 1 to 500" in html
    response = client.post(
        "/goals/manage",
        data={
            "kind": "ride_along",
            "target": "2",
            "period": "month",
            "scope": "person",
            "person_email": "ghost@example.com",
        },
    )
    assert "No one has that email address" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Goal.id))) == 0


def test_edit_and_delete_a_goal(make, login):
    hr = make.user(role="hr")
    person = make.marketer(email="pat@example.com")
    g = goal(target=2, person=person)
    client = login(hr)
    assert "pat@example.com" in client.get(f"/goals/{g.id}/edit").get_data(as_text=True)
    response = client.post(
        f"/goals/{g.id}/edit",
        data={
            "kind": "ride_along",
            "target": "4",
            "period": "month",
            "scope": "person",
            "person_email": "pat@example.com",
        },
    )
    assert response.status_code == 302
    db.session.refresh(g)
    assert g.target == 4 and g.requires_debrief is False  # unticked box: every attended activity counts
    assert client.post(f"/goals/{g.id}/delete").status_code == 302
    assert db.session.get(Goal, g.id) is None
    assert client.post("/goals/999/delete").status_code == 404
    assert login(person).post(f"/goals/{g.id}/delete").status_code == 404


def test_leave_through_the_form(make, login):
    hr = make.user(role="hr")
    make.marketer(email="away@example.com", name="Ava Away")
    client = login(hr)
    bad = client.post(
        "/goals/leave", data={"person_email": "away@example.com", "starts_on": "2026-11-10", "ends_on": "2026-11-01"}
    )
    assert bad.status_code == 422 and "be before the first" in bad.get_data(as_text=True)
    ok = client.post(
        "/goals/leave",
        data={
            "person_email": "away@example.com",
            "starts_on": "2026-11-01",
            "ends_on": "2026-11-10",
            "note": "Holiday",
        },
    )
    assert ok.status_code == 302
    record = db.session.scalar(db.select(Leave))
    assert "Ava Away" in client.get("/goals/leave?q=ava").get_data(as_text=True)
    assert client.post(f"/goals/leave/{record.id}/delete").status_code == 302
    assert db.session.get(Leave, record.id) is None


def test_team_page_is_for_managers(make, login, now):
    lead = make.marketer(role="leader", name="Lee Lead")
    behind = veteran(make.marketer(manager=lead, name="Bea Behind"))
    goal(target=2, department=lead.department)
    task = make.attended_task(rider=behind)
    task.due_at = now - timedelta(days=3)
    db.session.flush()
    assert login(behind).get("/goals/team").status_code == 404
    html = login(lead).get("/goals/team").get_data(as_text=True)
    assert "Bea Behind" in html and 'data-status="behind"' in html
    assert "Overdue debriefs" in html and "Ride-along" in html


def test_overview_shows_rollups_and_charts(make, login):
    m = veteran(make.marketer())
    goal(target=1, department=m.department)
    make.submit_debrief(make.attended_task(rider=m, segment="SMB", stage="MQL"))
    html = login(make.user(role="hr")).get("/goals/overview").get_data(as_text=True)
    assert "Marketing" in html and html.count("<svg") == 4
    assert "SMB / MQL: 1" in html  # the heatmap's text description
    assert "style=" not in html.split("<svg", 1)[1]  # charts obey the CSP: no inline styles


def test_dashboard_pieces(make, now, app):
    hr = make.user(role="hr")
    lead = make.marketer(role="leader")
    m = veteran(make.marketer(manager=lead))
    goal(target=2, department=m.department)
    make.submit_debrief(make.attended_task(rider=m))

    mine = dashboard_context(m, now)["goals_dash"]
    assert mine.team is None and mine.org is None and mine.me.goals[0].done == 1
    assert dashboard_context(lead, now)["goals_dash"].team.people[0].user_id == m.id
    org = dashboard_context(hr, now)["goals_dash"].org
    assert org is not None and org.total.with_goal == 2

    with app.test_request_context():
        from flask_login import login_user

        for user in (m, lead, hr):
            login_user(user)
            ctx = dashboard_context(user, now)
            html = "".join(render_template(f"goals/_dashboard_{part}.html", **ctx) for part in ("me", "team", "org"))
            assert "My goals" in html
            assert ("My team" in html) == (user is lead)
            assert ("Across the organisation" in html) == (user is hr)
        # Without the context (not wired yet) the partials render nothing rather than failing.
        assert render_template("goals/_dashboard_me.html").strip() == ""


def test_team_page_pages_and_filters_the_team(make, login, now):
    lead = make.marketer(role="leader", name="Lee Lead")
    goal(target=1, department=lead.department)
    done = veteran(make.marketer(manager=lead, name="Dee Done", email="dee@example.com"))
    make.submit_debrief(make.attended_task(rider=done))
    for n in range(11):  # nothing done, no seats to book: at risk (the line ⌊1 × 22/30⌋ is still 0)
        veteran(make.marketer(manager=lead, name=f"Bea {n:02d}", email=f"bea{n}@example.com"))
    client = login(lead)

    first = client.get("/goals/team?per_page=5").get_data(as_text=True)
    third = client.get("/goals/team?per_page=5&page=3").get_data(as_text=True)
    assert first.count("data-person=") == 5 and third.count("data-person=") == 2
    assert "Page 1 of 3" in first and "12 people: 1 met" in first
    met = client.get("/goals/team?status=met").get_data(as_text=True)
    assert met.count("data-person=") == 1 and 'data-person="dee@example.com"' in met
    at_risk = client.get("/goals/team?status=at_risk&per_page=100").get_data(as_text=True)
    assert at_risk.count("data-person=") == 11 and "dee@example.com" not in at_risk
    # Eleven at risk: the list names ten and points at the filtered table for the rest.
    assert "11 in all" in first and "/goals/team?status=at_risk" in first
    nonsense = client.get("/goals/team?status=nonsense&per_page=100").get_data(as_text=True)
    assert nonsense.count("data-person=") == 12  # an unknown status filters nothing
