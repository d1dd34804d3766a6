"""Review meetings, pages: who sees and does what (404 for the rest), schedule and invite with errors beside the
fields, answers, attendance, notes, action items, lead definitions, the list's filters and its query count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import render_template
from sqlalchemy import func, select

from program.activities.models import Activity, State
from program.debriefs.models import DebriefTask
from program.extensions import db
from program.reviews import actions, invitations, lead_definitions
from program.reviews.models import ActionItem, LeadDefinition
from tests.factories.reviews import facilitator, place, schedule


def _form(**over):
    data = {
        "title": "Q4 funnel check",
        "format": "funnel_reality_check",
        "day": "2026-11-26",
        "start": "14:00",
        "end": "15:30",
        "timezone": "Europe/London",
        "location": "Board room",
        "video_url": "",
        "agenda": "1. Numbers\n2. Ideas",
    }
    data.update(over)
    return data


@pytest.fixture
def world(make):
    """A meeting with a facilitator (who has a manager), an invitee, and people around it."""
    boss = make.user(role="leader", department="Marketing", name="Boss")
    host = make.user(role="leader", department="Marketing", manager=boss, name="Host")
    invitee = make.marketer(name="Invitee")
    activity = schedule(host, people=[invitee])
    return {"activity": activity, "host": host, "boss": boss, "invitee": invitee}


# --- permission matrix ---------------------------------------------------------------------------

VIEW = [
    ("host", 200),
    ("boss", 200),
    ("invitee", 200),
    ("leader", 200),
    ("hr", 200),
    ("admin", 200),
    ("staff", 404),
    ("other_marketer", 404),
]


def _who(make, world, who):
    if who in world:
        return world[who]
    return {
        "leader": lambda: make.user(role="leader", department="Sales"),
        "hr": lambda: make.user(role="hr", department="People"),
        "admin": lambda: make.user(role="admin", department=None),
        "staff": lambda: make.user(department="Sales"),
        "other_marketer": lambda: make.marketer(),
    }[who]()


@pytest.mark.parametrize("who,status", VIEW)
def test_who_sees_a_meeting(make, login, world, who, status):
    c = login(_who(make, world, who))
    assert c.get(f"/meetings/{world['activity'].id}").status_code == status
    listed = c.get("/meetings/").data
    assert (b"Q4 pipeline" in listed) == (status == 200)


@pytest.mark.parametrize(
    "who,status", [("host", 200), ("boss", 200), ("admin", 200), ("leader", 404), ("hr", 404), ("invitee", 404)]
)
def test_who_edits_a_meeting(make, login, world, who, status):
    c = login(_who(make, world, who))
    aid = world["activity"].id
    assert c.get(f"/meetings/{aid}/edit").status_code == status
    if status == 404:
        assert c.post(f"/meetings/{aid}/cancel", data={"reason": "x"}).status_code == 404
        assert c.post(f"/meetings/{aid}/invite", data={"departments": "1"}).status_code == 404
        assert c.post(f"/meetings/{aid}/notes", data={"notes": "mine"}).status_code == 404
        assert db.session.get(Activity, aid).status == "scheduled"


@pytest.mark.parametrize("role,status", [("staff", 404), ("leader", 200), ("hr", 200), ("admin", 200)])
def test_who_may_open_the_schedule_form(as_role, role, status):
    c, _user = as_role(role)
    assert c.get("/meetings/new").status_code == status
    assert c.post("/meetings/new", data=_form()).status_code == (302 if status == 200 else 404)


def test_unknown_and_other_kinds_are_404(login, make):
    c = login(make.user(role="admin", department=None))
    ride = make.ride_along()
    assert c.get("/meetings/99999").status_code == 404
    assert c.get(f"/meetings/{ride.id}").status_code == 404


def test_anonymous_is_sent_to_sign_in(client, world):
    resp = client.get(f"/meetings/{world['activity'].id}")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


# --- schedule and edit ---------------------------------------------------------------------------


def test_schedule_through_the_page_with_a_team(login, make):
    host = facilitator(make)
    team = make.team("Enterprise", "Sales")
    reps = [make.user(department="Sales", team=team) for _ in range(2)]
    c = login(host)
    resp = c.post("/meetings/new", data={**_form(), "teams": [str(team.id)]})
    assert resp.status_code == 302
    activity = db.session.scalar(select(Activity))
    assert activity.host_id == host.id and activity.starts_at.isoformat() == "2026-11-26T14:00:00+00:00"
    assert {p.user_id for p in activity.participations} == {r.id for r in reps}
    page = c.get(resp.headers["Location"])
    assert b"2 invitation(s) are on their way" in page.data and b"1. Numbers" in page.data


@pytest.mark.parametrize(
    "over,message",
    [
        ({"title": ""}, b"Give the meeting a title."),
        ({"format": ""}, b"Choose the meeting&#39;s format."),
        ({"end": "13:00"}, b"The meeting must end after it starts."),
        ({"day": "2026-11-20"}, b"The meeting must start in the future."),
        ({"location": ""}, b"Give a room or address, or a video link."),
        ({"people": ["999999"]}, b"Invite active people from sales and marketing only."),
    ],
)
def test_bad_schedule_input_is_shown_beside_the_field_and_kept(login, make, over, message):
    c = login(facilitator(make))
    resp = c.post("/meetings/new", data=_form(**over))
    assert resp.status_code == 422
    assert message in resp.data and b'class="error"' in resp.data
    assert b"2. Ideas" in resp.data  # what was typed is kept
    assert db.session.scalar(select(func.count(Activity.id))) == 0


def test_edit_sends_nothing_without_a_change_of_time_or_place(login, world):
    c = login(world["host"])
    aid = world["activity"].id
    assert b"Q4 pipeline" in c.get(f"/meetings/{aid}/edit").data
    resp = c.post(f"/meetings/{aid}/edit", data=_form(title="Renamed", day="2026-11-27"))
    assert resp.status_code == 302
    activity = db.session.get(Activity, aid)
    assert activity.title == "Renamed" and activity.ical_sequence == 1
    bad = c.post(f"/meetings/{aid}/edit", data=_form(end="09:00"))
    assert bad.status_code == 422 and b"must end after it starts" in bad.data


def test_cancel_through_the_page(login, world):
    c = login(world["host"])
    aid = world["activity"].id
    resp = c.post(f"/meetings/{aid}/cancel", data={"reason": "Quarter close"}, follow_redirects=True)
    assert b"1 invitee(s) were told" in resp.data and b"Quarter close" in resp.data
    assert place(world["activity"], world["invitee"]).state == State.CANCELLED_BY_HOST.value
    assert c.get(f"/meetings/{aid}/cancel").status_code == 405  # never on GET


# --- answers, invitations, attendance, notes -----------------------------------------------------


def test_rsvp_from_the_page(login, world):
    c = login(world["invitee"])
    aid = world["activity"].id
    page = c.get(f"/meetings/{aid}")
    assert b"Will you come?" in page.data
    resp = c.post(f"/meetings/{aid}/rsvp", data={"answer": "no"}, follow_redirects=True)
    assert b"Your answer: no" in resp.data
    assert place(world["activity"], world["invitee"]).state == State.DECLINED.value
    assert c.post(f"/meetings/{aid}/rsvp", data={"answer": "whatever"}).status_code == 400
    outsider = login(world["boss"])  # may see the meeting, but has no invitation to answer
    assert outsider.post(f"/meetings/{aid}/rsvp", data={"answer": "yes"}).status_code == 404


def test_invite_more_from_the_page(login, make, world):
    team = make.team("Demand Generation", "Marketing")
    members = [make.marketer(team=team) for _ in range(2)]
    c = login(world["host"])
    aid = world["activity"].id
    resp = c.post(f"/meetings/{aid}/invite", data={"teams": [str(team.id)]}, follow_redirects=True)
    assert b"2 invitation(s) sent." in resp.data
    assert all(place(world["activity"], m).state == State.INVITED.value for m in members)
    empty = c.post(f"/meetings/{aid}/invite", data={})
    assert empty.status_code == 422 and b"Choose people, teams or a department to invite." in empty.data


def test_attendance_from_the_page_creates_the_debrief_task(login, make, app, world):
    activity, invitee = world["activity"], world["invitee"]
    c = login(world["host"])
    p = place(activity, invitee)
    assert (
        c.post(
            f"/meetings/{activity.id}/attendance/{p.id}", data={"outcome": "attended"}, follow_redirects=True
        ).status_code
        == 200
    )
    assert place(activity, invitee).state == State.INVITED.value  # not before the start
    app.config["FIXED_NOW"] = activity.starts_at + timedelta(minutes=45)
    page = c.get(f"/meetings/{activity.id}")
    assert b"Mark attended" in page.data
    c.post(f"/meetings/{activity.id}/attendance/{p.id}", data={"outcome": "attended"})
    db.session.expire_all()
    assert place(activity, invitee).state == State.ATTENDED.value
    assert db.session.scalar(select(DebriefTask).where(DebriefTask.participation_id == p.id)) is not None
    self_mark = login(invitee)
    assert self_mark.post(f"/meetings/{activity.id}/attendance/{p.id}", data={"outcome": "no_show"}).status_code == 404


def test_notes_are_kept_by_the_facilitator(login, world):
    c = login(world["host"])
    aid = world["activity"].id
    resp = c.post(f"/meetings/{aid}/notes", data={"notes": "MQL to SQL fell to 24 %."}, follow_redirects=True)
    assert b"Notes saved." in resp.data
    assert b"MQL to SQL fell to 24 %." in login(world["invitee"]).get(f"/meetings/{aid}").data
    long = c.post(f"/meetings/{aid}/notes", data={"notes": "x" * 20001})
    assert long.status_code == 422 and b'class="error"' in long.data


# --- action items --------------------------------------------------------------------------------


def test_add_and_update_actions_through_the_page(login, world, now):
    activity, host, invitee = world["activity"], world["host"], world["invitee"]
    c = login(host)
    resp = c.post(
        f"/meetings/{activity.id}/actions",
        data={"title": "Fix the demo form", "owner_id": str(invitee.id), "due_date": "2026-12-01"},
    )
    assert resp.status_code == 302
    item = db.session.scalar(select(ActionItem))
    assert (item.owner_id, item.due_date.isoformat(), item.status) == (invitee.id, "2026-12-01", "open")
    bad = c.post(
        f"/meetings/{activity.id}/actions",
        data={"title": "Kept title", "owner_id": str(invitee.id), "due_date": "2026-11-01"},
    )
    assert bad.status_code == 422
    assert b"The due date can&#39;t be in the past." in bad.data and b"Kept title" in bad.data

    owner = login(invitee)
    assert owner.get(f"/meetings/{activity.id}/actions/{item.id}/edit").status_code == 404  # facilitator only
    owner.post(f"/meetings/{activity.id}/actions/{item.id}/status", data={"status": "done"})
    db.session.expire_all()
    assert db.session.get(ActionItem, item.id).status == "done"

    edit = c.post(
        f"/meetings/{activity.id}/actions/{item.id}/edit",
        data={"title": "Fix the demo form (v2)", "owner_id": str(host.id), "due_date": "2026-12-03", "status": "open"},
    )
    assert edit.status_code == 302
    db.session.expire_all()
    item = db.session.get(ActionItem, item.id)
    assert (item.title, item.owner_id, item.status) == ("Fix the demo form (v2)", host.id, "open")


def test_actions_are_closed_to_outsiders(login, make, world, now):
    activity = world["activity"]
    item = actions.add_action(activity, world["host"], actions.ActionData("Do", world["invitee"].id, now.date()), now)
    leader = make.user(role="leader", department="Sales")  # sees the meeting, but neither owns nor facilitates
    c = login(leader)
    assert (
        c.post(
            f"/meetings/{activity.id}/actions",
            data={"title": "x", "owner_id": str(leader.id), "due_date": "2026-12-01"},
        ).status_code
        == 404
    )
    assert c.post(f"/meetings/{activity.id}/actions/{item.id}/status", data={"status": "done"}).status_code == 404
    other = schedule(world["host"], title="Another")
    assert login(world["host"]).get(f"/meetings/{other.id}/actions/{item.id}/edit").status_code == 404  # wrong meeting
    db.session.expire_all()
    assert db.session.get(ActionItem, item.id).status == "open"


def test_previous_meetings_open_actions_show_on_the_next(login, make, now):
    host = facilitator(make)
    owner = make.marketer(name="Olive Owner")
    past = schedule(host, starts_in=timedelta(days=-14), people=[owner], title="November check")
    at = past.ends_at + timedelta(hours=1)
    actions.add_action(past, host, actions.ActionData("Carry me over", owner.id, at.date() + timedelta(days=3)), at)
    done = actions.add_action(
        past, host, actions.ActionData("Already done", owner.id, at.date() + timedelta(days=3)), at
    )
    actions.set_action_status(done, owner, "done", now)
    nxt = schedule(host, starts_in=timedelta(days=14), people=[owner], title="December check")
    page = login(owner).get(f"/meetings/{nxt.id}").data
    carried = page.split(b'id="carried"')[1]
    assert b"Carry me over" in carried and b"Already done" not in carried and b"November check" in carried
    assert b"overdue" in carried


# --- lead definitions ----------------------------------------------------------------------------


def test_lead_definition_recorded_and_signed_through_the_pages(login, make):
    sales = make.user(role="leader", department="Sales", name="Sam Sales")
    marketing = make.user(role="leader", department="Marketing", name="Mia Marketing")
    session = schedule(sales, fmt="lead_definition", title="What counts", people=[marketing])
    c = login(sales)
    page = c.get(f"/meetings/{session.id}")
    assert b"Record a new version" in page.data
    bad = c.post(f"/meetings/{session.id}/lead-definitions", data={"criteria": "", "effective_date": ""})
    assert bad.status_code == 422 and b"Write down the criteria of a qualified lead." in bad.data
    c.post(
        f"/meetings/{session.id}/lead-definitions", data={"criteria": "Demo requested", "effective_date": "2026-11-23"}
    )
    defn = db.session.scalar(select(LeadDefinition))
    assert (defn.version, defn.activity_id) == (1, session.id)
    c.post(f"/meetings/lead-definition/{defn.id}/sign-off", data={"back": str(session.id)})
    history = login(marketing).get("/meetings/lead-definition").data
    assert b"Awaiting sign-off by a marketing leader" in history and b"Sign off for marketing" in history
    login(marketing).post(f"/meetings/lead-definition/{defn.id}/sign-off")
    history = login(make.user(department="Sales")).get("/meetings/lead-definition").data
    assert b"In force" in history and b"Sam Sales" in history and b"Mia Marketing" in history
    assert b"Record a new version" not in history  # staff read, they don't record


def test_lead_definition_refusals(login, make):
    staff = login(make.user(department="Sales"))
    assert (
        staff.post("/meetings/lead-definition", data={"criteria": "x", "effective_date": "2026-12-01"}).status_code
        == 404
    )
    assert db.session.scalar(select(func.count(LeadDefinition.id))) == 0
    frc = schedule(facilitator(make))
    assert (
        login(frc.host)
        .post(f"/meetings/{frc.id}/lead-definitions", data={"criteria": "x", "effective_date": "2026-12-01"})
        .status_code
        == 404
    )
    defn = lead_definitions.record_lead_definition(frc.host, "Criteria", frc.starts_at.date(), frc.starts_at)
    db.session.commit()
    resp = staff.post(f"/meetings/lead-definition/{defn.id}/sign-off", follow_redirects=True)
    assert b"Only a sales leader or a marketing leader signs off" in resp.data
    assert staff.post("/meetings/lead-definition/99999/sign-off").status_code == 404
    assert staff.get("/lead-definition").headers["Location"].endswith("/meetings/lead-definition")


def test_dashboard_tile_shows_the_current_definition(app, make, now):
    sales = make.user(role="leader", department="Sales", name="Sam Sales")
    marketing = make.user(role="leader", department="Marketing", name="Mia Marketing")
    defn = lead_definitions.record_lead_definition(sales, "Demo requested; 200+ staff", now.date(), now)
    lead_definitions.sign_off_lead_definition(defn, sales, now)
    lead_definitions.sign_off_lead_definition(defn, marketing, now)
    with app.test_request_context():
        html = render_template(
            "reviews/_lead_definition_tile.html", lead_definition=lead_definitions.current_lead_definition(now.date())
        )
        empty = render_template("reviews/_lead_definition_tile.html", lead_definition=None)
    assert "Demo requested; 200+ staff" in html and "Version 1" in html and "Mia Marketing (marketing)" in html
    assert "haven't agreed a definition yet" in empty


# --- the list ------------------------------------------------------------------------------------


def test_list_filters_by_format_and_time(login, make):
    host = facilitator(make)
    schedule(host, title="Upcoming funnel")
    schedule(host, title="Upcoming playback", fmt="win_loss_playback", starts_in=timedelta(days=4))
    schedule(host, title="Past funnel", starts_in=timedelta(days=-5))
    c = login(host)
    upcoming = c.get("/meetings/").data
    assert b"Upcoming funnel" in upcoming and b"Upcoming playback" in upcoming and b"Past funnel" not in upcoming
    only = c.get("/meetings/?format=win_loss_playback").data
    assert b"Upcoming playback" in only and b"Upcoming funnel" not in only
    past = c.get("/meetings/?show=past").data
    assert b"Past funnel" in past and b"Upcoming funnel" not in past


def test_list_is_paginated(login, make):
    host = facilitator(make)
    for i in range(7):
        schedule(host, title=f"Meeting {i}", starts_in=timedelta(days=2, hours=i))
    c = login(host)
    first = c.get("/meetings/?per_page=5").data
    assert b"Meeting 4" in first and b"Meeting 5" not in first and b"Page 1 of 2" in first
    assert b"Meeting 6" in c.get("/meetings/?per_page=5&page=2").data


def test_list_query_count_does_not_grow(login, make, now, count_queries):
    viewer = make.marketer()
    host = facilitator(make)

    def add(n, offset):
        for i in range(n):
            m = schedule(host, starts_in=timedelta(days=offset, hours=i), people=[viewer, make.marketer()])
            invitations.rsvp(place(m, viewer), viewer, "yes", now)

    add(2, 2)
    c = login(viewer)
    db.session.commit()
    with count_queries() as few:
        assert c.get("/meetings/").status_code == 200
    add(10, 4)
    db.session.commit()
    with count_queries() as many:
        c.get("/meetings/")
    assert many.count == few.count


def test_detail_query_count_does_not_grow_with_invitees(login, make, count_queries, now):
    host = facilitator(make)
    first = [make.marketer() for _ in range(2)]
    activity = schedule(host, people=first)
    for p in first:
        actions.add_action(activity, host, actions.ActionData("Do", p.id, now.date()), now)
    c = login(host)
    db.session.commit()
    c.get(f"/meetings/{activity.id}")  # warm up: both measured requests find the signed-in user cached alike
    with count_queries() as few:
        assert c.get(f"/meetings/{activity.id}").status_code == 200
    more = [make.marketer(team=make.team(f"T{i}", "Marketing")) for i in range(8)]
    invitations.invite_people(activity, host, more, now)
    for p in more:
        actions.add_action(activity, host, actions.ActionData("Do", p.id, now.date()), now)
    db.session.commit()
    c.get(f"/meetings/{activity.id}")
    with count_queries() as many:
        c.get(f"/meetings/{activity.id}")
    assert many.count == few.count


def test_the_meeting_page_and_its_funnel_pages_link_each_other(login, world):
    host, aid = world["host"], world["activity"].id  # a Funnel Reality Check
    playback = schedule(host, fmt="win_loss_playback", people=[world["invitee"]], title="Wins and losses")
    session = schedule(host, fmt="lead_definition", people=[world["invitee"]], title="Leads")
    db.session.commit()
    c = login(host)
    page = c.get(f"/meetings/{aid}").get_data(as_text=True)
    assert f'<a href="/meetings/funnel/{aid}">Funnel numbers, mini-teams and ideas</a>' in page
    assert f'href="/meetings/{aid}">the meeting</a>' in c.get(f"/meetings/funnel/{aid}").get_data(as_text=True)
    page = c.get(f"/meetings/{playback.id}").get_data(as_text=True)
    assert f'<a href="/meetings/funnel/{playback.id}/deals">Deals and feedback</a>' in page
    assert "Funnel work" not in c.get(f"/meetings/{session.id}").get_data(as_text=True)


def test_booking_a_meeting_like_a_ride_does_not_open_it(login, make, world):
    """The core's generic booking URL puts an uninvited person on a 'waitlist' (meetings have no seats);
    that must not make the meeting visible to them."""
    outsider = make.marketer()
    c = login(outsider)
    aid = world["activity"].id
    c.post(f"/activities/{aid}/book")
    p = place(world["activity"], outsider)
    assert p is None or p.state == State.WAITLISTED.value  # today the core waitlists them
    assert c.get(f"/meetings/{aid}").status_code == 404
