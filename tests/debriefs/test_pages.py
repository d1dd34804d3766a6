"""Debrief pages: the visibility matrix, the form keeping what was typed, drafts, HR status, reminders."""

from __future__ import annotations

from datetime import timedelta

import pytest

from program.debriefs.models import Debrief
from program.extensions import db
from program.jobs import run_all


def _setup(make):
    boss = make.user(role="leader", department="Marketing", name="Boss Person")
    rider = make.marketer(manager=boss, name="Rita Rider", email="rita@example.com")
    task = make.attended_task(rider)
    make.submit_debrief(task, {"learned": "Secret learning text"})
    db.session.commit()
    return task, rider, boss


@pytest.mark.parametrize(
    "who,visible",
    [
        ("author", True),
        ("manager", True),
        ("host", True),
        ("hr", True),
        ("admin", True),
        ("other_staff", False),
        ("other_leader", False),
        ("host_colleague", False),
    ],
)
def test_visibility_matrix(make, login, who, visible):
    task, rider, boss = _setup(make)
    viewer = {
        "author": rider,
        "manager": boss,
        "host": task.activity.host,
        "hr": make.user(role="hr", department=None),
        "admin": make.user(role="admin", department=None),
        "other_staff": make.marketer(),
        "other_leader": make.user(role="leader", department="Sales"),
        "host_colleague": make.user(department="Sales"),
    }[who]
    resp = login(viewer).get(f"/debriefs/task/{task.id}")
    if visible:
        assert resp.status_code == 200 and b"Secret learning text" in resp.data
    else:
        assert resp.status_code == 404 and b"Secret learning text" not in resp.data


def test_form_keeps_input_and_marks_the_question(make, login):
    rider = make.marketer()
    task = make.attended_task(rider)
    c = login(rider)
    page = c.get(f"/debriefs/task/{task.id}")
    assert page.status_code == 200 and b"Why is the customer buying" in page.data
    assert db.session.scalar(db.select(Debrief)) is None  # opening the form creates nothing
    from program.debriefs.services import current_template

    qs = {q.key: q for q in current_template("ride_along").questions}
    data = {f"q_{qs['learned'].id}": "Typed but not finished", f"q_{qs['lead_quality'].id}": "9", "action": "submit"}
    resp = c.post(f"/debriefs/task/{task.id}", data=data)
    assert resp.status_code == 422
    assert b"Typed but not finished" in resp.data
    assert b"Choose a rating from 1 to 5." in resp.data
    assert b"This question needs an answer before you submit." in resp.data  # why_buy
    db.session.expire_all()
    assert db.session.scalar(db.select(Debrief)) is None  # a refused first submit saves nothing; the page keeps it all


def test_draft_comes_back_and_submit_locks_after_48h(make, login, app, now):
    rider = make.marketer()
    task = make.attended_task(rider)
    c = login(rider)
    c.get(f"/debriefs/task/{task.id}")
    from program.debriefs.services import current_template

    qs = {q.key: q for q in current_template("ride_along").questions}
    saved = c.post(
        f"/debriefs/task/{task.id}",
        data={f"q_{qs['learned'].id}": "Half a thought", "action": "draft"},
        follow_redirects=True,
    )
    assert b"Draft saved" in saved.data and b"Half a thought" in saved.data
    codes = c.get(f"/debriefs/task/{task.id}").data
    assert b"Unknown / other" in codes
    from program.debriefs.models import ReasonCode

    # "Price" is both an objection and a loss reason: name the category, or the database picks either.
    code = db.session.execute(
        db.select(ReasonCode).where(ReasonCode.label == "Price", ReasonCode.category == qs["objections"].code_category)
    ).scalar_one()
    done = c.post(
        f"/debriefs/task/{task.id}",
        data={
            f"q_{qs['learned'].id}": "A whole thought",
            f"q_{qs['lead_quality'].id}": "3",
            f"q_{qs['why_buy'].id}_codes": "other",
            f"q_{qs['why_buy'].id}_other": "Board pressure",
            f"q_{qs['objections'].id}_codes": str(code.id),
            f"q_{qs['objections'].id}_words_{code.id}": "It costs too much",
            "action": "submit",
        },
        follow_redirects=True,
    )
    assert b"submitted" in done.data
    db.session.expire_all()
    assert db.session.scalar(db.select(Debrief)).state == "submitted"
    app.config["FIXED_NOW"] = now + timedelta(hours=49)
    view = c.get(f"/debriefs/task/{task.id}")
    assert b"It costs too much" in view.data and b"Board pressure" in view.data
    assert b"Submit debrief" not in view.data and b"Save changes" not in view.data  # read-only now


def test_my_tasks_and_hr_status(make, login, as_role, app, now):
    task, rider, _ = _setup(make)
    open_task = make.attended_task(make.marketer(name="Late Larry"))
    db.session.commit()
    assert b"Write the debrief" not in login(rider).get("/tasks").data
    assert b"Write the debrief" in login(open_task.user).get("/tasks").data
    hr, _ = as_role("hr")
    app.config["FIXED_NOW"] = now + timedelta(days=10)
    status = hr.get("/debriefs/status?state=overdue")
    assert b"Late Larry" in status.data and b"Rita Rider" not in status.data
    assert b"Rita Rider" in hr.get("/debriefs/status?state=submitted").data
    staff, _ = as_role("staff")
    assert staff.get("/debriefs/status").status_code == 404


def test_reminders_once_each_stage_with_manager_on_overdue(make, now, mail):
    boss = make.user(role="leader", department="Marketing", email="boss@example.com")
    rider = make.marketer(manager=boss, email="slow@example.com")
    task = make.attended_task(rider)
    db.session.commit()
    mail.clear()
    due = task.due_at
    for at in (
        due - timedelta(hours=30),
        due - timedelta(hours=29),
        due - timedelta(hours=5),
        due - timedelta(hours=4),
        due + timedelta(days=1),
        due + timedelta(days=2),
        due + timedelta(days=8),
    ):
        run_all(at)
        db.session.commit()
    subjects = [m["Subject"].split(":")[0] for m in mail.wait_for("slow@example.com", 4)]
    assert subjects == ["Debrief due tomorrow", "Debrief due today", "Overdue debrief", "Overdue debrief"]
    overdue = [m for m in mail.to("slow@example.com") if m["Subject"].startswith("Overdue")]
    assert all("boss@example.com" in (m["Cc"] or "") for m in overdue)
    make.submit_debrief(task, at=due + timedelta(days=9))
    db.session.commit()
    run_all(due + timedelta(days=15))
    db.session.commit()
    assert len(mail.to("slow@example.com")) == 4  # nothing after submission


def test_overdue_mail_says_the_manager_is_copied_only_when_one_is(make, now, mail):
    from tests.conftest import body_text

    boss = make.user(role="leader", department="Marketing", email="boss2@example.com")
    with_boss = make.attended_task(make.marketer(manager=boss, email="has.boss@example.com"))
    alone = make.attended_task(make.marketer(email="no.boss@example.com"))
    db.session.commit()
    run_all(max(with_boss.due_at, alone.due_at) + timedelta(days=1))
    db.session.commit()
    [copied] = [m for m in mail.wait_for("has.boss@example.com") if m["Subject"].startswith("Overdue")]
    [not_copied] = [m for m in mail.wait_for("no.boss@example.com") if m["Subject"].startswith("Overdue")]
    assert "manager is copied" in body_text(copied) and "boss2@example.com" in copied["Cc"]
    assert "manager is copied" not in body_text(not_copied) and not not_copied["Cc"]
