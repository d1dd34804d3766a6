"""Fixes from the security review: links built on BASE_URL, mail bound to the outermost commit, headers
without line breaks, shared seat routes only for bookable kinds, deactivation, exports after demotion."""

from __future__ import annotations

import re

from program.activities import services as core
from program.activities.models import Participation, State
from program.extensions import db
from program.mail.services import OutgoingEmail, build_message, queue_email
from tests.conftest import body_text


def test_reset_link_ignores_a_forged_host_header(client, make_user, mail):
    make_user(email="victim@example.com")
    db.session.commit()
    client.post("/forgot", data={"email": "victim@example.com"}, headers={"Host": "evil.example"})
    text = body_text(mail.wait_for("victim@example.com")[0])
    assert "evil.example" not in text
    assert re.search(r"http://tandem\.test/reset/\S+", text)


def test_mail_waits_for_the_outermost_transaction(app, mail):
    queue_email("a@example.com", "accounts/password_reset", "Savepoint then rollback", user=None, link="x", hours=1)
    with db.session.begin_nested():
        pass  # a released savepoint is not the commit
    db.session.rollback()
    queue_email(
        "b@example.com", "accounts/password_reset", "Rolled-back savepoint then commit", user=None, link="x", hours=1
    )
    try:
        with db.session.begin_nested():
            raise ValueError
    except ValueError:
        pass
    db.session.commit()
    assert mail.wait_for("b@example.com")[0]["Subject"] == "Rolled-back savepoint then commit"
    assert mail.to("a@example.com") == []


def test_a_line_break_never_reaches_a_header():
    msg = build_message(
        OutgoingEmail(to="a@example.com", subject="Q4\r\nBcc: x@example.com", text="t", html="<p>t</p>"),
        "Tandem <t@example.com>",
    )
    assert msg["Subject"] == "Q4 Bcc: x@example.com" and msg["Bcc"] is None


def test_shared_seat_routes_refuse_other_kinds(login, make, now):
    from program.shadow import services as shadow

    s = make.user(role="leader", department="Sales")
    m = make.user(role="leader", department="Marketing")
    from datetime import date

    pairing = shadow.propose_pairing(s, s, m, date(2026, 11, 30), date(2026, 12, 1), now)
    shadow.answer_pairing(pairing, m, True, "", now)
    day = pairing.sales_day
    c = login(m)
    for action in ("book", "cancel-booking", "accept", "decline"):
        assert c.post(f"/activities/{day.id}/{action}").status_code == 404
    assert day.participations[0].state == State.BOOKED.value


def test_deactivation_releases_seats_and_offer_links(as_role, make, now, client):
    admin_client, admin = as_role("admin")
    ride = make.ride_along(seats=1)
    leaver, waiting = make.marketer(), make.marketer()
    core.book_seat(ride.id, leaver, now)
    pw = core.book_seat(ride.id, waiting, now)
    db.session.commit()
    assert admin_client.post(f"/admin/people/{leaver.id}/deactivate").status_code == 302
    db.session.refresh(pw)
    assert pw.state == State.OFFERED.value  # the leaver's seat went to the next person
    left = db.session.scalar(db.select(Participation).where(Participation.user_id == leaver.id))
    assert left.state == State.CANCELLED_BY_USER.value and left.events[-1].note == "deactivated"
    from program.activities.mail import offer_token

    token = offer_token(pw)
    waiting.active = False
    db.session.commit()
    assert client.get(f"/offers/{token}").status_code == 404


def test_pagination_links_drop_reserved_arguments(as_role):
    c, _ = as_role("admin")
    assert c.get("/admin/people?per_page=5&_method=POST&_external=1").status_code == 200


def test_export_downloads_need_the_role_still(app, make, login, now):
    from program.reports.models import ExportJob
    from program.reports.permissions import can_see_export

    hr = make.user(role="hr", department=None)
    job = ExportJob(kind="csv", created_by_id=hr.id) if hasattr(ExportJob, "kind") else None
    assert can_see_export(hr, job)
    hr.role = "staff"
    assert not can_see_export(hr, job)


def test_funnel_pages_only_for_funnel_and_playback_meetings(as_role, make, now):
    from datetime import date, time

    from program.reviews import meetings

    c, hr = as_role("hr")
    fields = dict(
        title="Lead criteria",
        format="lead_definition",
        day=date(2026, 11, 30),
        start=time(10),
        end=time(11),
        timezone="Europe/London",
        location="Room 1",
    )
    activity = meetings.schedule_meeting(hr, meetings.MeetingData(**fields), now)
    assert activity.meeting.format == "lead_definition"
    db.session.commit()
    assert c.get(f"/meetings/funnel/{activity.id}").status_code == 404
