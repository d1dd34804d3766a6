"""The weekly manager digest: content, one per manager per week, nothing for managers without a team."""

from __future__ import annotations

from datetime import timedelta

from program.goals.digest import send_digests
from tests.conftest import body_text
from tests.factories.reports import company


def test_each_manager_gets_one_digest_a_week(make, now, app, mail):
    c = company(make, now)
    lonely = make.user(role="leader", email="lonely@example.com")
    make.user(manager=lonely, active=False)  # only inactive reports: not a manager any more

    runner = app.test_cli_runner()  # ``flask send-digests``, added by goals.init_app
    result = runner.invoke(args=["send-digests"])
    assert result.exit_code == 0, result.output
    assert "manager digests sent: 1" in result.output  # Lee; not Lonely
    [msg] = mail.wait_for(c.lead.email)
    assert msg["Subject"] == "Your team's participation: week to 22 Nov 2026"
    text = body_text(msg)
    # Ann: 2 attended in the week (16–22 Nov: the calls 8 and 10 days ago are older), 1 no-show.
    assert "Ann Archer: 0 attended, 1 no-show" in text
    assert "Bob Baker: no goal" not in text and "Bob Baker: Ride-along 0/2 (behind)" in text
    assert "Behind or at risk: Bob Baker (behind)" in text
    assert "Overdue debriefs: 1" in text
    assert "/goals/team" in text
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert "Ann Archer" in html and "Bob Baker" in html

    # Again the same week: nothing new. Next week: a new digest.
    assert "manager digests sent: 0" in runner.invoke(args=["send-digests"]).output
    assert send_digests(now + timedelta(days=7)) == 1


def test_the_week_covers_the_last_seven_local_days(make, now, mail, app):
    from program.extensions import db

    c = company(make, now)
    yesterday = now - timedelta(days=1)
    task = make.attended_task(
        rider=c.bob, ride=make.ride_along(host=c.rep, starts_in=timedelta(days=-2)), now=yesterday
    )
    make.submit_debrief(task, at=yesterday)
    make.submit_debrief(make.attended_task(rider=c.ann), at=now)  # today: next week's digest
    assert send_digests(now) == 1
    db.session.commit()
    text = body_text(mail.wait_for(c.lead.email)[0])
    assert "Bob Baker: 1 attended (1 ride-along), 0 no-shows, 1 debrief submitted" in text
    assert "2 activities attended" not in text and "1 activity attended" in text
