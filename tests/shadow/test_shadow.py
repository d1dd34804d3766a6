"""Shadow days: suggestions, proposals and answers, expiry, the two linked days, date changes,
attendance → debrief due 7 days later, follow-ups, visibility."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from program.activities import services as core
from program.activities.models import State
from program.debriefs.models import DebriefTask
from program.errors import InvalidTransition, NotAllowed, ValidationFailed
from program.extensions import db
from program.jobs import run_all
from program.shadow import services as shadow
from program.shadow.models import FollowUp, ShadowPairing
from tests.conftest import body_text, calendar_part, parse_ics

MON, TUE = date(2026, 11, 30), date(2026, 12, 1)


def leaders(make):
    s = make.user(role="leader", department="Sales", name="Sam Sales", email="sam@example.com")
    m = make.user(role="leader", department="Marketing", name="Mia Marketing", email="mia@example.com")
    return s, m


def accepted(make, now):
    s, m = leaders(make)
    pairing = shadow.propose_pairing(s, s, m, MON, TUE, now)
    shadow.answer_pairing(pairing, m, True, "", now)
    return pairing, s, m


def test_suggestions_follow_the_rules(make, now):
    s, m = leaders(make)
    boss = make.user(role="leader", department="Marketing", name="Boss Marketing")
    s.manager = boss  # same reporting line as "Boss Marketing"
    recent = make.user(role="leader", department="Marketing", name="Recent Partner")
    busy = make.user(role="leader", department="Marketing", name="Busy Partner")
    make.user(role="leader", department="Sales", name="Other Sales Lead")
    make.user(role="staff", department="Marketing", name="Not A Leader")
    p = shadow.propose_pairing(s, s, recent, MON, TUE, now - timedelta(days=60))
    shadow.answer_pairing(p, recent, True, "", now - timedelta(days=60))
    hr = make.user(role="hr", department=None)
    old = shadow.propose_pairing(
        hr, make.user(role="leader", department="Sales"), busy, MON, TUE, now - timedelta(days=400)
    )
    old.status = "completed"
    names = [u.name for u, _ in shadow.suggest_partners(s, now)]
    assert names == ["Mia Marketing", "Busy Partner"]  # fewest past pairings first
    with pytest.raises(ValidationFailed) as info:
        shadow.propose_pairing(s, s, recent, MON, TUE, now)
    assert "paired in the last 12 months" in info.value.errors["marketing_leader_id"]
    with pytest.raises(ValidationFailed) as info:
        shadow.propose_pairing(s, s, boss, MON, TUE, now)
    assert "reporting line" in info.value.errors["marketing_leader_id"]


def test_proposal_validation(make, now):
    s, m = leaders(make)
    with pytest.raises(ValidationFailed) as info:
        shadow.propose_pairing(s, s, m, date(2026, 11, 23), date(2026, 11, 28), now)
    assert "after today" in info.value.errors["sales_day"] and "working day" in info.value.errors["marketing_day"]
    with pytest.raises(NotAllowed):
        shadow.propose_pairing(make.marketer(), s, m, MON, TUE, now)
    hr = make.user(role="hr", department=None)
    pairing = shadow.propose_pairing(hr, s, m, MON, TUE, now)
    assert (pairing.sales_answer, pairing.marketing_answer) == ("pending", "pending")


def test_accept_creates_two_all_day_days_with_invites(make, now, mail):
    s, m = leaders(make)
    pairing = shadow.propose_pairing(s, s, m, MON, TUE, now)
    db.session.commit()
    proposal = mail.wait_for("mia@example.com")[0]
    assert "Shadow day proposal" in proposal["Subject"] and "/shadow-days/" in body_text(proposal)
    shadow.answer_pairing(pairing, m, True, "", now)
    db.session.commit()
    assert pairing.status == "accepted"
    sales_day, marketing_day = pairing.sales_day, pairing.marketing_day
    assert (sales_day.host_id, marketing_day.host_id) == (s.id, m.id)
    assert sales_day.all_day and sales_day.participations[0].user_id == m.id
    assert sales_day.participations[0].state == State.BOOKED.value
    invite = next(msg for msg in mail.wait_for("mia@example.com", 3) if calendar_part(msg))
    ev = parse_ics(calendar_part(invite).get_content()).vevent
    assert ev.dtstart.value == MON and ev.dtend.value == MON + timedelta(days=1)


def test_decline_needs_a_reason_and_tells_the_proposer(make, now, mail):
    s, m = leaders(make)
    pairing = shadow.propose_pairing(s, s, m, MON, TUE, now)
    with pytest.raises(ValidationFailed):
        shadow.answer_pairing(pairing, m, False, "  ", now)
    shadow.answer_pairing(pairing, m, False, "Quarter-end crunch", now)
    db.session.commit()
    assert pairing.status == "declined"
    told = [msg for msg in mail.wait_for("sam@example.com") if "declined" in msg["Subject"]]
    assert told and "Quarter-end crunch" in body_text(told[0])
    with pytest.raises(InvalidTransition):
        shadow.answer_pairing(pairing, m, True, "", now)


def test_unanswered_proposal_expires_after_7_days(make, now, mail):
    s, m = leaders(make)
    pairing = shadow.propose_pairing(s, s, m, date(2026, 12, 7), date(2026, 12, 8), now)
    db.session.commit()
    assert dict(run_all(now + timedelta(days=6)))["shadow proposals expired"] == 0
    assert dict(run_all(now + timedelta(days=7, minutes=1)))["shadow proposals expired"] == 1
    db.session.commit()
    assert pairing.status == "expired"
    assert any("expired" in msg["Subject"] for msg in mail.wait_for("sam@example.com", 1))
    assert dict(run_all(now + timedelta(days=8)))["shadow proposals expired"] == 0


def test_date_change_needs_the_other_leader(make, now, mail):
    pairing, s, m = accepted(make, now)
    day = pairing.sales_day
    change = shadow.propose_date_change(day, m, date(2026, 12, 3), now)
    with pytest.raises(NotAllowed):
        shadow.answer_date_change(change, m, True, now)
    db.session.commit()
    shadow.answer_date_change(change, s, True, now)
    db.session.commit()
    assert pairing.sales_day_date == date(2026, 12, 3) and day.ical_sequence == 1
    update = [msg for msg in mail.wait_for("mia@example.com", 4) if msg["Subject"].startswith("Updated:")][-1]
    ev = parse_ics(calendar_part(update).get_content()).vevent
    assert ev.dtstart.value == date(2026, 12, 3) and int(ev.sequence.value) == 1 and ev.uid.value == day.ical_uid


def test_attended_day_gives_debrief_due_7_days_later_and_follow_ups(make, now, app):
    pairing, s, m = accepted(make, now)
    day = pairing.sales_day
    visit = day.participations[0]
    later = day.starts_at + timedelta(hours=10)
    core.mark_attendance(visit, s, True, later)
    task = db.session.scalar(db.select(DebriefTask).where(DebriefTask.participation_id == visit.id))
    assert task.due_at.astimezone(__import__("zoneinfo").ZoneInfo(m.timezone)).date() == MON + timedelta(days=7)
    kinds = sorted(f.kind for f in db.session.scalars(db.select(FollowUp).where(FollowUp.user_id == m.id)))
    assert kinds == ["encouraged", "reported", "shared"]
    questions = [
        q.key
        for q in make.submit_debrief(
            task, {"learned": "Sales forecasts weekly.", "surprised": "x", "team_change": "y"}, at=later
        ).template.questions
    ]
    assert questions == ["learned", "surprised", "team_change"]
    core.mark_attendance(
        pairing.marketing_day.participations[0], m, False, pairing.marketing_day.starts_at + timedelta(hours=9)
    )
    assert pairing.status == "completed"


def test_follow_up_rules_and_weekly_nudges(make, now, mail):
    pairing, s, m = accepted(make, now)
    day = pairing.sales_day
    core.mark_attendance(day.participations[0], s, True, day.starts_at + timedelta(hours=10))
    db.session.commit()
    shared, encouraged, reported = sorted(
        db.session.scalars(db.select(FollowUp).where(FollowUp.user_id == m.id)), key=lambda f: f.kind != "shared"
    )[:3]
    at = day.ends_at + timedelta(days=2)
    with pytest.raises(ValidationFailed) as info:
        shadow.update_follow_up(shared, m, "done", None, "", "", at)
    assert set(info.value.errors) == {"done_on", "evidence"}
    with pytest.raises(NotAllowed):
        shadow.update_follow_up(shared, s, "done", MON, "Team meeting", "", at)
    shadow.update_follow_up(shared, m, "done", MON, "Team meeting on Tuesday", "", at)
    with pytest.raises(ValidationFailed):
        shadow.update_follow_up(encouraged, m, "dropped", None, "", "", at)
    db.session.commit()
    mail.clear()
    week1 = day.ends_at + timedelta(days=7, hours=1)
    assert dict(run_all(week1))["shadow follow-up nudges"] == 1
    assert dict(run_all(week1 + timedelta(hours=3)))["shadow follow-up nudges"] == 0
    db.session.commit()
    nudge = next(m for m in mail.wait_for("mia@example.com") if "follow-ups" in m["Subject"])
    assert "(2)" in nudge["Subject"] and "reported back" in body_text(nudge)
    assert dict(run_all(week1 + timedelta(days=7)))["shadow follow-up nudges"] == 1


@pytest.mark.parametrize(
    "who,visible",
    [
        ("sales", True),
        ("marketing", True),
        ("sales_boss", True),
        ("hr", True),
        ("admin", True),
        ("other_leader", False),
        ("staff", False),
    ],
)
def test_pairing_and_debrief_visibility(make, login, now, who, visible):
    boss = make.user(role="leader", department="Sales", name="Big Boss")
    pairing, s, m = accepted(make, now)
    s.manager = boss
    day = pairing.marketing_day  # Sam visits marketing; Sam writes this debrief
    core.mark_attendance(day.participations[0], m, True, day.starts_at + timedelta(hours=9))
    task = db.session.scalar(db.select(DebriefTask))
    make.submit_debrief(
        task, {"learned": "Marketing plans in sprints.", "surprised": "a", "team_change": "b"}, at=day.ends_at
    )
    m_boss = make.user(role="leader", department="Marketing", name="Mia's Boss")
    m.manager = m_boss
    viewer = {
        "sales": s,
        "marketing": m,
        "sales_boss": boss,
        "hr": make.user(role="hr", department=None),
        "admin": make.user(role="admin", department=None),
        "other_leader": make.user(role="leader", department="Sales"),
        "staff": make.marketer(),
    }[who]
    c = login(viewer)
    assert (c.get(f"/shadow-days/{pairing.id}").status_code == 200) is visible
    assert (c.get(f"/debriefs/task/{task.id}").status_code == 200) is visible
    if who == "marketing":  # the partner's manager sees the partner-hosted debrief too
        assert login(m_boss).get(f"/debriefs/task/{task.id}").status_code == 200


def test_pages_propose_answer_and_list(make, login, now):
    s, m = leaders(make)
    c = login(s)
    assert b"Mia Marketing" in c.get("/shadow-days/").data  # suggested
    bad = c.post(
        "/shadow-days/new",
        data={
            "sales_leader_id": s.id,
            "marketing_leader_id": m.id,
            "sales_day": "2026-11-28",
            "marketing_day": "2026-12-01",
            "note": "Keep me",
        },
    )
    assert bad.status_code == 422 and b"working day" in bad.data and b"Keep me" in bad.data
    ok = c.post(
        "/shadow-days/new",
        data={
            "sales_leader_id": s.id,
            "marketing_leader_id": m.id,
            "sales_day": "2026-11-30",
            "marketing_day": "2026-12-01",
        },
    )
    assert ok.status_code == 302
    pairing = db.session.scalar(db.select(ShadowPairing))
    mc = login(m)
    decline = mc.post(f"/shadow-days/{pairing.id}/answer", data={"answer": "decline", "reason": ""})
    assert decline.status_code == 422 and b"Say briefly why" in decline.data
    mc.post(f"/shadow-days/{pairing.id}/answer", data={"answer": "accept"})
    db.session.refresh(pairing)
    assert pairing.status == "accepted"
    page = mc.get(f"/shadow-days/{pairing.id}")
    assert b"Save agenda" in page.data
    mc.post(
        f"/shadow-days/{pairing.id}/days/{pairing.marketing_day_id}/agenda", data={"agenda": "Campaign stand-up at 9"}
    )
    assert b"Campaign stand-up at 9" in c.get(f"/shadow-days/{pairing.id}").data
    # Only the host writes the agenda.
    assert (
        c.post(f"/shadow-days/{pairing.id}/days/{pairing.marketing_day_id}/agenda", data={"agenda": "x"}).status_code
        == 404
    )
    hr = login(make.user(role="hr", department=None))
    assert b"Sam Sales" in hr.get("/shadow-days/?status=accepted&quarter=2026-Q4").data
    assert b"Sam Sales" not in hr.get("/shadow-days/?status=declined").data


def test_cancel_pairing_cancels_both_days(make, now, mail):
    pairing, s, m = accepted(make, now)
    db.session.commit()
    shadow.cancel_pairing(pairing, m, "Reorg", now)
    db.session.commit()
    assert pairing.status == "cancelled" and all(d.is_cancelled for d in pairing.days)
    cancels = [
        msg
        for msg in mail.wait_for("sam@example.com", 3)
        if calendar_part(msg) and calendar_part(msg).get_param("method") == "CANCEL"
    ]
    assert cancels


def test_shadow_days_cannot_be_booked_by_others(make, now):
    pairing, s, m = accepted(make, now)
    from program.activities.services import SeatUnavailable

    with pytest.raises(SeatUnavailable, match="by invitation"):
        core.book_seat(pairing.sales_day.id, make.marketer(), now)
